/**
 * The answering side of `LLM_PROVIDER=clova` as the composition root builds it — the real CLOVA
 * provider (RAG Reasoning, or with `reasoner: 'chat'` the streamed chat model with function calling
 * as under `CLOVA_USE_RAG_REASONING=false`; the reranker), the bundled guide as knowledge base,
 * rolling-summary compaction — pointed at a fake CLOVA, with timeouts and backoff scaled down so a
 * fault plays out in about a second.
 */
import type { HistoryCompactor } from '../../../../src/compaction/types.js';
import { createCompactor, createTokenEstimator } from '../../../../src/compaction/index.js';
import type { Answerer } from '../../../../src/engine/answerer.js';
import { loadKnowledgeRetriever } from '../../../../src/knowledge/index.js';
import type { Logger } from '../../../../src/observability/logger.js';
import type { Metrics } from '../../../../src/observability/metrics.js';
import { createClovaProvider } from '../../../../src/providers/clova/index.js';
import type { Retriever } from '../../../../src/providers/types.js';
import { createRagAnswerer } from '../../../../src/rag/index.js';
import { FAKE_CLOVA_API_KEY } from '../../../fakes/clova/fake-clova-server.js';

export interface ClovaAnsweringOptions {
  clovaUrl: string;
  logger: Logger;
  metrics: Metrics;
  /** How long the provider waits for a model's response headers. Default 1 s. */
  modelHeadersTimeoutMs?: number;
  /** How long the provider waits between two pieces of a response body. Default 1 s. */
  modelBodyTimeoutMs?: number;
  /** How long a summary may take before the turn slides instead. Default 15 s (production). */
  summaryTimeoutMs?: number;
  /** Who runs the search-and-answer loop: RAG Reasoning (default, JSON) or the chat model (streamed). */
  reasoner?: 'rag-reasoning' | 'chat';
}

export interface ClovaAnswering {
  answerer: Answerer;
  compactor: HistoryCompactor;
  close(): Promise<void>;
}

let bundledGuide: Promise<Retriever> | undefined;

export async function createClovaAnswering(options: ClovaAnsweringOptions): Promise<ClovaAnswering> {
  const { logger, metrics } = options;
  const provider = createClovaProvider({
    apiKey: FAKE_CLOVA_API_KEY,
    baseUrl: options.clovaUrl,
    model: 'HCX-005',
    logger,
    metrics,
    // Production waits (60 s for headers, 500 ms first backoff) scaled down.
    http: { headersTimeoutMs: options.modelHeadersTimeoutMs ?? 1_000, bodyTimeoutMs: options.modelBodyTimeoutMs ?? 1_000 },
    retry: { initialDelayMs: 100, maxDelayMs: 400 },
  });
  bundledGuide ??= loadKnowledgeRetriever({ logger });
  const estimator = createTokenEstimator();
  return {
    answerer: createRagAnswerer({
      reasoner: options.reasoner === 'chat' ? provider.chatReasoner : provider.reasoner,
      retriever: await bundledGuide,
      reranker: provider.reranker,
      tokenCounter: estimator,
      maxRounds: 3,
      topK: 8,
      documentTokenBudget: 3_000,
      logger,
      metrics,
    }),
    compactor: createCompactor({
      strategy: 'summary',
      estimator,
      summarizer: provider.summarizer,
      ...(options.summaryTimeoutMs !== undefined ? { summaryTimeoutMs: options.summaryTimeoutMs } : {}),
      logger,
      metrics,
    }),
    close: () => provider.close(),
  };
}
