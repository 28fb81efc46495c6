// MozaiksAI local chat: one session over the WebSocket protocol, through the JavaScript client that ships
// with the runtime (client/mozaiks-client.js, typed by client/mozaiks-client.d.ts). The client does the
// protocol (token subprotocol, reconnects, resume, dedupe, batches and chunks, live text); this page only
// renders what it hands over. No framework, no build step: an ES module.
import { MozaiksClient } from "./client/mozaiks-client.js";

const token = new URLSearchParams(location.search).get("token") || "";
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const $ = (id) => document.getElementById(id);

const page = {
  sessionId: null,
  request: null, // the input_request we are answering, if any
  live: new Map(), // messageId -> the element showing a reply as it streams
  everOpened: false,
  starting: false, // a start was sent and its session is not known yet
};

const client = new MozaiksClient({ url: wsUrl, token, httpUrl: `${location.origin}/api` });

// ---- what the client hands over ------------------------------------------------------------------------

client.on("status", (status) => {
  setStatus(status === "open" ? "online" : status);
  if (status === "open") {
    page.everOpened = true;
    hideNotice();
  } else if (status === "offline" && !page.everOpened) {
    showNotice("Cannot connect. Is the server running?");
  }
});

client.on("authError", (problem) => {
  showNotice(`The token was refused (${problem.reason}): open this page with a new ?token= (mozaiks serve prints one).`);
});

client.on("event", (event) => {
  // The first events of a new session can come before the ack of its start (the client hands them over in
  // order as soon as the ack names the session, which may be before the start's promise settles here).
  if (page.starting && page.sessionId === null) openSession(event.session_id);
  if (event.session_id === page.sessionId) render(event);
});

client.on("delta", (delta) => {
  if (page.starting && page.sessionId === null) openSession(delta.sessionId);
  if (delta.sessionId !== page.sessionId) return;
  let element = page.live.get(delta.messageId);
  if (delta.done) {
    // Closed by its agent_message (rendered next, as a stored event) or dropped with its failed step.
    if (element) element.remove();
    page.live.delete(delta.messageId);
    return;
  }
  if (!element) {
    element = line({ type: "live" }, delta.agent, "", "streaming");
    delete element.dataset.seq;
    page.live.set(delta.messageId, element);
  }
  element.querySelector(".bubble").textContent = delta.text;
  element.scrollIntoView({ block: "end" });
});

client.on("reply", (reply) => {
  if (reply.type === "error") showNotice(`${reply.code}: ${reply.message}`);
  else if (reply.message === "Internal server error") showNotice("The server failed to handle a frame (see its log).");
});

client.on("closing", (closing) => showNotice(`The server closed the connection: ${closing.message}`));

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
  bubble.className = ["agent_message", "user_message", "live"].includes(event.type) ? "bubble" : "";
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
      break; // the next agent_message (or its live text) names its speaker
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
    case "context_updated":
      if (event.changed.length) {
        const shown = event.changed.map((name) => `${name} = ${JSON.stringify(event.variables[name])}`);
        line(event, "", `context: ${shown.join(", ")}`);
      }
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
  page.request = request;
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
  page.request = null;
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

function refused(error) {
  showNotice(`${error.code || "error"}: ${error.message}`);
}

$("reply").addEventListener("submit", (e) => {
  e.preventDefault();
  const request = page.request;
  if (!request) return;
  try {
    if (request.kind === "ui_tool") {
      // A UI tool's answer: structured data for the tool, tied to the request it answers.
      client.answer(page.sessionId, request.request_id, { data: answerData() }).catch(refused);
    } else {
      const text = $("reply-text").value.trim();
      if (!text) return;
      client.userMessage(page.sessionId, text).catch(refused);
    }
  } catch (error) {
    refused(error); // refused before sending (a text over 16,000 bytes)
    return;
  }
  // Sent, or queued until the socket is back (the client resends it under the same msg_id).
  $("reply").hidden = true; // the user_message event that follows closes the request for good
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

function openSession(sessionId) {
  if (page.sessionId && page.sessionId !== sessionId) client.forget(page.sessionId);
  page.sessionId = sessionId;
  // Keep the session in the URL: a reload resumes it from seq 0 and replays the whole transcript.
  history.replaceState(null, "", `${location.pathname}${location.search}#session=${sessionId}`);
  $("session").textContent = `session ${sessionId}`;
}

$("start").addEventListener("click", async () => {
  const workflow = $("workflow").value;
  if (!workflow) return;
  const message = $("first-message").value.trim();
  $("transcript").replaceChildren();
  $("usage").textContent = "";
  closeRequest();
  if (page.sessionId) client.forget(page.sessionId);
  page.sessionId = null;
  page.live.clear();
  page.starting = true;
  try {
    const ack = await client.start(workflow, { message });
    if (page.sessionId !== ack.session_id) openSession(ack.session_id);
  } catch (error) {
    refused(error);
  } finally {
    page.starting = false;
  }
});

$("drop").addEventListener("click", () => {
  // Close without leaving the session: the reconnect resumes it and replays what was posted meanwhile.
  client.drop();
});

function setStatus(text) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = text;
}
function showNotice(text) { $("notice").textContent = text; $("notice").hidden = false; }
function hideNotice() { $("notice").hidden = true; }

// The page is a test fixture too: expose the protocol state for inspection.
window.mozaiks = {
  client,
  get state() {
    return { sessionId: page.sessionId, lastSeq: page.sessionId ? client.lastSeq(page.sessionId) : 0 };
  },
};

if (!token) {
  showNotice("No token: open this page with ?token=<JWT> (mozaiks serve prints a ready-made URL).");
} else {
  const match = location.hash.match(/session=([A-Za-z0-9._:-]+)/);
  if (match) {
    openSession(match[1]);
    client.resume(match[1], 0);
  }
  loadWorkflows();
  client.connect();
}
