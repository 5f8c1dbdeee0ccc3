/**
 * Provider specs: the model and retrieval capabilities the engine and the RAG flow depend on.
 * Types only. Implementations live in `providers/<vendor>/` (and `rag/` for retrievers); nothing
 * outside a vendor folder knows that vendor's field names.
 */

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A function call requested by a model. `arguments` is always a parsed object here, whatever the wire said. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** On assistant messages that requested tools; must be echoed back verbatim on the next call. */
  toolCalls?: ToolCall[];
  /** On `tool` messages: the id of the call this message answers. */
  toolCallId?: string;
}

/** A tool the model may call, described with a JSON Schema object for its parameters. */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | { name: string };

export interface ChatParams {
  /** Output reserve B in the budget A + B ≤ X. */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  stop?: string[];
  seed?: number;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** Reasoning effort for models that think (HCX-007); ignored elsewhere. */
  thinking?: 'none' | 'low' | 'medium' | 'high';
  signal?: AbortSignal;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'unknown';

export interface ChatCompletion {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  thinking?: string;
  /** The provider's request id, when it gave one; quoted in logs so support tickets can find a call. */
  requestId?: string;
}

/** Streamed progress of one chat call. `completed` is always last and carries the whole result. */
export type ChatEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'thinking-delta'; text: string }
  | { type: 'completed'; completion: ChatCompletion };

/** A chat model (CLOVA chat v1/v3, an OpenAI-compatible server, …). */
export interface ChatModel {
  /** Model id as the provider knows it, e.g. `HCX-005`. */
  readonly modelId: string;
  /** Context window X (input + output) in tokens. */
  readonly contextWindow: number;
  /** Largest `maxTokens` the model accepts. */
  readonly maxOutputTokens: number;
  stream(messages: ChatMessage[], params: ChatParams): AsyncIterable<ChatEvent>;
  complete(messages: ChatMessage[], params: ChatParams): Promise<ChatCompletion>;
}

/** A tool-calling model dedicated to retrieval-augmented reasoning (CLOVA RAG Reasoning, or a chat model). */
export interface Reasoner {
  reason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): Promise<ChatCompletion>;
  /** The same call, streamed (ends with one `completed` event); absent where the API cannot stream (RAG Reasoning). */
  streamReason?(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): AsyncIterable<ChatEvent>;
}

export interface SummarizeOptions {
  /** The summary so far; a rolling summary must carry it forward. */
  priorSummary?: string;
  signal?: AbortSignal;
}

export interface Summarizer {
  summarize(texts: string[], options?: SummarizeOptions): Promise<string>;
}

export type TokenCountSource = 'estimate' | 'api' | 'tokenizer';

/** Counts tokens per message (same order as given). */
export interface TokenCounter {
  readonly source: TokenCountSource;
  countMessages(messages: ChatMessage[], signal?: AbortSignal): Promise<number[]>;
  countText(text: string): number;
}

export interface Embedder {
  readonly dimensions: number;
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

/** A document as retrieval sees it. `id` is stable across index builds. */
export interface Doc {
  id: string;
  content: string;
  title?: string;
  url?: string;
  /** Where it came from (file path, API name), for operators. */
  source?: string;
}

export interface ScoredDoc {
  doc: Doc;
  score: number;
}

export interface Retriever {
  search(query: string, topK: number, signal?: AbortSignal): Promise<ScoredDoc[]>;
}

export interface RerankResult {
  /** The documents judged relevant, best first (for CLOVA: the cited documents, in citation order). */
  ranked: ScoredDoc[];
  /** Re-search suggestions; typically non-empty when nothing relevant was found. */
  suggestedQueries: string[];
}

export interface Reranker {
  rerank(query: string, docs: Doc[], signal?: AbortSignal): Promise<RerankResult>;
}
