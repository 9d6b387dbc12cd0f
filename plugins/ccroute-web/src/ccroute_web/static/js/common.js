// Helpers shared by the widget, the desktop and the wallboard.
// Everything from the network is put on the page with textContent, never as HTML,
// so a customer's message or a CRM field cannot inject markup or script.

/** Create an element: el("li", {class: "msg"}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An error the server answered with (its JSON "error" text when it gave one). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Call the JSON API; throws ApiError with the server's message on a 4xx/5xx. */
export async function api(method, path, body) {
  // X-Requested-With: the server then answers 401 without a Basic challenge, which
  // would open the browser's own password dialog instead of the page's sign-in form.
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-Requested-With": "fetch" },
  };
  // Every POST carries a JSON body: the server refuses anything else (its CSRF defence).
  if (body === undefined && method === "POST") body = {};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!response.ok) {
    const detail = data && (data.error || data.detail || data.message);
    throw new ApiError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`);
  }
  return data;
}

/** "0:42", "12:05", "1:02:03" for a duration in seconds; "—" when unknown. */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** A wait said the way a customer reads it: "less than a minute", "about 4 minutes". */
export function humanWait(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return null;
  if (seconds < 60) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? "about 1 minute" : `about ${minutes} minutes`;
}

/** A percentage from a fraction (0.8 -> "80%"); "—" when there is nothing to measure yet. */
export function percent(fraction) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "—";
  return `${Math.round(fraction * 100)}%`;
}

/** Local time of day of a Unix time in seconds. */
export function timeOfDay(unixSeconds) {
  const date = unixSeconds ? new Date(unixSeconds * 1000) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The ws:// or wss:// URL of a path on this origin. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/**
 * A WebSocket that reconnects with backoff (0.5 s doubling to 5 s) until closed on purpose.
 * path is a string or a function giving the path for each (re)connection;
 * onOpen(send) runs on every (re)connection; onMessage(data) gets each parsed JSON message;
 * onState("open" | "reconnecting" | "closed", closeEvent) tells the page what to show.
 */
export function liveSocket(path, { onOpen, onMessage, onState, shouldReconnect = () => true }) {
  let socket = null;
  let delay = 500;
  let stopped = false;
  let timer = null;
  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  };
  const connect = () => {
    socket = new WebSocket(socketUrl(typeof path === "function" ? path() : path));
    socket.addEventListener("open", () => {
      delay = 500;
      onState?.("open");
      onOpen?.(send);
    });
    socket.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(data);
    });
    socket.addEventListener("close", (event) => {
      if (stopped || !shouldReconnect(event)) {
        onState?.("closed", event);
        return;
      }
      onState?.("reconnecting", event);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    });
  };
  connect();
  return {
    send,
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
    },
  };
}
