import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { modelInfo, type ModelInfoOverrides } from '../model-catalogue.js';
import type { HttpAgentOptions } from '../http/http-agent.js';
import { CredentialStatus } from '../http/credential-status.js';
import { createVendorTransport, type ProviderTransport, type ProviderCall } from '../http/provider-transport.js';
import { RateLimiter, type RateBudget, type RateBudgetFactory, type RateLimits } from '../http/rate-limiter.js';
import type { RetryPolicy, Sleep } from '../http/retry.js';
import { clovaErrorFromEnvelope, clovaErrorFromResponse, createClovaError } from './clova-errors.js';
import { readChatStream, type ClovaStreamEvent } from './clova-stream.js';
import {
  chatV1ResultSchema,
  chatV1TokenSchema,
  chatV3ResultSchema,
  chatV3TokenSchema,
  embeddingResultSchema,
  embeddingTokenizeResultSchema,
  envelopeSchema,
  ragReasoningResultSchema,
  rerankerResultSchema,
  slidingResultSchema,
  summarizationResultSchema,
  tokenizeV1ResultSchema,
  tokenizeV3ResultSchema,
  type ChatV1Request,
  type ChatV1Result,
  type ChatV3Request,
  type ChatV3Result,
  type EmbeddingResult,
  type RagReasoningRequest,
  type RagReasoningResult,
  type RerankerRequest,
  type RerankerResult,
  type SlidingWindowRequest,
  type SummarizationRequest,
  type TokenizeV3Result,
  type V1Message,
  type V3Message,
  type WireTool,
} from './wire-schemas.js';

/** The rate-limit buckets of the api-tools endpoints (chat calls use the model id). */
export type ClovaToolBucket = 'tokenize' | 'sliding' | 'summarization' | 'reranker' | 'rag-reasoning' | 'embedding';

export interface ClovaClientOptions {
  /** `nv-…` keys are sent as `Authorization: Bearer`; other keys use the legacy header pair. */
  apiKey: string;
  /** Legacy API Gateway key (`X-NCP-APIGW-API-KEY`), sent with a legacy key. */
  apigwKey?: string;
  /** Host, e.g. `https://clovastudio.stream.ntruss.com`, a VPC proxy, or a local fake. */
  baseUrl: string;
  /** Legacy app path prefix. */
  pathPrefix?: '/testapp' | '/serviceapp';
  /** Legacy app id appended to api-tools paths. */
  appId?: string;
  /** Prefix of the `X-NCP-CLOVASTUDIO-REQUEST-ID` sent with every call. Default `threadline`. */
  requestIdPrefix?: string;
  http?: HttpAgentOptions & { requestTimeoutMs?: number; streamTimeoutMs?: number };
  retry?: Partial<RetryPolicy>;
  /** Local limiter per model id or tool bucket; replaces the catalogue defaults for that bucket. */
  rateLimits?: Partial<Record<string, RateLimits>>;
  /** Window of every local limiter (one minute for the real service). */
  rateLimitWindowMs?: number;
  /**
   * Where each bucket's admissions are counted, e.g. a budget all replicas share through Redis
   * (`createRateBudgets`). Default: a `RateLimiter` in this client.
   */
  rateBudgetFor?: RateBudgetFactory;
  /** Catalogue overrides, for the limiter defaults of custom models. */
  modelOverrides?: Record<string, ModelInfoOverrides>;
  logger: Logger;
  metrics?: Metrics;
  /** Replaces the real wait between retries (tests record the waits). */
  sleep?: Sleep;
}

/** Per-call options. */
export interface ClovaCallOptions {
  signal?: AbortSignal;
  /** Request id to send; a fresh one otherwise. */
  requestId?: string;
}

/** A parsed `result` with the request id it was sent with. */
export interface ClovaResponse<Result> {
  result: Result;
  requestId: string;
}

// Documented for test keys by third-party copies of the usage policy; other tools are unlimited until configured.
export const CLOVA_DEFAULT_TOOL_LIMITS: Readonly<Partial<Record<ClovaToolBucket, RateLimits>>> = {
  embedding: { requestsPerMinute: 60, tokensPerMinute: 40_000 },
};

const encoder = new TextEncoder();

/** A quick local token estimate (one per Hangul syllable, one per 4 bytes otherwise), for limiter reservations. */
export function estimateClovaTokens(text: string): number {
  let hangul = 0;
  let otherBytes = 0;
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint >= 0xac00 && codePoint <= 0xd7a3) hangul += 1;
    else otherBytes += encoder.encode(character).length;
  }
  return hangul + Math.ceil(otherBytes / 4);
}

function estimateMessagesTokens(messages: Array<{ content: string }>, extra?: unknown): number {
  const content = messages.reduce((sum, message) => sum + estimateClovaTokens(message.content) + 3, 0);
  return content + (extra === undefined ? 0 : estimateClovaTokens(JSON.stringify(extra)));
}

/**
 * Typed access to every CLOVA Studio API the bot uses, over one keep-alive pool with timeouts,
 * retries, a per-model rate limiter and typed errors. Field names are the wire's own.
 */
export class ClovaClient {
  private readonly transport: ProviderTransport;
  private readonly agent;
  private readonly limiters = new Map<string, RateBudget>();
  private readonly baseUrl: string;
  /** Whether CLOVA accepted the key on the most recent call (read by `/readyz`). */
  readonly credentials = new CredentialStatus();

  constructor(private readonly options: ClovaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    ({ agent: this.agent, transport: this.transport } = createVendorTransport(
      'clova',
      { ...options, credentials: this.credentials },
      { errorFromResponse: clovaErrorFromResponse, createError: createClovaError },
    ));
  }

  /** Chat Completions v1 (HCX-003, HCX-DASH-001), one JSON answer. */
  async chatV1(model: string, body: ChatV1Request, options: ClovaCallOptions = {}): Promise<ClovaResponse<ChatV1Result>> {
    const tokens = estimateMessagesTokens(body.messages) + (body.maxTokens ?? 100);
    return this.postJson(`/v1/chat-completions/${encodeURIComponent(model)}`, body, chatV1ResultSchema, { bucket: model, tokens, appId: false }, options);
  }

  /** Chat Completions v3 (HCX-005, HCX-DASH-002, HCX-007), one JSON answer. */
  async chatV3(model: string, body: ChatV3Request, options: ClovaCallOptions = {}): Promise<ClovaResponse<ChatV3Result>> {
    const tokens = estimateMessagesTokens(body.messages, body.tools) + (body.maxCompletionTokens ?? body.maxTokens ?? 512);
    return this.postJson(`/v3/chat-completions/${encodeURIComponent(model)}`, body, chatV3ResultSchema, { bucket: model, tokens, appId: false }, options);
  }

  /** Chat Completions v1 streamed: `token` deltas, then one `result`. Errors (also `event:error`) are thrown. */
  async *streamChatV1(model: string, body: ChatV1Request, options: ClovaCallOptions = {}): AsyncGenerator<ClovaStreamEvent<z.infer<typeof chatV1TokenSchema>, ChatV1Result>> {
    const tokens = estimateMessagesTokens(body.messages) + (body.maxTokens ?? 100);
    const call = this.call(`/v1/chat-completions/${encodeURIComponent(model)}`, body, { bucket: model, tokens, appId: false }, options);
    const stream = await this.transport.openStream(call);
    yield* readChatStream(stream, { token: chatV1TokenSchema, result: chatV1ResultSchema, textOf: (token) => token.message?.content ?? '', requestId: call.requestId ?? '' });
  }

  /** Chat Completions v3 streamed: text, thinking and tool-call deltas, then one `result`. */
  async *streamChatV3(model: string, body: ChatV3Request, options: ClovaCallOptions = {}): AsyncGenerator<ClovaStreamEvent<z.infer<typeof chatV3TokenSchema>, ChatV3Result>> {
    const tokens = estimateMessagesTokens(body.messages, body.tools) + (body.maxCompletionTokens ?? body.maxTokens ?? 512);
    const call = this.call(`/v3/chat-completions/${encodeURIComponent(model)}`, body, { bucket: model, tokens, appId: false }, options);
    const stream = await this.transport.openStream(call);
    yield* readChatStream(stream, { token: chatV3TokenSchema, result: chatV3ResultSchema, textOf: (token) => token.message?.content ?? '', requestId: call.requestId ?? '' });
  }

  /** Chat tokenizer for v1 models: a `count` per message (content only, no special tokens). */
  async tokenizeV1(model: string, messages: V1Message[], options: ClovaCallOptions = {}) {
    return this.postJson(`/v1/api-tools/chat-tokenize/${encodeURIComponent(model)}`, { messages }, tokenizeV1ResultSchema, { bucket: 'tokenize', tokens: 0, appId: true }, options);
  }

  /** Chat tokenizer for v3 models; tools and response format are counted separately. */
  async tokenizeV3(model: string, body: { messages: V3Message[]; tools?: WireTool[] }, options: ClovaCallOptions = {}): Promise<ClovaResponse<TokenizeV3Result>> {
    return this.postJson(`/v3/api-tools/chat-tokenize/${encodeURIComponent(model)}`, body, tokenizeV3ResultSchema, { bucket: 'tokenize', tokens: 0, appId: true }, options);
  }

  /** Sliding window: the messages that fit `maxTokens` for `model`, oldest turns dropped. */
  async slidingWindow(model: string, body: SlidingWindowRequest, options: ClovaCallOptions = {}) {
    return this.postJson(`/v1/api-tools/sliding/chat-messages/${encodeURIComponent(model)}`, body, slidingResultSchema, { bucket: 'sliding', tokens: 0, appId: true }, options);
  }

  /** Summarization v2. */
  async summarize(body: SummarizationRequest, options: ClovaCallOptions = {}) {
    const tokens = body.texts.reduce((sum, text) => sum + estimateClovaTokens(text), 0);
    return this.postJson('/v1/api-tools/summarization/v2', body, summarizationResultSchema, { bucket: 'summarization', tokens, appId: true }, options);
  }

  /** Reranker: the documents cited for `query`, an answer with `<docN>` tags, re-search suggestions. */
  async rerank(body: RerankerRequest, options: ClovaCallOptions = {}): Promise<ClovaResponse<RerankerResult>> {
    const tokens = estimateClovaTokens(body.query) + body.documents.reduce((sum, document) => sum + estimateClovaTokens(document.doc), 0) + (body.maxTokens ?? 1_024);
    return this.postJson('/v1/api-tools/reranker', body, rerankerResultSchema, { bucket: 'reranker', tokens, appId: true }, options);
  }

  /** RAG Reasoning: tool calls to search, or a final answer with `<doc-ID>` citation spans. */
  async ragReasoning(body: RagReasoningRequest, options: ClovaCallOptions = {}): Promise<ClovaResponse<RagReasoningResult>> {
    const tokens = estimateMessagesTokens(body.messages, body.tools) + (body.maxTokens ?? 1_024);
    return this.postJson('/v1/api-tools/rag-reasoning', body, ragReasoningResultSchema, { bucket: 'rag-reasoning', tokens, appId: true }, options);
  }

  /** Embedding v2 (bge-m3, 1,024 dimensions): one text per call. */
  async embed(text: string, options: ClovaCallOptions = {}): Promise<ClovaResponse<EmbeddingResult>> {
    return this.postJson('/v1/api-tools/embedding/v2', { text }, embeddingResultSchema, { bucket: 'embedding', tokens: estimateClovaTokens(text), appId: true }, options);
  }

  /** Token count of a text for embedding v2. */
  async tokenizeEmbedding(text: string, options: ClovaCallOptions = {}) {
    return this.postJson('/v1/api-tools/embedding/v2/tokenize', { text }, embeddingTokenizeResultSchema, { bucket: 'embedding', tokens: 0, appId: false }, options);
  }

  /** A fresh request id in this client's format (`<prefix>-<uuid>`). */
  newRequestId(): string {
    return `${this.options.requestIdPrefix ?? 'threadline'}-${randomUUID()}`;
  }

  /** Closes the connection pool and rejects calls waiting for a limiter. */
  async close(): Promise<void> {
    for (const limiter of this.limiters.values()) limiter.close(createClovaError({ kind: 'aborted', message: 'the client was closed', retryable: false }));
    await this.agent.close();
  }

  private limiterFor(bucket: string): RateBudget | undefined {
    const existing = this.limiters.get(bucket);
    if (existing) return existing;
    let limits = this.options.rateLimits?.[bucket] ?? CLOVA_DEFAULT_TOOL_LIMITS[bucket as ClovaToolBucket];
    if (!limits) {
      try {
        const info = modelInfo(bucket, this.options.modelOverrides?.[bucket]);
        limits = { requestsPerMinute: info.requestsPerMinute, tokensPerMinute: info.tokensPerMinute };
      } catch {
        return undefined;
      }
    }
    const windowed = { ...limits, ...(this.options.rateLimitWindowMs !== undefined && limits.windowMs === undefined ? { windowMs: this.options.rateLimitWindowMs } : {}) };
    const limiter = this.options.rateBudgetFor ? this.options.rateBudgetFor(bucket, windowed) : new RateLimiter(windowed);
    this.limiters.set(bucket, limiter);
    return limiter;
  }

  private headers(requestId: string): Record<string, string> {
    const headers: Record<string, string> = { 'x-ncp-clovastudio-request-id': requestId };
    if (this.options.apiKey.startsWith('nv-')) {
      headers.authorization = `Bearer ${this.options.apiKey}`;
    } else {
      headers['x-ncp-clovastudio-api-key'] = this.options.apiKey;
      if (this.options.apigwKey) headers['x-ncp-apigw-api-key'] = this.options.apigwKey;
    }
    return headers;
  }

  private call(path: string, body: unknown, route: { bucket: string; tokens: number; appId: boolean }, options: ClovaCallOptions): ProviderCall {
    const requestId = options.requestId ?? this.newRequestId();
    const fullPath = `${this.options.pathPrefix ?? ''}${path}${route.appId && this.options.appId ? `/${encodeURIComponent(this.options.appId)}` : ''}`;
    const limiter = this.limiterFor(route.bucket);
    return {
      url: `${this.baseUrl}${fullPath}`,
      path: fullPath,
      headers: this.headers(requestId),
      body,
      requestId,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(limiter ? { limiter, estimatedTokens: route.tokens } : {}),
    };
  }

  private async postJson<Schema extends z.ZodType>(
    path: string,
    body: unknown,
    schema: Schema,
    route: { bucket: string; tokens: number; appId: boolean },
    options: ClovaCallOptions,
  ): Promise<ClovaResponse<z.infer<Schema>>> {
    const call = this.call(path, body, route, options);
    const requestId = call.requestId ?? '';
    const { json, status } = await this.transport.postJson(call);
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) throw createClovaError({ kind: 'protocol', message: 'response is not a CLOVA status envelope', status, requestId, retryable: false, cause: envelope.error });
    // A non-20000 code is a failure even on HTTP 200.
    if (envelope.data.status.code !== '20000') {
      const failure = clovaErrorFromEnvelope(envelope.data.status, { httpStatus: status, requestId });
      if (failure.kind === 'auth') this.credentials.refused(failure);
      throw failure;
    }
    const result = schema.safeParse(envelope.data.result);
    if (!result.success) {
      throw createClovaError({ kind: 'protocol', message: `unexpected result shape: ${result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`, status, requestId, retryable: false });
    }
    return { result: result.data, requestId };
  }
}
