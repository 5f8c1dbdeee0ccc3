import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { CredentialStatus } from '../http/credential-status.js';
import type { HttpAgentOptions } from '../http/http-agent.js';
import type { RateLimits } from '../http/rate-limiter.js';
import type { RetryPolicy, Sleep } from '../http/retry.js';
import type { ChatModel, Embedder, Reasoner } from '../types.js';
import { OpenAiChatModel, OpenAiChatReasoner } from './chat-model.js';
import { OpenAiClient } from './openai-client.js';

export { OpenAiCompatibleError } from './openai-errors.js';
export { OpenAiClient } from './openai-client.js';

export interface OpenAiCompatibleProviderOptions {
  apiKey?: string;
  /** The part before `/chat/completions`, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  model: string;
  /** Enables `embedder`. */
  embeddingModel?: string;
  /** Dimensions of the embedding model; learned from the first call when unset. */
  embeddingDimensions?: number;
  /** Context window X; servers do not report it. Default 8,192. */
  contextWindow?: number;
  /** Largest `max_tokens` to send. Default 4,096. */
  maxOutputTokens?: number;
  /** Texts per embeddings call. Default 64. */
  embeddingBatchSize?: number;
  rateLimits?: RateLimits;
  http?: HttpAgentOptions & { requestTimeoutMs?: number; streamTimeoutMs?: number };
  retry?: Partial<RetryPolicy>;
  logger: Logger;
  metrics?: Metrics;
  sleep?: Sleep;
}

export interface OpenAiCompatibleProvider {
  chatModel: ChatModel;
  chatReasoner: Reasoner;
  embedder?: Embedder;
  /** Whether the server accepted the key on the most recent call. */
  credentials: CredentialStatus;
  close(): Promise<void>;
}

class OpenAiEmbedder implements Embedder {
  constructor(
    private readonly client: OpenAiClient,
    private readonly model: string,
    private known: number,
    private readonly batchSize: number,
  ) {}

  get dimensions(): number {
    return this.known;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let offset = 0; offset < texts.length; offset += this.batchSize) {
      vectors.push(...(await this.client.embed(this.model, texts.slice(offset, offset + this.batchSize), signal)));
    }
    if (this.known === 0 && vectors[0]) this.known = vectors[0].length;
    return vectors;
  }
}

/**
 * Builds a provider for any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, CLOVA's
 * `/v1/openai`). Reranking is not part of the surface; callers fall back to the local reranker.
 */
export function createOpenAiCompatibleProvider(options: OpenAiCompatibleProviderOptions): OpenAiCompatibleProvider {
  const client = new OpenAiClient({
    baseUrl: options.baseUrl,
    logger: options.logger,
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.http !== undefined ? { http: options.http } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.rateLimits !== undefined ? { rateLimits: options.rateLimits } : {}),
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    ...(options.sleep !== undefined ? { sleep: options.sleep } : {}),
  });
  const chatModel = new OpenAiChatModel(client, options.model, options.contextWindow ?? 8_192, options.maxOutputTokens ?? 4_096, options.logger, options.metrics);
  const provider: OpenAiCompatibleProvider = { chatModel, chatReasoner: new OpenAiChatReasoner(chatModel), credentials: client.credentials, close: () => client.close() };
  if (options.embeddingModel) provider.embedder = new OpenAiEmbedder(client, options.embeddingModel, options.embeddingDimensions ?? 0, options.embeddingBatchSize ?? 64);
  return provider;
}
