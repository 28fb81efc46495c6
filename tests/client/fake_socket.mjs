// A stand-in for the browser's WebSocket: the test plays the server (posts, closes) and reads what was sent.

export class FakeSocket {
  static instances = [];

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    FakeSocket.instances.push(this);
  }

  static reset() {
    FakeSocket.instances = [];
  }

  static latest() {
    return FakeSocket.instances[FakeSocket.instances.length - 1];
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data));
  }

  close(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedWith = { code, reason };
    queueMicrotask(() => this.onclose && this.onclose({ code, reason }));
  }

  // ---- the server's side ----
  accept() {
    this.readyState = 1;
    this.onopen && this.onopen({});
  }

  post(message) {
    this.onmessage({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }

  refuse() {
    this.readyState = 3;
    this.onclose && this.onclose({ code: 1006, reason: "" });
  }

  drop() {
    this.refuse();
  }

  sentOf(type) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

export const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Wait (bounded) until `check()` is truthy; returns its value. */
export async function until(check, what = "condition", timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A session event as the server would post it. */
export function ev(sessionId, seq, type = "usage", fields = {}) {
  return { type, session_id: sessionId, seq, ts: "2026-12-01T00:00:00.000Z", ...fields };
}
