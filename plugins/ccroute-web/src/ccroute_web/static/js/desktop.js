// The agent desktop: sign in, presence, live offers with the screen pop, several
// chats at once (one tab each), wrap-up with a disposition, own statistics.
import { api, ApiError, clock, el, liveSocket, percent, timeOfDay } from "./common.js";

const API = {
  login: "/api/login",
  logout: "/api/logout",
  me: "/api/me",
  agent: "/api/agent",
  presence: "/api/agent/presence",
  stats: "/api/agent/stats",
  accept: (id) => `/api/agent/offers/${encodeURIComponent(id)}/accept`,
  reject: (id) => `/api/agent/offers/${encodeURIComponent(id)}/reject`,
  message: (id) => `/api/agent/contacts/${encodeURIComponent(id)}/messages`,
  complete: (id) => `/api/agent/contacts/${encodeURIComponent(id)}/complete`,
  wrapUp: (id) => `/api/agent/contacts/${encodeURIComponent(id)}/wrap-up`,
  live: "/ws/agent",
};

const $ = (id) => document.getElementById(id);
const STATE_TEXT = { idle: "Available", available: "Available", busy: "Busy", "wrap-up": "Wrap-up", "not-ready": "Not ready", offline: "Offline" };

/** Everything the desktop knows, rebuilt from the server's snapshot on every (re)connection. */
const state = {
  agent: null,
  offers: new Map(), // contact id -> offer
  chats: new Map(), // contact id -> chat
  selected: null,
  live: null,
  clockOffset: 0, // server time - local time, seconds
};

const now = () => Date.now() / 1000 + state.clockOffset;

function banner(text, kind = "error") {
  const node = $("banner");
  node.textContent = text || "";
  node.className = `banner ${kind === "info" ? "info" : ""}`;
  node.hidden = !text;
}

async function act(work) {
  try {
    banner(null);
    return await work();
  } catch (error) {
    banner(error instanceof ApiError ? error.message : `Network problem: ${error.message}`);
    return undefined;
  }
}

// ---- sign in / out ----------------------------------------------------------------

function showLogin(message) {
  state.live?.close();
  state.live = null;
  $("app").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("user").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = $("user").value.trim();
  const password = $("password").value;
  const error = $("login-error");
  if (!user || !password) {
    error.textContent = "Enter your user name and password.";
    error.hidden = false;
    return;
  }
  $("login-button").disabled = true;
  try {
    await api("POST", API.login, { user, password });
    $("password").value = "";
    await start();
  } catch (e) {
    error.textContent = e instanceof ApiError && e.status === 401 ? "Wrong user name or password." : e.message;
    error.hidden = false;
  } finally {
    $("login-button").disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await act(() => api("POST", API.logout));
  showLogin(null);
});

async function start() {
  let me;
  let agent;
  try {
    me = await api("GET", API.me);
    if (me.role !== "agent") {
      showLogin(`${me.user} is not an agent: sign in with an agent's user name.`);
      return;
    }
    agent = await api("GET", API.agent);
  } catch (e) {
    showLogin(e instanceof ApiError && e.status === 401 ? null : e.message);
    return;
  }
  state.me = me;
  applyState(agent);
  $("login").hidden = true;
  $("app").hidden = false;
  connect();
  refreshStats();
}

async function refreshStats() {
  try {
    applyStats(await api("GET", API.stats));
  } catch {
    /* the figures stay as they were; the next change brings them */
  }
}

function connect() {
  state.live?.close();
  state.live = liveSocket(API.live, {
    onMessage: onLive,
    onState(s, event) {
      if (s === "reconnecting") banner("Connection to the server lost. Reconnecting…", "info");
      else if (s === "open") banner(null);
      else if (s === "closed" && event && event.code === 4401) showLogin("Your session has ended. Please sign in again.");
    },
    shouldReconnect: (event) => event.code !== 4401 && event.code !== 4403,
  });
}

// ---- the live channel -------------------------------------------------------------

function onLive(msg) {
  switch (msg.type) {
    case "state":
      applyState(msg.state);
      break;
    case "offer":
      state.offers.set(msg.offer.contact_id, msg.offer);
      renderOffers();
      break;
    case "offer_gone":
      state.offers.delete(msg.contact_id);
      renderOffers();
      if (msg.reason === "timed-out") banner("An offer timed out and was passed on.", "info");
      else if (msg.reason === "abandoned") banner("A customer left before the offer was answered.", "info");
      break;
    case "message": {
      // A customer may write more while the offer rings: the preview shows it.
      const offer = state.offers.get(msg.contact_id);
      if (offer && !state.chats.has(msg.contact_id)) {
        offer.transcript = offer.transcript || [];
        if (!offer.transcript.some((m) => m.seq === msg.message.seq)) offer.transcript.push(msg.message);
        renderPreview();
      }
      addChatMessage(msg.contact_id, msg.message);
      break;
    }
    case "customer": {
      const chat = state.chats.get(msg.contact_id);
      if (chat && chat.connected !== msg.connected) {
        chat.connected = msg.connected;
        addChatMessage(msg.contact_id, { from: "system", text: msg.connected ? "The customer is back." : "The customer left the chat." });
        renderPane(chat);
        renderTabs();
      }
      break;
    }
    case "contact_ended":
      dropChat(msg.contact_id);
      renderTabs();
      refreshStats();
      break;
    case "stats":
      applyStats(msg.stats);
      break;
    default:
      break;
  }
}

/** A whole AgentState: the agent, its open offers and its conversations. */
function applyState(s) {
  if (!s) return;
  applyAgent(s);
  state.offers.clear();
  for (const offer of s.offers || []) state.offers.set(offer.contact_id, offer);
  const ids = new Set();
  for (const contact of s.contacts || []) {
    if (contact.state === "ended") continue;
    ids.add(contact.contact_id);
    upsertChat(contact);
  }
  for (const id of [...state.chats.keys()]) if (!ids.has(id)) dropChat(id);
  renderOffers();
  renderTabs();
}

// ---- agent, presence, statistics ----------------------------------------------------

function applyAgent(agent) {
  if (!agent) return;
  state.agent = { ...state.agent, ...agent };
  const a = state.agent;
  $("agent-name").textContent = a.name || a.agent_id;
  const status = a.status || a.presence;
  $("status-badge").className = `badge state-${status}`;
  $("status-text").textContent = STATE_TEXT[status] || status;
  $("presence").value = a.presence;
  $("reason").hidden = a.presence !== "not-ready";
  if (a.reason && [...$("reason").options].some((o) => o.value === a.reason)) $("reason").value = a.reason;
  if (!state.chats.size && !state.offers.size) renderPreview();
  renderCapacity();
}

function applyStats(stats) {
  const f = (stats && (stats.today || stats.total)) || {};
  $("stat-handled").textContent = f.handled ?? 0;
  $("stat-aht").textContent = f.aht === null || f.aht === undefined ? "—" : clock(f.aht);
  $("stat-accepted").textContent = f.offers ? `${f.accepted}/${f.offers}` : "—";
  $("stat-occupancy").textContent = percent(f.occupancy);
}

async function setPresence() {
  const presence = $("presence").value;
  $("reason").hidden = presence !== "not-ready";
  const body = presence === "not-ready" ? { presence, reason: $("reason").value } : { presence };
  const result = await act(() => api("POST", API.presence, body));
  if (result) applyState(result);
  else if (state.agent) $("presence").value = state.agent.presence; // refused: show what is true
}
$("presence").addEventListener("change", setPresence);
$("reason").addEventListener("change", setPresence);

function renderCapacity() {
  const a = state.agent;
  const active = [...state.chats.values()].filter((c) => c.state !== "finished").length;
  const cap = a && a.capacity ? a.capacity.chat : undefined;
  $("capacity").textContent = cap ? `${active} / ${cap}` : String(active);
}

// ---- offers -------------------------------------------------------------------------

function customerName(c) {
  return c.customer_name || c.attributes?.name || c.profile?.name || c.customer_id || "Customer";
}

function firstMessage(c) {
  const first = (c.transcript || []).find((m) => m.from === "customer");
  return first ? first.text : c.attributes?.subject || null;
}

function factList(offer) {
  const facts = [];
  const profile = offer.profile || {};
  const segment = profile.tier || profile.segment || (profile.vip ? "VIP" : null);
  if (segment) facts.push(`${segment} customer`);
  const history = offer.history || [];
  facts.push(history.length ? `${history.length} earlier contact${history.length > 1 ? "s" : ""}` : "First contact");
  if (offer.intent) facts.push(`Intent: ${offer.intent}`);
  return facts;
}

function renderOffers() {
  const box = $("offers");
  const keep = new Set(state.offers.keys());
  for (const card of [...box.children]) {
    if (!keep.has(card.dataset.contact)) card.remove();
  }
  for (const offer of state.offers.values()) {
    if (box.querySelector(`[data-contact="${CSS.escape(offer.contact_id)}"]`)) continue;
    const name = customerName(offer);
    const first = firstMessage(offer);
    const accept = el("button", { type: "button", class: "success", text: "Accept" });
    const reject = el("button", { type: "button", class: "secondary", text: "Reject" });
    const bar = el("span", { style: "width:100%" });
    const countdownText = el("span", { class: "countdown-text" });
    const card = el("article", { class: "offer", dataset: { contact: offer.contact_id }, "aria-label": `Offer: ${name}` },
      el("h4", { text: name }),
      el("p", { class: "sub", text: `${offer.channel} · ${offer.queue}` }),
      first ? el("p", { class: "first", text: first }) : null,
      el("ul", { class: "facts" }, ...factList(offer).map((f) => el("li", { text: f }))),
      offer.expires_at ? el("div", { class: "countdown", role: "presentation" }, bar) : null,
      el("div", { class: "buttons" }, accept, reject),
      offer.expires_at ? countdownText : null,
    );
    accept.addEventListener("click", async () => {
      accept.disabled = reject.disabled = true;
      const result = await act(() => api("POST", API.accept(offer.contact_id)));
      state.offers.delete(offer.contact_id);
      renderOffers();
      if (result) {
        upsertChat({ ...offer, ...result });
        refreshStats();
        select(offer.contact_id);
        state.chats.get(offer.contact_id)?.pane.querySelector(".composer textarea").focus();
      }
    });
    reject.addEventListener("click", async () => {
      accept.disabled = reject.disabled = true;
      await act(() => api("POST", API.reject(offer.contact_id)));
      state.offers.delete(offer.contact_id);
      renderOffers();
    });
    box.append(card);
    // Keyboard users land on Accept, unless they are typing (Enter must not accept).
    if (!document.activeElement?.matches("input, textarea, select")) accept.focus();
    if (offer.expires_at) {
      const total = Math.max(1, offer.expires_at - (offer.offered_at ?? now()));
      const tick = () => {
        if (!card.isConnected) return;
        const left = offer.expires_at - now();
        bar.style.width = `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
        card.querySelector(".countdown").classList.toggle("late", left < 5);
        countdownText.textContent = left > 0 ? `Answer within ${Math.ceil(left)} s` : "Time is up";
        if (left > -1) setTimeout(tick, 250);
      };
      tick();
    }
  }
  $("no-offers").hidden = state.offers.size > 0;
  renderPreview();
}

// ---- conversations ------------------------------------------------------------------

/** Add or refresh a conversation (a Conversation, or an accepted Offer merged with it). */
function upsertChat(contact) {
  const id = contact.contact_id;
  let chat = state.chats.get(id);
  if (!chat) {
    chat = { id, contact: {}, messages: [], seen: new Set(), unread: 0, pane: null, connected: true };
    state.chats.set(id, chat);
    buildPane(chat);
  }
  // The screen pop comes with the offer; keep it when a later Conversation lacks it.
  chat.contact = { ...chat.contact, ...Object.fromEntries(Object.entries(contact).filter(([, v]) => v !== undefined)) };
  chat.name = customerName(chat.contact);
  chat.state = contact.state || chat.state || "in-service";
  if (contact.customer_connected !== undefined) chat.connected = contact.customer_connected;
  chat.answeredAt = contact.accepted_at ?? chat.answeredAt ?? now();
  for (const m of contact.transcript || []) addChatMessage(id, m, false);
  renderPane(chat);
  renderCapacity();
  if (!state.selected) select(id);
  return chat;
}

function dropChat(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  chat.pane.remove();
  state.chats.delete(id);
  if (state.selected === id) {
    state.selected = null;
    const next = state.chats.keys().next();
    if (!next.done) select(next.value);
  }
  $("placeholder").hidden = state.chats.size > 0;
  renderCapacity();
}

function buildPane(chat) {
  const pane = $("pane-template").content.firstElementChild.cloneNode(true);
  pane.id = `pane-${chat.id}`;
  pane.hidden = true;
  const textarea = pane.querySelector(".composer textarea");
  textarea.id = `reply-${chat.id}`;
  pane.querySelector(".composer label").htmlFor = textarea.id;
  const disposition = pane.querySelector(".disposition");
  disposition.id = `disposition-${chat.id}`;
  disposition.previousElementSibling.htmlFor = disposition.id;

  pane.querySelector(".composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text) return;
    textarea.value = "";
    const result = await act(() => api("POST", API.message(chat.id), { text }));
    if (result === undefined) textarea.value = text; // refused: keep what was typed
    else addChatMessage(chat.id, result);
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      pane.querySelector(".composer").requestSubmit();
    }
  });
  pane.querySelector(".complete").addEventListener("click", async () => {
    const result = await act(() => api("POST", API.complete(chat.id), { disposition: null }));
    if (result === undefined) return;
    if (result.state === "ended") {
      dropChat(chat.id); // no wrap-up time in this queue
      renderTabs();
      refreshStats();
      return;
    }
    chat.wrapStarted = now();
    upsertChat(result);
    renderTabs();
    disposition.focus();
  });
  pane.querySelector(".wrapup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = pane.querySelector(".wrapup-error");
    if (chat.contact.disposition_required && !disposition.value) {
      error.textContent = "Choose a disposition.";
      error.hidden = false;
      return;
    }
    error.hidden = true;
    const result = await act(() => api("POST", API.wrapUp(chat.id), { disposition: disposition.value || null }));
    if (result !== undefined) {
      dropChat(chat.id);
      renderTabs();
      refreshStats();
    }
  });
  chat.pane = pane;
  $("panes").append(pane);
  $("placeholder").hidden = true;
}

function renderPane(chat) {
  const pane = chat.pane;
  const c = chat.contact;
  pane.querySelector(".pane-title").textContent = chat.name;
  pane.querySelector(".pane-sub").textContent = [c.channel, c.queue, c.customer_id && `customer ${c.customer_id}`, !chat.connected && "customer disconnected"].filter(Boolean).join(" · ");
  const wrap = chat.state === "wrap-up";
  pane.querySelector(".composer").hidden = wrap;
  pane.querySelector(".complete").hidden = wrap;
  pane.querySelector(".wrapup").hidden = !wrap;
  const select = pane.querySelector(".disposition");
  const codes = c.dispositions || [];
  if (select.dataset.codes !== codes.join("\n")) {
    select.dataset.codes = codes.join("\n");
    const optional = c.disposition_required ? "Choose…" : "None";
    select.replaceChildren(el("option", { value: "", text: codes.length ? optional : "No codes for this queue" }),
      ...codes.map((d) => el("option", { value: d, text: d })));
    select.required = Boolean(c.disposition_required);
    select.disabled = codes.length === 0;
  }
  renderContext(chat);
  renderTimer(chat);
}

function addChatMessage(id, m, render = true) {
  const chat = state.chats.get(id);
  if (!chat || !m) return;
  if (m.seq !== undefined && m.seq !== null) {
    if (chat.seen.has(m.seq)) return;
    chat.seen.add(m.seq);
  }
  chat.messages.push(m);
  const mine = m.from === "agent";
  const list = chat.pane.querySelector(".transcript");
  list.append(messageItem(m, chat.name));
  list.scrollTop = list.scrollHeight;
  if (!mine && state.selected !== id) chat.unread += 1;
  chat.last = m.text;
  if (render) renderTabs();
}

/** One message of a transcript as the agent sees it: the customer's, the bot's, its own. */
function messageItem(m, customer) {
  const kind = { agent: "mine", customer: "theirs", bot: "bot" }[m.from] || "system";
  const who = { agent: "You", customer, bot: "Assistant" }[m.from];
  return el("li", { class: `msg ${kind}` },
    el("span", { class: "bubble", text: m.text }),
    who ? el("span", { class: "meta", text: `${who} · ${timeOfDay(m.at)}` }) : null);
}

function renderTabs() {
  const tabs = $("tabs");
  const chats = [...state.chats.values()];
  tabs.replaceChildren(...chats.map((chat) => {
    const selected = state.selected === chat.id;
    const stateText = chat.state === "wrap-up" ? "Wrap-up" : chat.connected ? "Active" : "Customer left";
    const tab = el("button", {
      type: "button", role: "tab", class: "tab", id: `tab-${chat.id}`,
      "aria-selected": selected ? "true" : "false", "aria-controls": `pane-${chat.id}`, tabindex: selected ? "0" : "-1",
    },
      el("span", { class: "tab-name" }, chat.name, chat.unread ? el("span", { class: "unread", "aria-label": `${chat.unread} unread`, text: chat.unread }) : null),
      el("span", { class: `tab-state state-${chat.state === "wrap-up" ? "wrap-up" : "busy"}`, text: stateText }),
      el("span", { class: "tab-last", text: chat.last || "" }));
    tab.addEventListener("click", () => select(chat.id));
    tab.addEventListener("keydown", (event) => {
      const i = chats.indexOf(chat);
      const move = { ArrowDown: 1, ArrowUp: -1 }[event.key];
      if (move) {
        event.preventDefault();
        const next = chats[(i + move + chats.length) % chats.length];
        select(next.id);
        $(`tab-${next.id}`)?.focus();
      }
    });
    return tab;
  }));
  $("no-chats").hidden = chats.length > 0;
  renderCapacity();
}

function select(id) {
  state.selected = id;
  for (const chat of state.chats.values()) {
    chat.pane.hidden = chat.id !== id;
    if (chat.id === id) {
      chat.unread = 0;
      chat.pane.setAttribute("aria-labelledby", `tab-${id}`);
    }
  }
  renderTabs();
}

// ---- the screen pop -----------------------------------------------------------------

function pairs(object) {
  return Object.entries(object || {}).filter(([, v]) => v !== null && v !== undefined && typeof v !== "object");
}

function definitionList(entries) {
  return el("dl", {}, ...entries.flatMap(([k, v]) => {
    const text = String(v);
    const label = k.replaceAll("_", " ");
    return [el("dt", { text: label.charAt(0).toUpperCase() + label.slice(1) }), el("dd", { class: /^\*+|\*{3,}|•{3,}/.test(text) ? "masked" : null, text })];
  }));
}

function renderContext(chat) {
  chat.pane.querySelector(".context").replaceChildren(...contextSections(chat.contact));
}

/** The screen pop of a contact (an offer or a conversation): profile, answers, details, history. */
function contextSections(c) {
  const sections = [];
  const profile = c.profile || {};
  if (pairs(profile).length) {
    sections.push(el("section", {}, el("h3", { text: "Customer" }), definitionList(pairs(profile))));
  } else {
    sections.push(el("section", {}, el("h3", { text: "Customer" }), el("p", { class: "empty", text: "No customer record." })));
  }
  const ivr = c.ivr || {};
  const answers = ivr.answers && typeof ivr.answers === "object" ? ivr.answers : ivr;
  if (pairs(answers).length || c.intent) {
    sections.push(el("section", {}, el("h3", { text: "Answers before the chat" }),
      definitionList([...(c.intent ? [["intent", c.intent]] : []), ...pairs(answers)])));
  }
  const attributes = pairs(c.attributes).filter(([k]) => k !== "ivr" && k !== "name");
  if (attributes.length) {
    sections.push(el("section", {}, el("h3", { text: "Contact details" }), definitionList(attributes)));
  }
  const history = c.history || [];
  sections.push(el("section", {}, el("h3", { text: `History (${history.length})` }),
    history.length
      ? el("ul", { class: "history" }, ...history.slice(0, 10).map((h) => el("li", {},
        el("div", { class: "when", text: [h.arrived_at && new Date(h.arrived_at * 1000).toLocaleDateString(), h.channel, h.queue].filter(Boolean).join(" · ") }),
        el("div", { text: [h.outcome, h.disposition, h.agent_id && `with ${h.agent_id}`].filter(Boolean).join(" · ") }))))
      : el("p", { class: "empty", text: "First contact." })));
  return sections;
}

/** What an empty desktop says, by presence. */
function idleText() {
  const presence = state.agent?.presence;
  if (presence === "available") return "You are available: new chats are offered here.";
  if (presence === "not-ready") return "You are not ready: set yourself Available to receive chats.";
  return "Set yourself Available to receive chats.";
}

/** With no conversation open, the main area previews the oldest offer: its messages and screen pop. */
function renderPreview() {
  const box = $("placeholder");
  const offer = state.offers.values().next().value;
  if (!offer) {
    box.replaceChildren(el("p", { class: "placeholder-text", text: idleText() }));
    return;
  }
  const transcript = el("ol", { class: "transcript", "aria-label": "Messages so far" },
    ...(offer.transcript || []).map((m) => messageItem(m, customerName(offer))));
  box.replaceChildren(el("div", { class: "preview" },
    el("div", { class: "preview-chat" },
      el("header", { class: "pane-head" }, el("div", {},
        el("h2", { text: `Incoming ${offer.channel}: ${customerName(offer)}` }),
        el("p", { class: "pane-sub", text: `${offer.queue} · accept it in the Offers list to start` }))),
      transcript),
    el("aside", { class: "context", "aria-label": "Customer context of the offer" }, ...contextSections(offer))));
}

/** The handle-time badge of a conversation (ticks once a second). */
function renderTimer(chat) {
  const badge = chat.pane.querySelector(".handle-time");
  badge.textContent = chat.state === "wrap-up"
    ? `Wrap-up ${clock(now() - (chat.wrapStarted || now()))}`
    : `Handling ${clock(now() - chat.answeredAt)}`;
}
setInterval(() => {
  for (const chat of state.chats.values()) renderTimer(chat);
}, 1000);

start();
