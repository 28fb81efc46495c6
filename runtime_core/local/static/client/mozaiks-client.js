// MozaiksAI Runtime: the JavaScript client of the WebSocket protocol (docs/websocket-protocol.md).
//
// One ES module, no dependencies, for browsers and Node (>= 22, or 20 with --experimental-websocket). It
//   * connects with the token as a subprotocol ("mozaiks.jwt", <jwt>) and reconnects with jittered backoff;
//   * turns posts back into messages (batches, chunks) and sessions' events into one ordered stream per session:
//     numbered, deduplicated, held across a gap until it fills, resumed from the last contiguous seq;
//   * tells replayed events from live ones (replay_end) and heals a gap that a replay leaves open;
//   * keeps live text (text_delta) in one buffer per reply, closed by the stored agent_message;
//   * sends frames with a msg_id and resends the ones not acknowledged after a reconnect (the server
//     deduplicates them by msg_id), resolving each helper's promise with its ack or rejecting it with the error;
//   * tells an expired token from an outage (closing message, or GET /token when a socket will not open).
//
// Types: mozaiks-client.d.ts next to this file.

const TOKEN_SUBPROTOCOL = "mozaiks.jwt";
/** Texts are limited in UTF-8 bytes (every valid text then fits in a 32 KB frame). */
export const MAX_TEXT_BYTES = 16000;

/** A refused frame (an `error` reply), or a client-side refusal (`text_too_long`, `not_connected`...). */
export class MozaiksError extends Error {
  constructor(code, message, reply) {
    super(`${code}: ${message}`);
    this.name = "MozaiksError";
    this.code = code;
    this.reply = reply || null;
  }
}

/** Reassembles posts into messages: `{"type":"batch"}` and `{"type":"chunk"}` (one per connection). */
export class Reassembler {
  constructor() {
    this.parts = [];
  }
  /** Feed one post (its JSON text or parsed value); returns the messages it completes, in order. */
  feed(post) {
    const data = typeof post === "string" ? JSON.parse(post) : post;
    if (data && data.type === "batch" && Array.isArray(data.messages)) {
      return data.messages.flatMap((message) => this.feed(message));
    }
    if (!data || data.type !== "chunk") return [data];
    // Part 0 again means the server restarted the sequence with smaller parts: drop what was collected.
    if (data.part === 0) this.parts = [];
    if (data.part !== this.parts.length) {
      this.parts = [];
      return [];
    }
    this.parts.push(data.data);
    if (this.parts.length < data.parts) return [];
    const text = this.parts.join("");
    this.parts = [];
    return [JSON.parse(text)];
  }
}

const encoder = new TextEncoder();
function utf8Bytes(text) {
  return encoder.encode(text).length;
}

function checkText(text, field) {
  if (typeof text !== "string") throw new MozaiksError("invalid_field", `${field} must be a string`);
  const size = utf8Bytes(text);
  if (size > MAX_TEXT_BYTES) {
    throw new MozaiksError("text_too_long", `${field} is ${size} bytes of UTF-8; the limit is ${MAX_TEXT_BYTES}`);
  }
}

function randomId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/** One session as the client follows it: events in order, and the live text of its replies. */
class SessionTrack {
  constructor(id) {
    this.id = id;
    this.lastSeq = 0; // the highest seq with nothing missing before it
    this.ahead = new Map(); // events past a gap, held until the gap fills
    this.replays = new Set(); // msg_ids of resumes sent whose replay_end (or error) has not arrived
    this.gapTimer = null;
    this.buffers = new Map(); // message_id -> {agent, turn, points: string[]}
    this.closedReplies = new Set(); // message_ids whose agent_message arrived
  }
}

/**
 * The client. Listen with `client.on(type, listener)`; types: "event", "delta", "replayEnd", "reply", "status",
 * "closing", "authError", "error". See mozaiks-client.d.ts.
 */
export class MozaiksClient {
  constructor(options) {
    if (!options || !options.url) throw new TypeError("MozaiksClient needs options.url");
    this.options = {
      tokenInQuery: false,
      initialBackoffMs: 500,
      maxBackoffMs: 15000,
      gapTimeoutMs: 2000,
      pingIntervalMs: 540000, // API Gateway closes connections idle for 10 minutes
      ...options,
    };
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new TypeError("no WebSocket implementation: pass options.WebSocket");
    this.token = options.token || "";
    this.socket = null;
    this.status = "idle";
    this.retries = 0;
    this.everOpened = false;
    this.stopped = false;
    this.sessions = new Map(); // session id -> SessionTrack
    this.pending = new Map(); // msg_id -> {frame, resolve, reject, sent}
    this.early = []; // events of a session whose start is not acknowledged yet
    this.listeners = new Map();
    this.reassembler = new Reassembler();
    this.timers = new Set();
  }

  // ---- listeners ---------------------------------------------------------------------------------------
  on(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }
  off(type, listener) {
    const set = this.listeners.get(type);
    if (set) set.delete(listener);
  }
  emit(type, value) {
    for (const listener of [...(this.listeners.get(type) || [])]) {
      try {
        listener(value);
      } catch (error) {
        if (type !== "error") this.emit("error", error);
      }
    }
  }

  // ---- connection --------------------------------------------------------------------------------------
  /** Open the socket (and keep it open: reconnects follow every close until `close()`). */
  connect() {
    this.stopped = false;
    this.open();
    return this;
  }

  /** Stop for good: no reconnect; pending frames are rejected. */
  close() {
    this.stopped = true;
    this.stopPing();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const track of this.sessions.values()) this.clearGapTimer(track);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, "closed by the client");
    for (const [msgId, entry] of this.pending) {
      entry.reject(new MozaiksError("closed", "the client was closed before the frame was acknowledged"));
      this.pending.delete(msgId);
    }
    this.setStatus("closed");
  }

  /** Close the socket as a network failure would (for tests and "drop" buttons): the client reconnects. */
  drop() {
    if (this.socket) this.socket.close(4000, "dropped by the client");
  }

  get connected() {
    return !!this.socket && this.socket.readyState === 1 && this.status === "open";
  }

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", status);
  }

  async currentToken() {
    if (typeof this.options.getToken === "function") {
      this.token = (await this.options.getToken()) || this.token;
    }
    return this.token;
  }

  async open() {
    if (this.stopped) return;
    this.setStatus(this.everOpened ? "reconnecting" : "connecting");
    let token;
    try {
      token = await this.currentToken();
    } catch (error) {
      this.emit("error", error);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    let url = this.options.url;
    let protocols;
    if (this.options.tokenInQuery) {
      url += `${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    } else {
      // Browsers cannot set headers on a WebSocket: the token rides as a second subprotocol. The server
      // answers with the marker only.
      protocols = [TOKEN_SUBPROTOCOL, token];
    }
    let socket;
    try {
      socket = protocols ? new this.WebSocket(url, protocols) : new this.WebSocket(url);
    } catch (error) {
      this.emit("error", error);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.reassembler = new Reassembler();
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.everOpened = true;
      this.retries = 0;
      this.setStatus("open");
      this.onOpen();
    };
    socket.onmessage = (message) => {
      if (this.socket !== socket) return;
      this.onPost(message.data);
    };
    const lost = (event) => {
      if (this.socket !== socket) return; // handled already (or replaced)
      this.socket = null;
      this.stopPing();
      if (this.stopped) return;
      this.setStatus("offline");
      if (!opened) this.diagnose(event);
      else this.scheduleReconnect();
    };
    // A browser follows an error with a close; some implementations (Node 20's) fire only the error when
    // the upgrade is refused: either one ends this socket.
    socket.onerror = (event) => {
      if (!opened) lost(event);
    };
    socket.onclose = lost;
  }

  /** A socket that never opened: an expired token, or an outage? A browser cannot read the status. */
  async diagnose(event) {
    const httpUrl = this.options.httpUrl;
    if (!httpUrl) {
      this.scheduleReconnect();
      return;
    }
    let verdict = null;
    try {
      const response = await fetch(`${httpUrl.replace(/\/$/, "")}/token`, {
        headers: { Authorization: `Bearer ${this.token}` },
      });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json().catch(() => ({}));
        verdict = { status: response.status, reason: body.error || "invalid_token", message: body.message || "" };
      }
    } catch (_) {
      // No answer either: an outage, or the network.
    }
    if (verdict) {
      this.emit("authError", verdict);
      // Retrying with the same token cannot work; with a token source it can.
      if (typeof this.options.getToken === "function") this.scheduleReconnect();
      else this.setStatus("unauthorized");
      return;
    }
    this.scheduleReconnect(event);
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const { initialBackoffMs, maxBackoffMs } = this.options;
    const cap = Math.min(maxBackoffMs, initialBackoffMs * 2 ** this.retries++);
    // Jittered: clients cut off together must not all come back at the same instant.
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.later(delay, () => this.open());
  }

  onOpen() {
    // A new connection follows nothing: resume every session from its last contiguous seq, then send again
    // every frame that was not acknowledged (the server deduplicates them by msg_id).
    for (const track of this.sessions.values()) {
      track.replays.clear(); // replays asked on the old socket will never end
      this.sendResume(track);
    }
    for (const entry of this.pending.values()) this.transmit(entry.frame);
    this.startPing();
  }

  startPing() {
    this.stopPing();
    const every = this.options.pingIntervalMs;
    if (every > 0) this.pingTimer = setInterval(() => this.transmit({ type: "ping" }), every);
  }
  stopPing() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  transmit(frame) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Send a frame that has a msg_id; the promise settles with its ack (or its error reply). */
  request(frame) {
    return new Promise((resolve, reject) => {
      this.pending.set(frame.msg_id, { frame, resolve, reject });
      this.transmit(frame); // not connected: sent by onOpen
    });
  }

  // ---- frames ------------------------------------------------------------------------------------------
  /** Start a session; resolves with the ack: `{session_id, duplicate}`. */
  start(workflow, options = {}) {
    const frame = { type: "start", workflow, msg_id: options.msgId || `start-${randomId()}` };
    if (options.message !== undefined && options.message !== null && options.message !== "") {
      checkText(options.message, "message");
      frame.message = options.message;
    }
    return this.request(frame).then((ack) => {
      this.follow(ack.session_id);
      return ack;
    });
  }

  /** Send a user message to a session (its msg_id makes a resend harmless). */
  userMessage(sessionId, text, options = {}) {
    checkText(text, "text");
    if (!text) throw new MozaiksError("invalid_field", "text must not be empty");
    const track = this.follow(sessionId);
    return this.request({ type: "user_message", session_id: track.id, msg_id: options.msgId || `m-${randomId()}`, text });
  }

  /** Answer an input_request: `{text}`, `{data}` or both. */
  answer(sessionId, requestId, content = {}, options = {}) {
    const frame = { type: "answer", session_id: sessionId, msg_id: options.msgId || `a-${randomId()}`, request_id: requestId };
    if (content.text !== undefined && content.text !== null) {
      checkText(content.text, "text");
      frame.text = content.text;
    }
    if (content.data !== undefined && content.data !== null) frame.data = content.data;
    if (frame.text === undefined && frame.data === undefined) {
      throw new MozaiksError("missing_field", "an answer needs text or data");
    }
    this.follow(sessionId);
    return this.request(frame);
  }

  /** Cancel a session (it ends with run_completed, status "cancelled"). */
  cancel(sessionId, options = {}) {
    this.follow(sessionId);
    return this.request({ type: "cancel", session_id: sessionId, msg_id: options.msgId || `c-${randomId()}` });
  }

  /**
   * Follow a session: replay its events after `afterSeq` (default: what this client has), then live ones.
   * Returns the session's track; its events come through "event".
   */
  resume(sessionId, afterSeq) {
    const track = this.follow(sessionId);
    if (typeof afterSeq === "number" && afterSeq >= 0 && afterSeq !== track.lastSeq) {
      // Back to an earlier point (replay it all again), or past history the caller already has.
      track.lastSeq = afterSeq;
      for (const seq of [...track.ahead.keys()]) if (seq <= afterSeq) track.ahead.delete(seq);
    }
    this.sendResume(track);
    return { sessionId, lastSeq: track.lastSeq };
  }

  /** The highest seq this client has of a session with nothing missing before it. */
  lastSeq(sessionId) {
    const track = this.sessions.get(sessionId);
    return track ? track.lastSeq : 0;
  }

  follow(sessionId) {
    let track = this.sessions.get(sessionId);
    if (!track) {
      track = new SessionTrack(sessionId);
      this.sessions.set(sessionId, track);
    }
    return track;
  }

  /** Stop following a session (its events are dropped from now on). */
  forget(sessionId) {
    const track = this.sessions.get(sessionId);
    if (track) this.clearGapTimer(track);
    this.sessions.delete(sessionId);
  }

  sendResume(track) {
    const msgId = `r-${randomId()}`;
    if (this.transmit({ type: "resume", session_id: track.id, after_seq: track.lastSeq, msg_id: msgId })) {
      track.replays.add(msgId);
    }
  }

  // ---- posts -> messages -> events ---------------------------------------------------------------------
  onPost(raw) {
    let messages;
    try {
      messages = this.reassembler.feed(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch (error) {
      this.emit("error", error);
      return;
    }
    for (const message of messages) this.onMessage(message);
  }

  onMessage(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "text_delta") {
      this.onDelta(message);
      return;
    }
    if (typeof message.seq !== "number") {
      this.onReply(message);
      return;
    }
    const track = this.sessions.get(message.session_id);
    if (!track) {
      // The first events of a new session can overtake the ack that names it.
      if ([...this.pending.values()].some((p) => p.frame.type === "start")) this.early.push(message);
      return;
    }
    this.accept(track, message);
  }

  accept(track, event) {
    if (event.seq <= track.lastSeq || track.ahead.has(event.seq)) return; // seen already (replay overlap)
    track.ahead.set(event.seq, event);
    while (track.ahead.has(track.lastSeq + 1)) {
      const next = track.ahead.get(track.lastSeq + 1);
      track.ahead.delete(next.seq);
      track.lastSeq = next.seq;
      this.deliver(track, next);
    }
    if (track.ahead.size === 0) this.clearGapTimer(track);
    else if (track.replays.size === 0) this.armGapTimer(track);
  }

  armGapTimer(track) {
    if (track.gapTimer) return;
    // Usually the missing events are in flight (a live post overtook a replay); if not, ask again.
    const at = track.lastSeq;
    track.gapTimer = this.later(this.options.gapTimeoutMs, () => {
      track.gapTimer = null;
      if (track.lastSeq === at && track.ahead.size && this.sessions.get(track.id) === track) this.sendResume(track);
    });
  }

  clearGapTimer(track) {
    if (track.gapTimer) {
      clearTimeout(track.gapTimer);
      this.timers.delete(track.gapTimer);
      track.gapTimer = null;
    }
  }

  deliver(track, event) {
    if (event.type === "agent_message") {
      const messageId = `${event.session_id}:${event.turn}`;
      const buffer = track.buffers.get(messageId);
      track.buffers.delete(messageId);
      track.closedReplies.add(messageId);
      if (buffer) {
        this.emit("delta", {
          sessionId: event.session_id, messageId, agent: event.agent, turn: event.turn, text: event.content, done: true, kept: true,
        });
      }
    } else if (event.type === "error" || event.type === "input_request" || event.type === "run_completed") {
      // A reply whose agent_message never came was not kept (the step failed and will run again).
      for (const [messageId, buffer] of track.buffers) {
        this.emit("delta", {
          sessionId: track.id, messageId, agent: buffer.agent, turn: buffer.turn, text: buffer.points.join(""), done: true, kept: false,
        });
      }
      track.buffers.clear();
    }
    this.emit("event", event);
  }

  onDelta(delta) {
    const track = this.sessions.get(delta.session_id);
    if (!track || track.closedReplies.has(delta.message_id)) return;
    let buffer = track.buffers.get(delta.message_id);
    if (!buffer) {
      buffer = { agent: delta.agent, turn: delta.turn, points: [] };
      track.buffers.set(delta.message_id, buffer);
    }
    // Offsets count Unicode code points, not UTF-16 units: [...text] splits the same way.
    if (delta.offset > buffer.points.length) return; // a piece was missed: the agent_message brings it all
    buffer.points.splice(delta.offset, buffer.points.length - delta.offset, ...delta.text);
    this.emit("delta", {
      sessionId: delta.session_id, messageId: delta.message_id, agent: delta.agent, turn: delta.turn, text: buffer.points.join(""), done: false, kept: null,
    });
  }

  onReply(reply) {
    if (reply.type === "closing") {
      this.emit("closing", reply);
      if (reply.code === "token_expired") this.emit("authError", { status: 401, reason: "expired", message: reply.message });
      return;
    }
    if (reply.type === "replay_end") {
      this.onReplayEnd(reply);
      return;
    }
    if (reply.type === "error" && reply.session_id && this.sessions.has(reply.session_id)) {
      const track = this.sessions.get(reply.session_id);
      if (track.replays.delete(reply.msg_id)) this.emit("error", new MozaiksError(reply.code, reply.message, reply));
    }
    const entry = reply.msg_id ? this.pending.get(reply.msg_id) : undefined;
    if (entry) {
      this.pending.delete(reply.msg_id);
      if (reply.type === "ack") {
        if (entry.frame.type === "start" && reply.session_id) {
          this.follow(reply.session_id);
          const early = this.early;
          this.early = [];
          for (const event of early) this.onMessage(event);
        }
        entry.resolve(reply);
      } else if (reply.type === "error") {
        entry.reject(new MozaiksError(reply.code, reply.message, reply));
      } else {
        entry.resolve(reply);
      }
    }
    this.emit("reply", reply);
  }

  onReplayEnd(end) {
    const track = this.sessions.get(end.session_id);
    if (track) {
      track.replays.delete(end.msg_id);
      if (end.more) {
        this.sendResume(track); // the replay was cut at its page size: the next page
      } else if (track.ahead.size && track.replays.size === 0) {
        this.sendResume(track); // the replay is over and a gap is still open: it is real
      }
    }
    this.emit("replayEnd", end);
  }
}

export default MozaiksClient;
