import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { HttpAgentOptions } from '../http/http-agent.js';
import type { RateBudgetFactory, RateLimits } from '../http/rate-limiter.js';
import type { RetryPolicy, Sleep } from '../http/retry.js';
import { modelInfo, type ModelInfo, type ModelInfoOverrides } from '../model-catalogue.js';
import type { ChatMessage, ChatModel, Embedder, Reasoner, Reranker, Summarizer, TokenCounter } from '../types.js';
import { ClovaChatModel } from './chat-model.js';
import { ClovaClient } from './clova-client.js';
import { ClovaEmbedder } from './embedder.js';
import { ChatModelReasoner, ClovaRagReasoner } from './reasoners.js';
import { ClovaReranker } from './reranker.js';
import { slideWithClova } from './sliding-window.js';
import { ClovaSummarizer } from './summarizer.js';
import { ClovaTokenCounter } from './token-counter.js';

export { CLOVA_DEFAULT_TOOL_LIMITS, ClovaClient, estimateClovaTokens, type ClovaCallOptions, type ClovaClientOptions, type ClovaResponse, type ClovaToolBucket } from './clova-client.js';
export {
  ClovaAbortedError,
  ClovaAuthError,
  ClovaContextTooLongError,
  ClovaError,
  ClovaInvalidParameterError,
  ClovaProtocolError,
  ClovaRateLimitError,
  ClovaServerError,
  ClovaTimeoutError,
} from './clova-errors.js';

export interface ClovaProviderOptions {
  apiKey: string;
  apigwKey?: string;
  baseUrl: string;
  pathPrefix?: '/testapp' | '/serviceapp';
  appId?: string;
  /** Chat model id, e.g. `HCX-005`. */
  model: string;
  /** Overrides the catalogue's context window (MODEL_CONTEXT_WINDOW). */
  contextWindow?: number;
  /**
   * Further catalogue overrides for the chat model: an unknown model's API version, and the
   * requests/tokens per minute its local limiter admits (a service app's limits are higher than the catalogue's).
   */
  modelOverrides?: ModelInfoOverrides;
  requestIdPrefix?: string;
  /** Local limiter per model id or tool bucket (`reranker`, `rag-reasoning`, `embedding`, …). */
  rateLimits?: Partial<Record<string, RateLimits>>;
  rateLimitWindowMs?: number;
  /** Where each bucket's admissions are counted (a budget shared by replicas); default a limiter in this process. */
  rateBudgetFor?: RateBudgetFactory;
  http?: HttpAgentOptions & { requestTimeoutMs?: number; streamTimeoutMs?: number };
  retry?: Partial<RetryPolicy>;
  /** Concurrent embedding calls. Default 4. */
  embeddingConcurrency?: number;
  logger: Logger;
  metrics?: Metrics;
  /** Replaces the wait between retries (tests). */
  sleep?: Sleep;
}

/** Everything the bot uses from CLOVA Studio, built on one client. */
export interface ClovaProvider {
  client: ClovaClient;
  modelInfo: ModelInfo;
  chatModel: ChatModel;
  /** RAG Reasoning API. */
  reasoner: Reasoner;
  /** The chat model with function calling, for when RAG Reasoning is off. */
  chatReasoner: Reasoner;
  reranker: Reranker;
  summarizer: Summarizer;
  tokenCounter: TokenCounter;
  embedder: Embedder;
  /** CLOVA's sliding-window API: drops the oldest turns so `messages` + `maxTokens` fit the window. */
  slidingWindow(messages: ChatMessage[], maxTokens: number, signal?: AbortSignal): Promise<ChatMessage[]>;
  close(): Promise<void>;
}

/**
 * Builds the CLOVA Studio provider. Throws `UnknownModelError` for a model the catalogue does not
 * know (unless `modelOverrides` describes it).
 *
 * @example
 * const clova = createClovaProvider({ apiKey: config.CLOVA_STUDIO_API_KEY, baseUrl: config.CLOVA_STUDIO_BASE_URL, model: 'HCX-005', logger });
 * for await (const event of clova.chatModel.stream(messages, { maxTokens: 1024 })) …
 */
export function createClovaProvider(options: ClovaProviderOptions): ClovaProvider {
  const info = modelInfo(options.model, { ...options.modelOverrides, ...(options.contextWindow !== undefined ? { contextWindow: options.contextWindow } : {}) });
  const client = new ClovaClient({
    apiKey: options.apiKey,
    baseUrl: options.baseUrl,
    logger: options.logger,
    ...(options.apigwKey !== undefined ? { apigwKey: options.apigwKey } : {}),
    ...(options.pathPrefix !== undefined ? { pathPrefix: options.pathPrefix } : {}),
    ...(options.appId !== undefined ? { appId: options.appId } : {}),
    ...(options.requestIdPrefix !== undefined ? { requestIdPrefix: options.requestIdPrefix } : {}),
    ...(options.http !== undefined ? { http: options.http } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.rateLimits !== undefined ? { rateLimits: options.rateLimits } : {}),
    ...(options.rateLimitWindowMs !== undefined ? { rateLimitWindowMs: options.rateLimitWindowMs } : {}),
    ...(options.rateBudgetFor !== undefined ? { rateBudgetFor: options.rateBudgetFor } : {}),
    ...(options.modelOverrides !== undefined ? { modelOverrides: { [options.model]: options.modelOverrides } } : {}),
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    ...(options.sleep !== undefined ? { sleep: options.sleep } : {}),
  });
  const chatModel = new ClovaChatModel(client, info, options.metrics);
  return {
    client,
    modelInfo: info,
    chatModel,
    reasoner: new ClovaRagReasoner(client, options.metrics),
    chatReasoner: new ChatModelReasoner(chatModel, info.supportsTools && info.apiVersion === 'v3'),
    reranker: new ClovaReranker(client, options.logger),
    summarizer: new ClovaSummarizer(client),
    tokenCounter: new ClovaTokenCounter(client, info),
    embedder: new ClovaEmbedder(client, options.embeddingConcurrency),
    slidingWindow: (messages, maxTokens, signal) => slideWithClova(client, info, messages, maxTokens, signal),
    close: () => client.close(),
  };
}
export { clovaAnsweringLimits, type ClovaAnsweringLimits } from './answering-limits.js';
