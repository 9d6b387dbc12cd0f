// The supervisor wallboard: per-queue figures and agents by state, pushed live by the
// server (server-sent events), coloured against each queue's service-level target.
import { api, ApiError, clock, el, liveSocket, percent } from "./common.js";

const API = { login: "/api/login", me: "/api/me", board: "/api/wallboard", live: "/ws/wallboard" };
const STATES = [
  ["idle", "Available"],
  ["busy", "Busy"],
  ["wrap-up", "Wrap-up"],
  ["not-ready", "Not ready"],
  ["offline", "Offline"],
];
const $ = (id) => document.getElementById(id);
let live = null;
let lastUpdate = null;

/** "good" at or above target, "near" within 10 points below, "bad" further below. */
function grade(level, target) {
  if (level === null || level === undefined || target === null || target === undefined) return "";
  if (level >= target) return "good";
  return level >= target - 0.1 ? "near" : "bad";
}

function figure(label, value, { cls = "", name = "", alert = false, note = null } = {}) {
  return el("div", { class: `figure${alert ? " alert" : ""}`, "data-figure": name || null },
    el("div", { class: "k", text: label }), el("div", { class: `v ${cls}`, text: value }),
    note ? el("div", { class: "note", text: note }) : null);
}

function renderAgents(states) {
  $("agents").replaceChildren(...STATES.map(([key, label]) => el("div", { class: `agent-state ${key}`, "data-state": key },
    el("span", { class: "k", text: label }), el("span", { class: "v", text: states?.[key] ?? 0 }))));
}

function renderQueue(q, intervalLabel) {
  const today = q.today || {};
  const interval = q.interval || {};
  const todayGrade = grade(today.service_level, q.target);
  const intervalGrade = grade(interval.service_level, q.target);
  return el("article", { class: `queue ${todayGrade}`, "data-queue": q.name, "aria-label": `Queue ${q.name}` },
    el("h2", {}, q.name, el("span", { class: "target", text: q.target !== null && q.target !== undefined
      ? `Target ${percent(q.target)} in ${Math.round(q.threshold ?? 0)} s` : "" })),
    el("div", { class: "top" },
      figure("Waiting", q.waiting ?? 0, { name: "waiting", alert: q.waiting > 0 }),
      figure("Longest wait", clock(q.longest_wait), {
        cls: q.longest_wait > (q.threshold ?? Infinity) ? "bad" : "", name: "longest-wait",
      }),
      figure("SL today", percent(today.service_level), { cls: todayGrade, name: "sl-today" }),
      figure(`SL ${intervalLabel}`, percent(interval.service_level), { cls: intervalGrade, name: "sl-interval" })),
    el("div", { class: "bottom" },
      figure("Offered", today.offered ?? 0, { name: "offered" }),
      figure("Answered", today.answered ?? 0, { name: "answered" }),
      // Short abandons (a few seconds) are left out of the service level: say how many.
      figure("Abandoned", today.abandoned ?? 0, {
        name: "abandoned", note: today.short_abandons ? `${today.short_abandons} short` : null,
      }),
      figure("Avg answer", clock(today.asa), { name: "asa" })),
    el("div", { class: "agents-line" },
      el("span", {}, "Agents logged in ", el("b", { text: q.agents?.logged_in ?? 0 })),
      el("span", {}, "available ", el("b", { text: q.agents?.available ?? 0 })),
      el("span", {}, "ringing ", el("b", { text: q.ringing ?? 0 })),
      el("span", {}, "callbacks scheduled ", el("b", { text: q.scheduled ?? 0 })),
      el("span", {}, "AHT ", el("b", { text: clock(today.aht) }))));
}

function hhmm(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

function render(board) {
  lastUpdate = Date.now();
  renderAgents(board.agents);
  const today = board.total?.today || {};
  const interval = board.total?.interval || {};
  const waiting = (board.queues || []).reduce((n, q) => n + (q.waiting || 0), 0);
  const intervalLabel = interval.start ? `since ${hhmm(interval.start)}` : "interval";
  $("totals").replaceChildren(
    ...[["Waiting", waiting, "waiting"], ["Offered", today.offered ?? 0, "offered"], ["Answered", today.answered ?? 0, "answered"],
      ["Abandoned", today.abandoned ?? 0, "abandoned"], ["SL today", percent(today.service_level), "sl-today"]].map(([k, v, name]) =>
      el("div", { class: "total", "data-total": name }, el("div", { class: "k", text: k }), el("div", { class: "v", text: v }))));
  const queues = board.queues || [];
  $("queues").replaceChildren(...(queues.length
    ? queues.map((q) => renderQueue(q, intervalLabel))
    : [el("p", { class: "empty-board", text: "No queues configured." })]));
}

function connect() {
  live?.close();
  live = liveSocket(API.live, {
    onMessage(msg) {
      if (msg.type === "wallboard") render(msg.wallboard);
    },
    onState(s, event) {
      const badge = $("connection");
      if (s === "open") {
        badge.textContent = "Live";
        badge.className = "badge live";
      } else if (s === "closed" && event && (event.code === 4401 || event.code === 4403 || event.code === 1008)) {
        showLogin("Your session has ended. Please sign in again.");
      } else {
        badge.textContent = "Reconnecting…";
        badge.className = "badge down";
      }
    },
    shouldReconnect: (event) => !(event.code >= 4000 && event.code < 5000) && event.code !== 1008,
  });
}

function showLogin(message) {
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
  $("user").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", API.login, { user: $("user").value.trim(), password: $("password").value });
    $("password").value = "";
    await start();
  } catch (e) {
    $("login-error").textContent = e instanceof ApiError && e.status === 401 ? "Wrong user name or password." : e.message;
    $("login-error").hidden = false;
  }
});

async function start() {
  let board;
  try {
    const me = await api("GET", API.me);
    if (me.role !== "supervisor") {
      showLogin(`${me.user} is not a supervisor: sign in with a supervisor's user name.`);
      return;
    }
    board = await api("GET", API.board);
  } catch (e) {
    showLogin(e instanceof ApiError && e.status === 401 ? null : e.message);
    return;
  }
  $("login").hidden = true;
  $("board").hidden = false;
  render(board);
  connect();
}

setInterval(() => {
  $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  if (lastUpdate) $("updated").textContent = `Updated ${Math.round((Date.now() - lastUpdate) / 1000)} s ago`;
}, 1000);

start();
