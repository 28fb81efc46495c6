// Types of mozaiks-client.js: the MozaiksAI Runtime WebSocket protocol (docs/websocket-protocol.md).

/** Texts (`text`, `message`) are limited to this many bytes of UTF-8. */
export declare const MAX_TEXT_BYTES: 16000;

// ---- session events (numbered, stored, replayed) ---------------------------------------------------------

interface EventBase {
  session_id: string;
  /** 1, 2, 3 ... per session, no gaps, no repeats. */
  seq: number;
  /** ISO 8601 UTC. */
  ts: string;
}

export interface RunStarted extends EventBase {
  type: "run_started";
  workflow: string;
  agents: string[];
}
export interface UserMessageEvent extends EventBase {
  type: "user_message";
  /** The msg_id of the input ("initial" for a workflow's initial message). */
  input_id: string;
  text: string;
}
export interface SpeakerSelected extends EventBase {
  type: "speaker_selected";
  agent: string;
  turn: number;
}
export interface AgentMessage extends EventBase {
  type: "agent_message";
  agent: string;
  content: string;
  turn: number;
}
export interface ToolCallEvent extends EventBase {
  type: "tool_call";
  agent: string;
  call: { id: string; name: string; arguments: string };
  ui: boolean;
}
export interface ToolResult extends EventBase {
  type: "tool_result";
  agent: string;
  tool_call_id: string;
  name: string;
  content: string;
  is_error: boolean;
}
export interface Handoff extends EventBase {
  type: "handoff";
  from_agent: string;
  /** An agent, "user", or "terminate". */
  to: string;
  reason: string;
}
export interface StructuredOutput extends EventBase {
  type: "structured_output";
  agent: string;
  model: string;
  data: Record<string, unknown>;
}
export interface InputRequest {
  request_id: string;
  kind: "user_turn" | "ui_tool";
  prompt: string;
  agent: string | null;
  tool_name: string | null;
  tool_call_id: string | null;
  arguments: Record<string, unknown>;
  /** UI tools: what the tool's function returned for the client to render. */
  ui: Record<string, unknown> | null;
  /** UI tools: the client component that renders `ui` (tools.yaml `ui.component`, or the component a tool
   * waits on, such as a migrated MozaiksAI tool's `use_ui_tool("AgentAPIKeyInput", ...)`). */
  component: string | null;
  /** UI tools: in the chat, or in a side panel. */
  display: "inline" | "artifact" | null;
}
export interface InputRequested extends EventBase {
  type: "input_request";
  request: InputRequest;
}
export interface ContextUpdated extends EventBase {
  type: "context_updated";
  /** Variables set or changed by the step. */
  changed: string[];
  removed: string[];
  /** Every variable the client may see, as they are after the step (never those read from the environment). */
  variables: Record<string, unknown>;
}
export interface Usage extends EventBase {
  type: "usage";
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
  total_prompt_tokens: number;
  total_completion_tokens: number;
  total_cost: number;
}
export interface RunCompleted extends EventBase {
  type: "run_completed";
  status: "completed" | "max_turns" | "cancelled";
  reason: string;
}
export interface ErrorEvent extends EventBase {
  type: "error";
  code: string;
  message: string;
  recoverable: boolean;
  /** invalid_input, input_not_consumed: the msg_id of the input. */
  input_id?: string | null;
}

export type SessionEvent =
  | RunStarted
  | UserMessageEvent
  | SpeakerSelected
  | AgentMessage
  | ToolCallEvent
  | ToolResult
  | Handoff
  | StructuredOutput
  | InputRequested
  | ContextUpdated
  | Usage
  | RunCompleted
  | ErrorEvent;

// ---- control replies (no seq, not stored) ----------------------------------------------------------------

export interface Ack {
  type: "ack";
  msg_id: string | null;
  session_id: string | null;
  duplicate: boolean;
}
export interface Pong {
  type: "pong";
  msg_id: string | null;
}
export interface ErrorReply {
  type: "error";
  code: string;
  message: string;
  msg_id: string | null;
  session_id: string | null;
}
export interface ReplayEnd {
  type: "replay_end";
  msg_id: string | null;
  session_id: string;
  after_seq: number;
  /** The last replayed seq (after_seq when nothing was replayed). */
  last_seq: number;
  /** The replay was cut at its page size; the client resumes again by itself. */
  more: boolean;
}
export interface Closing {
  type: "closing";
  /** "token_expired" */
  code: string;
  message: string;
}
export type ControlReply = Ack | Pong | ErrorReply | ReplayEnd | Closing;

/** A live piece of an agent's reply, as the server sends it (no seq, never stored). */
export interface TextDeltaMessage {
  type: "text_delta";
  session_id: string;
  agent: string;
  turn: number;
  message_id: string;
  /** In Unicode code points. */
  offset: number;
  text: string;
}

// ---- what the client emits -------------------------------------------------------------------------------

/** The live text of one reply so far (the client keeps the buffer; `text` is all of it). */
export interface Delta {
  sessionId: string;
  /** "<session_id>:<turn>" */
  messageId: string;
  agent: string;
  turn: number;
  text: string;
  /** True once the agent_message arrived (kept: true, text is the stored text) or the reply was dropped. */
  done: boolean;
  /** null while streaming; true: closed by its agent_message; false: the step failed, the text is void. */
  kept: boolean | null;
}

export interface AuthProblem {
  status: number;
  /** "expired", "invalid_signature", ... (the reasons of the protocol page's refusal table). */
  reason: string;
  message: string;
}

export type Status = "idle" | "connecting" | "open" | "offline" | "reconnecting" | "unauthorized" | "closed";

export interface ClientEvents {
  /** Session events: in seq order per session, each exactly once. */
  event: SessionEvent;
  delta: Delta;
  replayEnd: ReplayEnd;
  /** Every control reply (acks and errors also settle the helpers' promises). */
  reply: ControlReply;
  status: Status;
  closing: Closing;
  /** The token is refused or expired: get a new one (or pass options.getToken). */
  authError: AuthProblem;
  error: Error;
}

/** Any constructor shaped like the browser's WebSocket. */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ClientOptions {
  /** wss://{api}.execute-api.{region}.amazonaws.com/{stage}, or ws://localhost:8000/ws. */
  url: string;
  token?: string;
  /** Called before each connection: return a fresh token (renewal, or after "token_expired"). */
  getToken?: () => string | Promise<string>;
  /** The HTTP API's base URL (mozaiks serve: http://localhost:8000/api): lets the client tell an expired
   * token from an outage when a socket will not open (GET /token). */
  httpUrl?: string;
  /** Send the token as ?token= instead of the subprotocol (it then shows in URL logs). */
  tokenInQuery?: boolean;
  WebSocket?: WebSocketConstructor;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a gap may stay open (no replay pending) before the client resumes. */
  gapTimeoutMs?: number;
  /** Keepalive pings (API Gateway closes connections idle for 10 minutes); 0: none. */
  pingIntervalMs?: number;
}

export interface SendOptions {
  /** The frame's id; a resend with the same msg_id is deduplicated by the server. Generated when absent. */
  msgId?: string;
}

export declare class MozaiksError extends Error {
  /** A reply's code (`session_not_found`, `answer_expected`...) or `text_too_long`, `missing_field`, `closed`. */
  code: string;
  reply: ErrorReply | null;
  constructor(code: string, message: string, reply?: ErrorReply);
}

export declare class Reassembler {
  /** One post in (its text or parsed value); the messages it completes out (batches, chunks). */
  feed(post: string | object): Array<SessionEvent | ControlReply | TextDeltaMessage>;
}

export declare class MozaiksClient {
  constructor(options: ClientOptions);
  readonly status: Status;
  readonly connected: boolean;
  on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): void;
  /** Open the socket and keep it open (reconnecting with backoff) until close(). */
  connect(): this;
  close(): void;
  /** Close the socket as a network would: the client reconnects and resumes. */
  drop(): void;
  start(workflow: string, options?: SendOptions & { message?: string }): Promise<Ack & { session_id: string }>;
  userMessage(sessionId: string, text: string, options?: SendOptions): Promise<Ack>;
  answer(
    sessionId: string,
    requestId: string,
    content: { text?: string; data?: Record<string, unknown> },
    options?: SendOptions,
  ): Promise<Ack>;
  cancel(sessionId: string, options?: SendOptions): Promise<Ack>;
  /** Follow a session: replay after afterSeq (default: what the client has), then live. */
  resume(sessionId: string, afterSeq?: number): { sessionId: string; lastSeq: number };
  /** Stop following a session. */
  forget(sessionId: string): void;
  /** The highest seq of the session with nothing missing before it. */
  lastSeq(sessionId: string): number;
}

export default MozaiksClient;
