/**
 * How tests tell the fake CLOVA server what to answer. Every API takes either a queue of replies
 * (consumed one per request; an exhausted queue answers HTTP 500 so a test notices) or a function of
 * the request, for long scripted conversations.
 */

/** A tool call the fake should emit; `id` defaults to a fresh `call_…` id. */
export interface ScriptedToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}

/**
 * Holds a streamed reply after `afterTokens` token events until `until` settles, so a test can watch
 * the answer arrive piece by piece (what the user sees mid-stream) without depending on timing.
 */
export interface StreamPause {
  afterTokens: number;
  until: Promise<unknown>;
}

/** Failures the fake can inject in place of a reply. */
export type ScriptedFault =
  /** Waits `delayMs` before sending response headers, then answers `then` (default: an empty text). */
  | { fault: 'slow-first-byte'; delayMs: number; then?: ChatAnswer }
  /** Streams the first `afterTokens` token events of `text`, then destroys the socket. JSON calls: cut the body. */
  | { fault: 'cut-mid-stream'; text: string; afterTokens?: number; pauses?: StreamPause[] }
  /** Sends `afterTokens` token events, then goes quiet for `stallMs` before finishing (body timeout tests). */
  | { fault: 'stall-mid-stream'; text: string; afterTokens?: number; stallMs: number }
  /** A body that is not valid JSON (JSON calls) or a token event whose data is not JSON (streams). */
  | { fault: 'malformed-json' }
  /** HTTP 500 with the `50000` envelope. */
  | { fault: 'http-500' }
  /** HTTP 429 `42901` with `Retry-After` (seconds, default 1; `retryAfter: 'http-date'` sends a date instead). */
  | { fault: 'rate-limit'; retryAfterSeconds?: number; retryAfter?: 'seconds' | 'http-date' | 'none' }
  /** Streams `text` (may be empty), then an `error` event; default code 40003 "Context length exceeded". */
  | { fault: 'error-event'; text?: string; code?: string; message?: string; pauses?: StreamPause[] }
  /** Any envelope, e.g. HTTP 200 carrying code 40001: non-20000 codes are errors even on HTTP 200. */
  | { fault: 'status'; httpStatus: number; code: string; message: string };

/** A successful chat answer. `thinking` is streamed before the text (HCX-007). */
export interface ChatAnswer {
  text?: string;
  thinking?: string;
  toolCalls?: ScriptedToolCall[];
  /** Overrides the finish reason (`length`, `stop`, …); default from the reply's shape. */
  finishReason?: string;
  /** Streams the whole SSE body in slices of this many bytes, flushed one by one (split-boundary tests). */
  byteChunkSize?: number;
  /** Streamed calls only: where the stream holds until the test lets it go on. */
  pauses?: StreamPause[];
}

export type ChatReply = ChatAnswer | ScriptedFault;

/** What a chat responder function sees. */
export interface ChatRequestView {
  model: string;
  apiVersion: 'v1' | 'v3';
  streaming: boolean;
  messages: Array<{ role: string; content?: unknown; toolCalls?: unknown; toolCallId?: string }>;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export type Responder<View, Reply> = Reply[] | ((request: View) => Reply | Promise<Reply>);

export type ChatResponder = Responder<ChatRequestView, ChatReply>;

/** A reranker answer: which of the sent document ids are cited, and the generated answer. */
export interface RerankerAnswer {
  citedIds: string[];
  /** Default: `답변: ` plus each cited document's first sentence wrapped in its positional `<docN>` tag. */
  answer?: string;
  suggestedQueries?: string[];
}

export interface RerankerRequestView {
  query: string;
  documents: Array<{ id: string; doc: string }>;
  body: Record<string, unknown>;
}

export type RerankerResponder = Responder<RerankerRequestView, RerankerAnswer | ScriptedFault>;

/** A RAG Reasoning answer: tool calls (a search step) or a final `text` with `<doc-ID>…</doc-ID>` spans. */
export interface RagReasoningAnswer {
  text?: string;
  thinking?: string;
  toolCalls?: ScriptedToolCall[];
}

export interface RagReasoningRequestView {
  messages: ChatRequestView['messages'];
  tools: Array<{ type: string; function: { name: string; description: string; parameters: Record<string, unknown> } }>;
  body: Record<string, unknown>;
}

export type RagReasoningResponder = Responder<RagReasoningRequestView, RagReasoningAnswer | ScriptedFault>;

export interface SummarizationRequestView {
  texts: string[];
  body: Record<string, unknown>;
}

export type SummarizationResponder = Responder<SummarizationRequestView, { text: string } | ScriptedFault>;

/** Reads the next reply of a responder; `undefined` when a queue is exhausted. */
export async function nextReply<View, Reply>(responder: Responder<View, Reply>, view: View): Promise<Reply | undefined> {
  if (Array.isArray(responder)) return responder.shift();
  return responder(view);
}

export function isFault(reply: object): reply is ScriptedFault {
  return 'fault' in reply;
}

/** Wraps `text` in a RAG citation span for `docId`, as RAG Reasoning writes it: `<doc-ID>text</doc-ID>`. */
export function citeSpan(docId: string, text: string): string {
  return `<${docId}>${text}</${docId}>`;
}
