// Drives example workflows over real WebSockets to `mozaiks serve` with the AG-UI encoding and checks what
// arrives with the official client: every event must parse with @ag-ui/core's schemas, and each connection's
// stream must pass @ag-ui/client's verifyEvents (the same check @ag-ui/client runs inside an agent).
//
//   node verify.mjs config.json
//
// config: {url, token, workflows: [{name, first_message, inputs: [{text} | {answer}], reconnect}]}
// For each workflow: a session to its end, answering input requests from `inputs`; with `reconnect`, the
// socket is dropped in the middle of a run (after the first agent text message ends) and a new one resumes
// from the last seq (its stream starts with the prologue that opens the run again). Then a replay from 0
// on a third connection must verify too, give the same texts, tool calls, custom events and run outcomes as
// the live stream, and equal the live stream's stored part from the reconnect on (replay = live).
// AGUI_BREAK=drop_text_end drops the first TEXT_MESSAGE_END received: the verifier must then fail.
// Prints one JSON summary line; exits 1 on any failure.

import { readFileSync } from "node:fs";
import { verifyEvents } from "@ag-ui/client";
import { EventSchemas } from "@ag-ui/core/schemas";
import { Subject } from "rxjs";
import WebSocket from "ws"; // whatever the Node version (its global WebSocket is experimental before 22)

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const BREAK = process.env.AGUI_BREAK || "";
const TIMEOUT_MS = 30_000;

class Verifier {
  constructor(label) {
    this.label = label;
    this.error = null;
    this.count = 0;
    this.subject = new Subject();
    this.subject.pipe(verifyEvents()).subscribe({
      next: () => { this.count += 1; },
      error: (err) => { this.error = `${label}: ${err.message || err}`; },
    });
  }
  push(event) { if (!this.error) this.subject.next(event); }
}

// One WebSocket: posts unwrapped (batches, chunks) into messages; AG-UI events (upper-case types) go to the
// verifier, control replies (acks, errors, replay_end: this runtime's own) to the waiters.
class Connection {
  constructor(label) {
    this.label = label;
    this.verifier = new Verifier(label);
    this.events = [];
    this.replies = [];
    this.waiters = [];
    this.parts = [];
    this.dropped = false;
  }
  open() {
    const url = `${config.url}?encoding=agui`;
    this.ws = new WebSocket(url, ["mozaiks.jwt", config.token]);
    return new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = (e) => reject(new Error(`${this.label}: socket error ${e.message || ""}`));
      this.ws.onmessage = (m) => this.onPost(m.data.toString());
    });
  }
  onPost(raw) {
    const message = JSON.parse(raw);
    if (message.type === "batch") { message.messages.forEach((m) => this.onPost(JSON.stringify(m))); return; }
    if (message.type === "chunk") {
      if (message.part === 0) this.parts = [];
      this.parts.push(message.data);
      if (this.parts.length === message.parts) { const joined = this.parts.join(""); this.parts = []; this.onPost(joined); }
      return;
    }
    if (/^[a-z_]+$/.test(message.type)) { this.replies.push(message); this.wake(); return; }
    EventSchemas.parse(message); // throws on anything @ag-ui/core would not accept
    if (BREAK === "drop_text_end" && message.type === "TEXT_MESSAGE_END" && !this.dropped) { this.dropped = true; globalDropped = true; return; }
    this.events.push(message);
    this.verifier.push(message);
    this.wake();
  }
  wake() { this.waiters.splice(0).forEach((w) => w()); }
  async until(predicate, what) {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const found = predicate();
      if (found) return found;
      if (this.verifier.error) throw new Error(this.verifier.error);
      if (Date.now() > deadline) throw new Error(`${this.label}: timed out waiting for ${what}`);
      await new Promise((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 200); });
    }
  }
  send(frame) { this.ws.send(JSON.stringify(frame)); }
  close() { this.ws.onmessage = null; this.ws.close(); }
}
let globalDropped = false;

const seqOf = (e) => (e.metadata && Number.isInteger(e.metadata.seq) ? e.metadata.seq : null);

// What a stream says, independent of how text was cut into pieces and of what opened runs and steps:
// each message's whole text, and the ordered list of everything else that carries a stored event's seq.
function summary(events) {
  const texts = {};
  const rest = [];
  for (const e of events) {
    if (e.type === "TEXT_MESSAGE_CONTENT") texts[e.messageId] = (texts[e.messageId] || "") + e.delta;
    else if (e.type === "TOOL_CALL_START" || e.type === "TOOL_CALL_RESULT") rest.push(`${e.type} ${e.toolCallId}`);
    else if (e.type === "CUSTOM") rest.push(`CUSTOM ${e.name} ${JSON.stringify(e.value)}`);
    else if (e.type === "RUN_FINISHED" || e.type === "RUN_ERROR") rest.push(`${e.type} ${JSON.stringify(e.outcome || e.code || null)}`);
  }
  const sorted = Object.fromEntries(Object.entries(texts).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return { texts: sorted, rest };
}

async function drive(workflow) {
  const report = { workflow: workflow.name, connections: [], events: 0, deltas: 0 };
  let conn = new Connection(`${workflow.name}#1`);
  await conn.open();
  const start = { type: "start", workflow: workflow.name, msg_id: `${workflow.name}-start-${Date.now()}` };
  if (workflow.first_message) start.message = workflow.first_message;
  conn.send(start);
  const ack = await conn.until(() => conn.replies.find((r) => r.type === "ack" || r.type === "error"), "the start's ack");
  if (ack.type !== "ack") throw new Error(`start refused: ${JSON.stringify(ack)}`);
  const sessionId = ack.session_id;
  const inputs = [...workflow.inputs];
  let answered = 0;
  let lastSeq = 0;
  let reconnected = !workflow.reconnect;
  let cutAt = null;
  const live = [];
  let index = 0;
  for (;;) {
    const event = await conn.until(() => conn.events[index], "the next event");
    index += 1;
    const seq = seqOf(event);
    if (seq !== null && seq < lastSeq) continue; // a live post repeating what a replay gave
    live.push(event);
    if (seq === null) report.deltas += event.type === "TEXT_MESSAGE_CONTENT" ? 1 : 0;
    if (seq !== null) lastSeq = seq;
    if (event.type === "CUSTOM" && event.name === "mozaiks.input_request") {
      const request = event.value.request;
      const item = inputs.shift();
      if (!item) throw new Error(`${workflow.name} asked for input #${answered + 1}; none is left`);
      answered += 1;
      const msgId = `${workflow.name}-in-${answered}`;
      if (request.kind === "ui_tool") conn.send({ type: "answer", session_id: sessionId, msg_id: msgId, request_id: request.request_id, data: item.answer || { text: item.text } });
      else conn.send({ type: "user_message", session_id: sessionId, msg_id: msgId, text: item.text });
    }
    if (event.type === "RUN_ERROR") throw new Error(`${workflow.name}: RUN_ERROR ${event.code}: ${event.message}`);
    if (event.type === "RUN_FINISHED" && event.result && event.result.status) break; // run_completed
    if (!reconnected && event.type === "TEXT_MESSAGE_END" && seq !== null && live.some((e) => e.type === "TEXT_MESSAGE_START" && e.role === "assistant")) {
      // Mid-run: drop the socket, let the session go on without us, come back and resume from here.
      reconnected = true;
      cutAt = lastSeq;
      report.connections.push({ label: conn.label, events: conn.events.length, error: conn.verifier.error });
      conn.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      conn = new Connection(`${workflow.name}#2`);
      await conn.open();
      conn.send({ type: "resume", session_id: sessionId, after_seq: lastSeq, msg_id: `${workflow.name}-resume` });
      index = 0;
    }
  }
  if (conn.verifier.error) throw new Error(conn.verifier.error);
  report.connections.push({ label: conn.label, events: conn.events.length, error: conn.verifier.error });
  conn.close();
  if (workflow.reconnect && cutAt === null) throw new Error(`${workflow.name}: never reconnected`);

  // The replay: a new stream from the session's first event, on its own connection.
  const replay = new Connection(`${workflow.name}#replay`);
  await replay.open();
  replay.send({ type: "resume", session_id: sessionId, after_seq: 0, msg_id: `${workflow.name}-replay` });
  await replay.until(() => replay.replies.find((r) => r.type === "replay_end"), "replay_end");
  replay.close();
  if (replay.verifier.error) throw new Error(replay.verifier.error);
  const a = summary(live);
  const b = summary(replay.events);
  if (JSON.stringify(a.texts) !== JSON.stringify(b.texts)) throw new Error(`${workflow.name}: replayed texts differ from live:\n${JSON.stringify(a.texts)}\n${JSON.stringify(b.texts)}`);
  if (JSON.stringify(a.rest) !== JSON.stringify(b.rest)) throw new Error(`${workflow.name}: replay differs from live:\n${a.rest.join("\n")}\n---\n${b.rest.join("\n")}`);
  if (cutAt !== null) {
    // From the reconnect on, the resumed stream's stored part is the replay's, event for event.
    const after = (events) => JSON.stringify(events.filter((e) => seqOf(e) !== null && seqOf(e) > cutAt));
    const resumed = live.slice(live.findIndex((e) => seqOf(e) !== null && seqOf(e) > cutAt));
    // Deltas open runs, steps and text messages (and send text) before the stored events do: those event
    // types are left out; every other event must be the replay's, field for field.
    const early = new Set(["RUN_STARTED", "STEP_STARTED", "STEP_FINISHED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"]);
    const storedAfter = (events) => JSON.parse(after(events)).filter((e) => !early.has(e.type));
    const x = storedAfter(resumed);
    const y = storedAfter(replay.events);
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      const i = x.findIndex((e, k) => JSON.stringify(e) !== JSON.stringify(y[k]));
      throw new Error(`${workflow.name}: the resumed stream differs from the replay after seq ${cutAt}, at #${i}:\n${JSON.stringify(x[i])}\n${JSON.stringify(y[i])}`);
    }
    report.compared = x.length;
  }
  report.events = live.length;
  report.snapshots = live.filter((e) => e.type === "STATE_SNAPSHOT").length;
  report.state_deltas = live.filter((e) => e.type === "STATE_DELTA").length;
  report.replayed = replay.events.length;
  report.last_seq = lastSeq;
  report.cut_at = cutAt;
  return report;
}

const results = [];
let failed = null;
for (const workflow of config.workflows) {
  try {
    results.push(await drive(workflow));
  } catch (err) {
    failed = `${err.message || err}`;
    break;
  }
}
if (BREAK && !globalDropped) failed = failed || "AGUI_BREAK set but nothing was dropped";
console.log(JSON.stringify({ ok: failed === null, failed, results }));
process.exit(failed === null ? 0 : 1);
