import { randomUUID } from 'node:crypto';
import type { EventSourceMessage } from 'eventsource-parser';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { HttpAgentOptions } from '../http/http-agent.js';
import { CredentialStatus } from '../http/credential-status.js';
import { createVendorTransport, type ProviderTransport, type ProviderCall } from '../http/provider-transport.js';
import { RateLimiter, type RateLimits } from '../http/rate-limiter.js';
import type { RetryPolicy, Sleep } from '../http/retry.js';
import { createOpenAiError, openAiErrorFromResponse } from './openai-errors.js';
import { chatChunkSchema, chatResponseSchema, embeddingsResponseSchema, type ChatChunk, type ChatResponse, type OpenAiChatRequest } from './wire-schemas.js';

export interface OpenAiClientOptions {
  /** Sent as `Authorization: Bearer`; local servers (Ollama, llama.cpp) may need none. */
  apiKey?: string;
  /** The part before `/chat/completions`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  http?: HttpAgentOptions & { requestTimeoutMs?: number; streamTimeoutMs?: number };
  retry?: Partial<RetryPolicy>;
  /** Optional local limiter for chat calls (the server's limits are not known in general). */
  rateLimits?: RateLimits;
  logger: Logger;
  metrics?: Metrics;
  sleep?: Sleep;
}

/** HTTP access to an OpenAI-compatible server: chat (JSON or SSE) and embeddings, on the shared transport. */
export class OpenAiClient {
  private readonly transport: ProviderTransport;
  private readonly agent;
  private readonly baseUrl: string;
  private readonly limiter: RateLimiter | undefined;
  /** Whether the server accepted the key on the most recent call (read by `/readyz`). */
  readonly credentials = new CredentialStatus();

  constructor(private readonly options: OpenAiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.limiter = options.rateLimits ? new RateLimiter(options.rateLimits) : undefined;
    ({ agent: this.agent, transport: this.transport } = createVendorTransport(
      'openai',
      { ...options, credentials: this.credentials },
      { errorFromResponse: openAiErrorFromResponse, createError: createOpenAiError },
    ));
  }

  /** A fresh request id, sent as `X-Request-Id` (and as CLOVA's header, which its OpenAI surface reads). */
  newRequestId(): string {
    return `threadline-${randomUUID()}`;
  }

  async chat(body: OpenAiChatRequest, options: { signal?: AbortSignal; requestId?: string } = {}): Promise<{ response: ChatResponse; requestId: string }> {
    const call = this.call('/chat/completions', { ...body, stream: false }, options, body.max_tokens);
    const { json, status } = await this.transport.postJson(call);
    const parsed = chatResponseSchema.safeParse(json);
    if (!parsed.success) throw createOpenAiError({ kind: 'protocol', message: 'unexpected chat response shape', status, retryable: false, requestId: call.requestId ?? '' });
    return { response: parsed.data, requestId: call.requestId ?? '' };
  }

  /** Streams chat chunks until `data: [DONE]` (or the end of the body). */
  async *streamChat(body: OpenAiChatRequest, options: { signal?: AbortSignal; requestId?: string } = {}): AsyncGenerator<ChatChunk> {
    const call = this.call('/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } }, options, body.max_tokens);
    const stream = await this.transport.openStream(call);
    let done = false;
    try {
      for await (const event of stream.events as AsyncGenerator<EventSourceMessage>) {
        if (done || event.data.trim() === '') continue;
        if (event.data.trim() === '[DONE]') {
          done = true;
          continue;
        }
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch (error) {
          throw createOpenAiError({ kind: 'protocol', message: 'a stream chunk is not JSON', status: 200, retryable: false, requestId: call.requestId ?? '', cause: error });
        }
        if (typeof json === 'object' && json !== null && 'error' in json) {
          throw openAiErrorFromResponse({ status: 200, bodyText: event.data, headers: {}, requestId: call.requestId });
        }
        const chunk = chatChunkSchema.safeParse(json);
        if (!chunk.success) throw createOpenAiError({ kind: 'protocol', message: 'unexpected stream chunk shape', status: 200, retryable: false, requestId: call.requestId ?? '' });
        yield chunk.data;
      }
    } finally {
      stream.close();
    }
  }

  /** Embeddings for several texts in one call, in input order. */
  async embed(model: string, texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const call = this.call('/embeddings', { model, input: texts, encoding_format: 'float' }, signal ? { signal } : {}, 0, false);
    const { json, status } = await this.transport.postJson(call);
    const parsed = embeddingsResponseSchema.safeParse(json);
    if (!parsed.success || parsed.data.data.length !== texts.length) {
      throw createOpenAiError({ kind: 'protocol', message: 'unexpected embeddings response shape', status, retryable: false, requestId: call.requestId ?? '' });
    }
    return [...parsed.data.data].sort((left, right) => left.index - right.index).map((entry) => entry.embedding);
  }

  async close(): Promise<void> {
    this.limiter?.close(createOpenAiError({ kind: 'aborted', message: 'the client was closed', retryable: false }));
    await this.agent.close();
  }

  private call(path: string, body: unknown, options: { signal?: AbortSignal; requestId?: string }, outputTokens: number, limited = true): ProviderCall {
    const requestId = options.requestId ?? this.newRequestId();
    const headers: Record<string, string> = { 'x-request-id': requestId, 'x-ncp-clovastudio-request-id': requestId };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const estimatedTokens = Math.ceil(JSON.stringify(body).length / 4) + outputTokens;
    return {
      url: `${this.baseUrl}${path}`,
      path,
      headers,
      body,
      requestId,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(limited && this.limiter ? { limiter: this.limiter, estimatedTokens } : {}),
    };
  }
}
