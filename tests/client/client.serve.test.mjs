// The JavaScript client against a real `mozaiks serve` (tests/local/test_js_client.py starts it and passes
// MOZAIKS_TEST_WS_URL, MOZAIKS_TEST_HTTP_URL and MOZAIKS_TEST_TOKEN). Node 22, or 20 with --experimental-websocket.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MozaiksClient } from "../../runtime_core/local/static/client/mozaiks-client.js";

const WS_URL = process.env.MOZAIKS_TEST_WS_URL;
const HTTP_URL = process.env.MOZAIKS_TEST_HTTP_URL;
const TOKEN = process.env.MOZAIKS_TEST_TOKEN;
assert.ok(WS_URL && HTTP_URL && TOKEN, "run through tests/local/test_js_client.py (it starts mozaiks serve)");
assert.equal(typeof WebSocket, "function", "no global WebSocket: Node 22, or node --experimental-websocket");

const TIMEOUT_MS = 30000;

function recorder(client) {
  const seen = { events: [], deltas: [], replayEnds: [], errors: [], statuses: [] };
  client.on("event", (e) => seen.events.push(e));
  client.on("delta", (d) => seen.deltas.push(d));
  client.on("replayEnd", (r) => seen.replayEnds.push(r));
  client.on("error", (e) => seen.errors.push(e));
  client.on("status", (s) => seen.statuses.push(s));
  return seen;
}

async function until(check, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const requests = (seen) => seen.events.filter((e) => e.type === "input_request");

test("CustomerSupport to its end across a dropped socket: every event once, in order, streamed text kept", async () => {
  const client = new MozaiksClient({ url: WS_URL, token: TOKEN, httpUrl: HTTP_URL, initialBackoffMs: 50 });
  const seen = recorder(client);
  client.connect();
  try {
    const ack = await client.start("CustomerSupport", { message: "Hi, where is my order A100?" });
    const sessionId = ack.session_id;
    await until(() => requests(seen).length === 1, "the first input request");

    // Send, and lose the socket in the same breath: the step's events are posted while the client is away,
    // so they arrive through the resume (and the message is resent under its msg_id if its ack was lost).
    const sent = client.userMessage(sessionId, "Thanks. I'd like to talk to a human about a refund.");
    client.drop();
    await sent;
    await until(() => requests(seen).length === 2, "the second input request");
    assert.ok(seen.statuses.includes("reconnecting"), seen.statuses.join(","));
    await client.userMessage(sessionId, "Please call me at +1 555 0100.");
    await until(() => seen.events.some((e) => e.type === "run_completed"), "run_completed");

    const seqs = seen.events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1)); // 1..N, each once
    assert.equal(client.lastSeq(sessionId), seqs.length);
    assert.ok(seen.replayEnds.some((r) => r.session_id === sessionId && r.more === false));
    const handoffs = seen.events.filter((e) => e.type === "handoff").map((e) => `${e.from_agent} -> ${e.to}`);
    assert.ok(handoffs.includes("SupportAgent -> EscalationAgent"), handoffs.join(", "));

    // Live text: the scripted model streams its replies; each streamed reply is closed by its agent_message.
    const kept = seen.deltas.filter((d) => d.done && d.kept);
    assert.ok(seen.deltas.some((d) => !d.done), "no streamed text arrived");
    for (const done of kept) {
      const message = seen.events.find((e) => e.type === "agent_message" && `${e.session_id}:${e.turn}` === done.messageId);
      assert.equal(done.text, message.content);
    }
    assert.deepEqual(seen.errors, []);

    // Another client follows the same session from scratch: the whole replay, then replay_end.
    const second = new MozaiksClient({ url: WS_URL, token: TOKEN });
    const other = recorder(second);
    second.connect();
    second.resume(sessionId, 0);
    const end = await until(() => other.replayEnds[0], "replay_end");
    assert.deepEqual([end.last_seq, end.more], [seqs.length, false]);
    assert.deepEqual(other.events.map((e) => e.seq), seqs);
    second.close();
  } finally {
    client.close();
  }
});

test("a refused token is told apart from an outage through GET /token", async () => {
  const client = new MozaiksClient({ url: WS_URL, token: "not.a.token", httpUrl: HTTP_URL, initialBackoffMs: 50 });
  const problems = [];
  client.on("authError", (a) => problems.push(a));
  client.connect();
  try {
    const problem = await until(() => problems[0], "an auth error");
    assert.equal(problem.status, 401);
    assert.equal(problem.reason, "malformed_token");
    assert.equal(client.status, "unauthorized");
  } finally {
    client.close();
  }
});
