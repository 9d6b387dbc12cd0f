// The customer chat widget: start a chat, wait in line, talk to the agent.
// The resume token lives in sessionStorage, so a reload (same tab) comes back to the
// same conversation within the server's grace period; closing the tab forgets it and
// the server abandons a contact still waiting when the grace period ends.
// Protocol: docs/web.md, "The customer WebSocket".
import { el, humanWait, liveSocket, timeOfDay } from "./common.js";

const TOKEN_KEY = "ccroute.chat.resume";
const NAME_KEY = "ccroute.chat.name";

const $ = (id) => document.getElementById(id);
const startForm = $("start");
const conversation = $("conversation");
const transcript = $("transcript");
const status = $("status");
const composer = $("composer");
const messageBox = $("message");
const ended = $("ended");
const endButton = $("end");
const headline = $("headline");

let live = null;
let agentName = null;
let finished = false;
let pendingFirst = null; // {text, name} until the server welcomed a new conversation
const seen = new Set();

function spinner() {
  return el("span", { class: "spinner", "aria-hidden": "true" });
}

function setStatus(parts, warn = false) {
  status.replaceChildren(...parts);
  status.classList.toggle("warn", warn);
}

function addMessage(m) {
  if (m.seq !== undefined && m.seq !== null) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
  }
  const mine = m.from === "customer";
  const system = m.from === "system";
  const who = mine ? "You" : m.from === "bot" ? "Assistant" : agentName || "Agent";
  transcript.append(
    el("li", { class: `msg ${system ? "system" : mine ? "mine" : m.from === "bot" ? "bot" : "theirs"}` },
      el("span", { class: "bubble", text: m.text }),
      system ? null : el("span", { class: "meta", text: `${who} · ${timeOfDay(m.at)}` })),
  );
  transcript.scrollTop = transcript.scrollHeight;
}

function addNote(text) {
  addMessage({ from: "system", text });
}

function showQueued(position, wait) {
  const human = humanWait(wait);
  setStatus([spinner(), el("span", {},
    position ? el("strong", { class: "position", text: `You are number ${position} in line. ` }) : null,
    human ? `Estimated wait: ${human}.` : "An agent will be with you shortly.")]);
  headline.textContent = "Waiting for an agent…";
}

function showAnswered(name) {
  agentName = name || agentName || "Agent";
  $("widget-title").textContent = agentName;
  document.querySelector(".avatar").textContent = agentName.slice(0, 1).toUpperCase();
  headline.textContent = "is chatting with you";
  setStatus([]);
}

const CLOSED_TEXT = {
  completed: "The agent has closed this chat. Thank you for contacting us.",
  abandoned: "You left the chat.",
  "self-service": "Your request was resolved. Thank you.",
};

function finish(text) {
  finished = true;
  sessionStorage.removeItem(TOKEN_KEY);
  live?.close();
  live = null;
  endButton.hidden = true;
  composer.hidden = true;
  $("choices")?.remove();
  setStatus([]);
  $("ended-text").textContent = text;
  ended.hidden = false;
  headline.textContent = "Chat ended";
  $("again").focus();
}

function showChoices(choices) {
  $("choices")?.remove();
  if (!choices || !choices.length) return;
  const box = el("div", { id: "choices", class: "choices", role: "group", "aria-label": "Quick answers" },
    ...choices.map((choice) => el("button", {
      type: "button", class: "secondary", text: choice,
      onclick: () => { send(choice); box.remove(); },
    })));
  composer.before(box);
}

function onMessage(data) {
  switch (data.type) {
    case "welcome":
      sessionStorage.setItem(TOKEN_KEY, data.resume);
      for (const m of data.transcript || []) addMessage(m);
      if (data.state === "closed") finish("This chat has ended.");
      else if (data.state === "new" && pendingFirst) {
        live.send({ type: "message", ...pendingFirst });
        pendingFirst = null;
        setStatus([spinner(), el("span", { text: "Finding an agent for you…" })]);
      } else if (data.state === "connected") setStatus([]);
      else if (data.state !== "new") setStatus([spinner(), el("span", { text: "Reconnected. Waiting for an agent…" })]);
      break;
    case "queued":
      showQueued(data.position, data.estimated_wait);
      break;
    case "answered":
      showAnswered(data.agent);
      addNote(`${agentName} joined the chat.`);
      break;
    case "message":
      if (data.message?.from === "agent" && data.message.agent && !agentName) showAnswered(data.message.agent);
      addMessage(data.message);
      break;
    case "prompt":
      addMessage(data.message || { from: "bot", text: data.text, at: null });
      showChoices(data.choices);
      messageBox.classList.toggle("sensitive", Boolean(data.sensitive));
      messageBox.placeholder = data.sensitive ? "Your answer is kept private" : "Type a message…";
      break;
    case "closed": {
      const reason = String(data.reason || "");
      finish(CLOSED_TEXT[reason] || (reason.startsWith("timed out")
        ? "Sorry, no agent was free in time. Please try again later."
        : "This chat has ended."));
      break;
    }
    case "error":
      setStatus([el("span", { text: data.error || "Your message was not accepted." })], true);
      break;
    default:
      break;
  }
}

function open() {
  live = liveSocket(() => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? `/ws/chat?resume=${encodeURIComponent(token)}` : "/ws/chat";
  }, {
    onMessage,
    onState(state, event) {
      if (finished) return;
      if (state === "reconnecting") {
        setStatus([spinner(), el("span", { text: "Connection lost. Reconnecting…" })], true);
      } else if (state === "closed" && event?.code === 4404) {
        // The server no longer knows the conversation (the grace period passed).
        finish("This chat has ended. You can start a new one.");
      } else if (state === "closed") {
        finish("This chat has ended.");
      }
    },
    // 1000: the server closed the conversation; 4000-4999: it refused on purpose.
    shouldReconnect: (event) => !finished && event.code !== 1000 && !(event.code >= 4000 && event.code < 5000),
  });
}

function enterConversation() {
  startForm.hidden = true;
  conversation.hidden = false;
  endButton.hidden = false;
  messageBox.focus();
}

function send(text) {
  if (!live || !live.send({ type: "message", text })) {
    setStatus([el("span", { text: "Not connected: your message was not sent." })], true);
    return false;
  }
  return true; // the server echoes it with its seq; it is shown then, once
}

startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  const text = $("first").value.trim();
  const error = $("start-error");
  if (!name || !text) {
    error.textContent = !name ? "Please tell us your name." : "Please write your question.";
    error.hidden = false;
    (!name ? $("name") : $("first")).focus();
    return;
  }
  error.hidden = true;
  sessionStorage.setItem(NAME_KEY, name);
  sessionStorage.removeItem(TOKEN_KEY);
  pendingFirst = { text, name };
  enterConversation();
  setStatus([spinner(), el("span", { text: "Connecting…" })]);
  open();
});

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = messageBox.value.trim();
  if (text && send(text)) {
    messageBox.value = "";
    messageBox.classList.remove("sensitive");
    $("choices")?.remove();
  }
});

messageBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

endButton.addEventListener("click", () => {
  live?.send({ type: "leave" });
  finish("You left the chat.");
});

$("again").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

if (sessionStorage.getItem(TOKEN_KEY)) {
  // A reload in the same tab: resume where the customer was.
  enterConversation();
  setStatus([spinner(), el("span", { text: "Reconnecting…" })]);
  open();
} else {
  $("name").value = sessionStorage.getItem(NAME_KEY) || "";
}
