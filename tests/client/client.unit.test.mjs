// The JavaScript client against a fake socket: framing, ordering, dedupe, gaps, replay_end, reconnects,
// resends, deltas, token problems. Run: node --test tests/client/client.unit.test.mjs
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { MAX_TEXT_BYTES, MozaiksClient, MozaiksError, Reassembler } from "../../runtime_core/local/static/client/mozaiks-client.js";
import { FakeSocket, ev, tick, until } from "./fake_socket.mjs";

const S = "s-1";

function client(options = {}) {
  const c = new MozaiksClient({
    url: "ws://test/ws",
    token: "tok",
    WebSocket: FakeSocket,
    initialBackoffMs: 1,
    maxBackoffMs: 4,
    gapTimeoutMs: 30,
    pingIntervalMs: 0,
    ...options,
  });
  const seen = { events: [], deltas: [], replies: [], statuses: [], auth: [], errors: [] };
  c.on("event", (e) => seen.events.push(e));
  c.on("delta", (d) => seen.deltas.push(d));
  c.on("reply", (r) => seen.replies.push(r));
  c.on("status", (s) => seen.statuses.push(s));
  c.on("authError", (a) => seen.auth.push(a));
  c.on("error", (e) => seen.errors.push(e));
  return { c, seen };
}

async function connected(options) {
  const made = client(options);
  made.c.connect();
  const socket = await until(() => FakeSocket.latest(), "a socket");
  socket.accept();
  return { ...made, socket };
}

/** A client that follows session S (started through the client, acknowledged). */
async function following(options) {
  const made = await connected(options);
  const started = made.c.start("W", { msgId: "st-1" });
  made.socket.post({ type: "ack", msg_id: "st-1", session_id: S, duplicate: false });
  await started;
  return made;
}

const seqs = (seen) => seen.events.map((e) => e.seq);

beforeEach(() => FakeSocket.reset());

test("the token travels as the second subprotocol, or in the query string when asked", async () => {
  const { socket } = await connected();
  assert.deepEqual(socket.protocols, ["mozaiks.jwt", "tok"]);
  assert.equal(socket.url, "ws://test/ws");
  FakeSocket.reset();
  const other = await connected({ tokenInQuery: true, token: "a b" });
  assert.equal(other.socket.url, "ws://test/ws?token=a%20b");
  assert.equal(other.socket.protocols, undefined);
});

test("batches and chunks are reassembled; a restarted chunk sequence drops its earlier parts", () => {
  const r = new Reassembler();
  const big = JSON.stringify(ev(S, 3, "agent_message", { agent: "A", content: "x".repeat(50), turn: 1 }));
  const parts = [big.slice(0, 20), big.slice(20, 60), big.slice(60)];
  assert.deepEqual(r.feed({ type: "batch", messages: [ev(S, 1), ev(S, 2)] }).map((m) => m.seq), [1, 2]);
  assert.deepEqual(r.feed({ type: "chunk", seq: 3, part: 0, parts: 3, data: parts[0] }), []);
  // The server re-split the message smaller: part 0 again.
  assert.deepEqual(r.feed({ type: "chunk", seq: 3, part: 0, parts: 3, data: parts[0] }), []);
  assert.deepEqual(r.feed({ type: "chunk", seq: 3, part: 1, parts: 3, data: parts[1] }), []);
  const [whole] = r.feed(JSON.stringify({ type: "chunk", seq: 3, part: 2, parts: 3, data: parts[2] }));
  assert.equal(whole.content, "x".repeat(50));
});

test("events are delivered in order, once each, and held across a gap until it fills", async () => {
  const { socket, seen } = await following();
  socket.post({ type: "batch", messages: [ev(S, 1), ev(S, 2)] });
  socket.post(ev(S, 4)); // 3 is missing
  assert.deepEqual(seqs(seen), [1, 2]);
  socket.post(ev(S, 2)); // a repeat
  socket.post(ev(S, 3));
  socket.post(ev(S, 4));
  assert.deepEqual(seqs(seen), [1, 2, 3, 4]);
});

test("events of another session are not delivered; early events of a start wait for its ack", async () => {
  const { c, socket, seen } = await connected();
  const started = c.start("W", { msgId: "st-1", message: "hi" });
  assert.deepEqual(socket.sent[0], { type: "start", workflow: "W", msg_id: "st-1", message: "hi" });
  socket.post(ev(S, 1, "run_started")); // overtook the ack
  socket.post(ev("s-other", 1));
  assert.equal(seen.events.length, 0);
  socket.post({ type: "ack", msg_id: "st-1", session_id: S, duplicate: false });
  const ack = await started;
  assert.equal(ack.session_id, S);
  assert.deepEqual(seqs(seen), [1]);
  assert.deepEqual(seen.events.map((e) => e.session_id), [S]);
});

test("a gap a replay leaves open is healed by resuming from the last contiguous seq", async () => {
  const { c, socket, seen } = await following();
  c.resume(S);
  const [resume] = socket.sentOf("resume");
  assert.equal(resume.after_seq, 0);
  // A live post overtakes the replay: held, no resume yet (the replay is pending).
  socket.post(ev(S, 5));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(socket.sentOf("resume").length, 1);
  // The replay brings 1..3 and ends; 4 is still missing: the gap is real.
  socket.post({ type: "batch", messages: [{ type: "ack", msg_id: resume.msg_id, session_id: S }, ev(S, 1), ev(S, 2), ev(S, 3)] });
  socket.post({ type: "replay_end", msg_id: resume.msg_id, session_id: S, after_seq: 0, last_seq: 3, more: false });
  const again = await until(() => socket.sentOf("resume")[1], "a second resume");
  assert.equal(again.after_seq, 3);
  socket.post(ev(S, 4));
  socket.post({ type: "replay_end", msg_id: again.msg_id, session_id: S, after_seq: 3, last_seq: 4, more: false });
  assert.deepEqual(seqs(seen), [1, 2, 3, 4, 5]);
});

test("resume(id, afterSeq) starts from afterSeq: back to replay it all, or past what the caller has", async () => {
  const { c, socket, seen } = await connected();
  c.resume("s-9", 40);
  assert.equal(socket.sentOf("resume")[0].after_seq, 40);
  socket.post(ev("s-9", 41));
  assert.deepEqual(seqs(seen), [41]);
  c.resume("s-9", 0);
  assert.equal(socket.sentOf("resume")[1].after_seq, 0);
  socket.post(ev("s-9", 1));
  assert.deepEqual(seqs(seen), [41, 1]);
  c.close();
});

test("a full replay page (more: true) is followed by the next page at once", async () => {
  const { c, socket, seen } = await following();
  c.resume(S);
  const [first] = socket.sentOf("resume");
  socket.post({ type: "batch", messages: [ev(S, 1), ev(S, 2)] });
  socket.post({ type: "replay_end", msg_id: first.msg_id, session_id: S, after_seq: 0, last_seq: 2, more: true });
  const next = socket.sentOf("resume")[1];
  assert.equal(next.after_seq, 2);
  assert.deepEqual(seqs(seen), [1, 2]);
});

test("a gap with no replay pending is healed after gapTimeoutMs", async () => {
  const { socket, seen } = await following();
  socket.post(ev(S, 1));
  socket.post(ev(S, 3));
  const resume = await until(() => socket.sentOf("resume")[0], "a resume after the gap");
  assert.equal(resume.after_seq, 1);
  socket.post(ev(S, 2));
  assert.deepEqual(seqs(seen), [1, 2, 3]);
});

test("a dropped socket reconnects with backoff, resumes from the last contiguous seq, resends unacked frames", async () => {
  const { c, socket, seen } = await following();
  socket.post({ type: "batch", messages: [ev(S, 1), ev(S, 2), ev(S, 4)] });
  const sent = c.userMessage(S, "hello", { msgId: "m-2" });
  assert.equal(socket.sentOf("user_message").length, 1);
  socket.drop();
  const second = await until(() => FakeSocket.instances[1], "a new socket");
  assert.ok(seen.statuses.includes("offline"));
  second.accept();
  const [resume] = second.sentOf("resume");
  assert.equal(resume.after_seq, 2); // 4 is held, 3 is missing
  assert.deepEqual(second.sentOf("user_message"), [{ type: "user_message", session_id: S, msg_id: "m-2", text: "hello" }]);
  second.post({ type: "ack", msg_id: "m-2", session_id: S, duplicate: true });
  assert.equal((await sent).duplicate, true);
  second.post({ type: "batch", messages: [ev(S, 3), ev(S, 4), ev(S, 5)] });
  assert.deepEqual(seqs(seen), [1, 2, 3, 4, 5]);
  assert.equal(c.lastSeq(S), 5);
  c.close();
  assert.equal(c.status, "closed");
});

test("an error reply rejects the helper's promise with its code", async () => {
  const { c, socket } = await following();
  const sent = c.answer(S, "req-1", { data: { ok: true } }, { msgId: "a-1" });
  assert.deepEqual(socket.sentOf("answer")[0], { type: "answer", session_id: S, msg_id: "a-1", request_id: "req-1", data: { ok: true } });
  socket.post({ type: "error", code: "no_pending_request", message: "not waiting", msg_id: "a-1", session_id: S });
  await assert.rejects(sent, (error) => error instanceof MozaiksError && error.code === "no_pending_request");
});

test("texts over 16,000 bytes of UTF-8 and empty answers are refused before they are sent", async () => {
  const { c, socket } = await following();
  assert.throws(() => c.userMessage(S, "語".repeat(5334)), (e) => e.code === "text_too_long");
  assert.throws(() => c.answer(S, "r", {}), (e) => e.code === "missing_field");
  c.userMessage(S, "語".repeat(5333), { msgId: "m-ok" }).catch(() => {}); // 15,999 bytes: sent
  assert.equal(socket.sentOf("user_message").length, 1);
  c.close();
  assert.equal(MAX_TEXT_BYTES, 16000);
});

test("deltas build one buffer per reply, closed by its agent_message", async () => {
  const { socket, seen } = await following();
  const d = (offset, text) => ({ type: "text_delta", session_id: S, agent: "A", turn: 1, message_id: `${S}:1`, offset, text });
  socket.post(d(0, "Hel"));
  socket.post(d(3, "lo 😀"));
  socket.post(d(3, "lo 😀")); // a repeat: replaces from its offset, same text
  socket.post(d(9, "lost?")); // past the buffer: a piece was missed, ignored
  socket.post(d(7, "!")); // offsets in code points: the emoji is one
  assert.deepEqual(seen.deltas.map((x) => x.text), ["Hel", "Hello 😀", "Hello 😀", "Hello 😀!"]);
  assert.ok(seen.deltas.every((x) => x.done === false && x.messageId === `${S}:1`));
  socket.post({ type: "batch", messages: [ev(S, 1, "agent_message", { agent: "A", content: "Hello 😀!!", turn: 1 })] });
  const last = seen.deltas.at(-1);
  assert.deepEqual([last.text, last.done, last.kept], ["Hello 😀!!", true, true]);
  socket.post(d(0, "late")); // after its agent_message: ignored
  assert.equal(seen.deltas.length, 5);
  assert.equal(seen.events.at(-1).type, "agent_message");
});

test("a reply whose step failed is dropped when the error event arrives", async () => {
  const { socket, seen } = await following();
  socket.post({ type: "text_delta", session_id: S, agent: "A", turn: 2, message_id: `${S}:2`, offset: 0, text: "half" });
  socket.post(ev(S, 1, "error", { code: "model_error", message: "x", recoverable: true }));
  const last = seen.deltas.at(-1);
  assert.deepEqual([last.done, last.kept], [true, false]);
});

test("a closing message for an expired token says so, and a token source gives the reconnect a new token", async () => {
  let n = 0;
  const { socket, seen } = await following({ getToken: () => `tok-${++n}` });
  assert.deepEqual(socket.protocols, ["mozaiks.jwt", "tok-1"]);
  socket.post({ type: "closing", code: "token_expired", message: "the token expired" });
  assert.deepEqual(seen.auth, [{ status: 401, reason: "expired", message: "the token expired" }]);
  socket.drop();
  const next = await until(() => FakeSocket.instances[1], "a reconnect");
  assert.deepEqual(next.protocols, ["mozaiks.jwt", "tok-2"]);
});

test("a socket that never opens: GET /token tells an expired token (stop) from an outage (retry)", async () => {
  const realFetch = globalThis.fetch;
  const asked = [];
  let answer = { status: 401, body: { error: "expired", message: "token has expired" } };
  globalThis.fetch = async (url, init) => {
    asked.push([url, init.headers.Authorization]);
    if (!answer) throw new TypeError("network down");
    return { status: answer.status, json: async () => answer.body };
  };
  try {
    const { c, seen } = client({ httpUrl: "http://test/api/" });
    c.connect();
    (await until(() => FakeSocket.latest(), "a socket")).refuse();
    await until(() => seen.auth.length, "an auth error");
    assert.deepEqual(asked[0], ["http://test/api/token", "Bearer tok"]);
    assert.equal(seen.auth[0].reason, "expired");
    assert.equal(c.status, "unauthorized");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(FakeSocket.instances.length, 1); // no retry with a token that cannot work
    c.close();

    FakeSocket.reset();
    answer = null; // the HTTP API does not answer either: an outage
    const other = client({ httpUrl: "http://test/api" });
    other.c.connect();
    (await until(() => FakeSocket.latest(), "a socket")).refuse();
    await until(() => FakeSocket.instances.length === 2, "a retry");
    assert.equal(other.seen.auth.length, 0);
    other.c.close();
  } finally {
    globalThis.fetch = realFetch;
  }
});

test("a resume refused by an error reply is reported and does not block gap healing", async () => {
  const { c, socket, seen } = await following();
  c.resume(S);
  const [resume] = socket.sentOf("resume");
  socket.post({ type: "error", code: "unavailable", message: "store down", msg_id: resume.msg_id, session_id: S });
  assert.equal(seen.errors.at(-1).code, "unavailable");
  socket.post(ev(S, 2)); // a gap, and no replay pending any more: healed after gapTimeoutMs
  const again = await until(() => socket.sentOf("resume")[1], "a resume for the gap");
  assert.equal(again.after_seq, 0);
  c.close();
});
