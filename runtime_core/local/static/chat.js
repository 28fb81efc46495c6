// MozaiksAI reference chat client: one session over the WebSocket protocol, no framework, no build step.
//
// The protocol in four rules (docs/websocket-protocol.md has the details):
//   1. Authenticate at connect time: the JWT goes in the "mozaiks.jwt" subprotocol (or ?token=).
//   2. A server post is one message, a {"type":"batch"} of messages, or one {"type":"chunk"} of a large message.
//   3. A message with a "seq" is a session event (numbered 1, 2, 3 ... per session, stored by the server);
//      one without "seq" is a control reply to a frame we sent (ack, pong, error).
//   4. After a dropped connection, reconnect and send {"type":"resume", after_seq: <last seq seen>}: the server
//      replays what we missed, then the session continues live. Events may arrive twice: drop seen seqs.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const $ = (id) => document.getElementById(id);

const state = {
  socket: null,
  sessionId: null,
  lastSeq: 0,            // highest seq with nothing missing before it: what resume continues after
  ahead: new Map(),      // events that arrived past a gap, held until the gap fills
  chunks: [],            // data of the chunked message being reassembled
  pendingStart: null,    // msg_id of our start frame, until its ack brings the session id
  early: [],             // events that arrived before that ack
  request: null,         // the input_request we are answering, if any
  retries: 0,
  everOpened: false,
};

// ---- connection ------------------------------------------------------------------------------------------

function connect() {
  setStatus(state.retries ? "reconnecting" : "connecting");
  // Browsers cannot set headers on a WebSocket: offer the token as a second subprotocol. The server echoes
  // "mozaiks.jwt" (never the token) or the browser drops the socket.
  const socket = new WebSocket(wsUrl, ["mozaiks.jwt", token]);
  state.socket = socket;
  socket.onopen = () => {
    state.retries = 0;
    state.everOpened = true;
    setStatus("online");
    hideNotice();
    // A new connection knows nothing of our session: ask for everything after the last event we have.
    if (state.sessionId) resume();
  };
  socket.onmessage = (message) => onPost(message.data);
  socket.onclose = () => {
    if (state.socket !== socket) return;
    state.socket = null;
    setStatus("offline");
    if (!state.everOpened) {
      // A refused $connect (bad or missing token) looks like any failed connection to a browser.
      showNotice("Cannot connect. Is the server running, and is ?token= in the page URL valid?");
    }
    // Back off: 0.5 s, 1 s, 2 s ... up to 15 s. Idle connections also close (10 minutes in AWS).
    const delay = Math.min(15000, 500 * 2 ** state.retries++);
    setTimeout(connect, delay);
  };
}

function send(frame) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
    showNotice("Not connected; try again in a moment.");
    return false;
  }
  state.socket.send(JSON.stringify(frame));
  return true;
}

function resume() {
  send({ type: "resume", session_id: state.sessionId, after_seq: state.lastSeq });
}

function newMsgId() {
  const random = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
  return `m-${random}`;
}

// ---- posts -> messages (rule 2) -----------------------------------------------------------------------

function onPost(raw) {
  deliverPost(JSON.parse(raw));
}

function deliverPost(post) {
  if (post.type === "batch") {
    post.messages.forEach(deliverPost);
    return;
  }
  if (post.type !== "chunk") {
    onMessage(post);
    return;
  }
  // A chunk carries a slice of one message's JSON text. Part 0 again means the server restarted the sequence.
  if (post.part === 0) state.chunks = [];
  state.chunks.push(post.data);
  if (state.chunks.length === post.parts) {
    const text = state.chunks.join("");
    state.chunks = [];
    onMessage(JSON.parse(text));
  }
}

// ---- messages -> events in order (rule 3) -------------------------------------------------------------

function onMessage(message) {
  if (typeof message.seq !== "number") {
    onReply(message);
    return;
  }
  if (message.session_id !== state.sessionId) {
    // The first events of a new session can overtake the ack that names it: hold them until the ack.
    if (state.pendingStart) state.early.push(message);
    return;
  }
  if (message.seq <= state.lastSeq || state.ahead.has(message.seq)) return; // seen already: a replay overlap
  state.ahead.set(message.seq, message);
  while (state.ahead.has(state.lastSeq + 1)) {
    const event = state.ahead.get(state.lastSeq + 1);
    state.ahead.delete(event.seq);
    state.lastSeq = event.seq;
    render(event);
  }
  if (state.ahead.size) {
    // Something is missing before what we hold. Usually it is in flight; if not, ask again (rule 4).
    const gapAt = state.lastSeq;
    setTimeout(() => { if (state.lastSeq === gapAt && state.ahead.size) resume(); }, 2000);
  }
}

function onReply(reply) {
  if (reply.type === "ack" && reply.msg_id && reply.msg_id === state.pendingStart) {
    state.pendingStart = null;
    openSession(reply.session_id);
  } else if (reply.type === "error") {
    showNotice(`${reply.code}: ${reply.message}`);
  } else if (reply.message === "Internal server error") {
    showNotice("The server failed to handle a frame (see its log).");
  }
}

function openSession(sessionId) {
  state.sessionId = sessionId;
  state.lastSeq = 0;
  state.ahead.clear();
  // Keep the session in the URL: a reload resumes it from seq 0 and replays the whole transcript.
  history.replaceState(null, "", `${location.pathname}${location.search}#session=${sessionId}`);
  $("session").textContent = `session ${sessionId}`;
  const early = state.early;
  state.early = [];
  early.forEach(onMessage);
}

// ---- rendering ----------------------------------------------------------------------------------------

function line(event, who, text, extraClass) {
  const div = document.createElement("div");
  div.className = `event ${event.type} ${extraClass || ""}`;
  div.dataset.seq = event.seq;
  if (who) {
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    div.appendChild(name);
  }
  const bubble = document.createElement("span");
  bubble.className = ["agent_message", "user_message"].includes(event.type) ? "bubble" : "";
  bubble.textContent = text;
  div.appendChild(bubble);
  $("transcript").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function render(event) {
  switch (event.type) {
    case "run_started":
      line(event, "", `Run of ${event.workflow} started: ${event.agents.join(", ")}`);
      break;
    case "user_message":
      line(event, "You", event.text);
      closeRequest();
      break;
    case "speaker_selected":
      break; // the next agent_message names its speaker; nothing to show
    case "agent_message":
      line(event, event.agent, event.content);
      break;
    case "tool_call":
      line(event, event.agent, `calls ${event.ui ? "UI tool" : "tool"} ${event.call.name}(${event.call.arguments})`);
      break;
    case "tool_result":
      line(event, "", `${event.name} → ${event.content}`, event.is_error ? "error" : "");
      break;
    case "handoff":
      line(event, "", `handoff: ${event.from_agent} → ${event.to}`);
      break;
    case "structured_output": {
      const div = line(event, event.agent, `${event.model}:`);
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(event.data, null, 2);
      div.appendChild(pre);
      break;
    }
    case "input_request":
      openRequest(event.request);
      break;
    case "usage":
      $("usage").textContent = `Usage: ${event.total_prompt_tokens} prompt + ${event.total_completion_tokens} ` +
        `completion tokens, $${event.total_cost.toFixed(6)}`;
      break;
    case "run_completed":
      line(event, "", `Run ${event.status}${event.reason ? `: ${event.reason}` : ""}`);
      closeRequest();
      break;
    case "error":
      line(event, "", `${event.code}: ${event.message}`, "error");
      break;
    default:
      line(event, "", JSON.stringify(event)); // a newer server's event: show it rather than drop it
  }
}

// ---- input requests -------------------------------------------------------------------------------------

function openRequest(request) {
  state.request = request;
  const fields = $("ui-fields");
  fields.replaceChildren();
  const text = $("reply-text");
  if (request.kind === "ui_tool") {
    // A real app renders its own component for request.ui; this page knows a date range picker and falls
    // back to key/value fields (or a JSON object typed in the text box).
    $("reply-prompt").textContent = (request.ui && request.ui.title) || request.prompt || request.tool_name;
    const keys = request.ui && request.ui.component === "date_range_picker" ? ["start", "end"] : ["key"];
    if (keys[0] === "key") {
      fields.appendChild(field("key", "text", "Field name"));
      fields.appendChild(field("value", "text", "Value"));
      text.placeholder = 'or a JSON object, e.g. {"choice": "yes"}';
    } else {
      keys.forEach((k) => fields.appendChild(field(k, "date", k)));
      text.placeholder = "";
    }
    text.hidden = keys[0] !== "key";
  } else {
    $("reply-prompt").textContent = request.prompt || "Your reply";
    text.hidden = false;
    text.placeholder = "Type your reply";
  }
  $("reply").hidden = false;
  (fields.querySelector("input") || text).focus();
}

function field(name, type, label) {
  const wrapper = document.createElement("label");
  wrapper.textContent = `${label} `;
  const input = document.createElement("input");
  input.type = type;
  input.name = name;
  wrapper.appendChild(input);
  return wrapper;
}

function closeRequest() {
  state.request = null;
  $("reply").hidden = true;
  $("reply-text").value = "";
}

function answerData() {
  const inputs = [...$("ui-fields").querySelectorAll("input")];
  const typed = $("reply-text").value.trim();
  if (typed) {
    try {
      const value = JSON.parse(typed);
      if (value && typeof value === "object" && !Array.isArray(value)) return value;
    } catch (_) { /* not JSON: taken as text below */ }
    return { text: typed };
  }
  const values = Object.fromEntries(inputs.map((i) => [i.name, i.value]));
  if ("key" in values) return values.key ? { [values.key]: values.value } : {};
  return values;
}

$("reply").addEventListener("submit", (e) => {
  e.preventDefault();
  const request = state.request;
  if (!request) return;
  const msgId = newMsgId();
  let sent;
  if (request.kind === "ui_tool") {
    // A UI tool's answer: structured data for the tool, tied to the request it answers.
    sent = send({ type: "answer", session_id: state.sessionId, msg_id: msgId,
                  request_id: request.request_id, data: answerData() });
  } else {
    const text = $("reply-text").value.trim();
    if (!text) return;
    sent = send({ type: "user_message", session_id: state.sessionId, msg_id: msgId, text });
  }
  if (sent) $("reply").hidden = true; // the user_message event that follows closes the request for good
});

// ---- launcher -----------------------------------------------------------------------------------------

async function loadWorkflows() {
  const select = $("workflow");
  try {
    const response = await fetch("/api/workflows", { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    const items = Array.isArray(body) ? body : body.workflows || [];
    for (const item of items) {
      const name = typeof item === "string" ? item : item.name;
      const option = new Option(name, name);
      if (item.description) option.title = item.description;
      select.appendChild(option);
    }
  } catch (error) {
    showNotice(`Could not list workflows (${error.message}); type a name instead.`);
    const input = document.createElement("input");
    input.id = "workflow";
    select.replaceWith(input);
  }
}

$("start").addEventListener("click", () => {
  const workflow = $("workflow").value;
  if (!workflow) return;
  const frame = { type: "start", workflow, msg_id: newMsgId() };
  const message = $("first-message").value.trim();
  if (message) frame.message = message;
  $("transcript").replaceChildren();
  $("usage").textContent = "";
  closeRequest();
  state.sessionId = null;
  state.early = [];
  state.pendingStart = frame.msg_id;
  send(frame);
});

$("drop").addEventListener("click", () => {
  // Close without leaving the session: the reconnect resumes it and replays what was posted meanwhile.
  if (state.socket) state.socket.close(4000, "dropped by the user");
});

function setStatus(text) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = text;
}
function showNotice(text) { $("notice").textContent = text; $("notice").hidden = false; }
function hideNotice() { $("notice").hidden = true; }

// The page is a test fixture too: expose the protocol state for inspection.
window.mozaiks = { state };

if (!token) {
  showNotice("No token: open this page with ?token=<JWT> (mozaiks serve prints a ready-made URL).");
} else {
  const match = location.hash.match(/session=([A-Za-z0-9._:-]+)/);
  if (match) openSession(match[1]);
  loadWorkflows();
  connect();
}
