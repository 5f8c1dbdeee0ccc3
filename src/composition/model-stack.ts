import type { Config } from '../config/config.js';
import { clovaModelOverrides } from '../config/clova-model.js';
import type { Answerer } from '../engine/answerer.js';
import type { HistoryCompactor } from '../compaction/types.js';
import { createCompactor, createTokenEstimator, createExtractiveSummarizer, createChatSummarizer, type CompactorOptions } from '../compaction/index.js';
import { loadKnowledgeRetriever, createSearchApiRetriever } from '../knowledge/index.js';
import { createEmbeddingBackend, type EmbeddingBackend } from './embedding-backend.js';
import { clovaConnectionOptions, clovaRateOptions, type RateBudgets } from './rate-budgets.js';
import { createOfflineAnswerer, createLocalReranker, createRagAnswerer } from '../rag/index.js';
import { clovaAnsweringLimits, createClovaProvider } from '../providers/clova/index.js';
import { createOpenAiCompatibleProvider } from '../providers/openai-compatible/index.js';
import type { KnowledgeSource } from '../settings/index.js';
import type { ReadinessCheck } from '../observability/health.js';
import type { CredentialStatus } from '../providers/http/credential-status.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Reasoner, Reranker, Retriever, Summarizer, TokenCounter } from '../providers/types.js';

export type CompactionStrategy = 'sliding' | 'summary';

/** The answering side of the bot, built from the configuration. */
export interface ModelStack {
  /** The answerer over the process's default knowledge source. */
  answerer: Answerer;
  /** The answerer over a channel's knowledge source (built once per source, then reused). */
  answererFor(source: KnowledgeSource | undefined): Promise<Answerer>;
  compactor: HistoryCompactor;
  compactorFor(strategy: CompactionStrategy): HistoryCompactor;
  /** X and B of the budget A + B ≤ X. */
  budget: { windowTokens: number; maxOutputTokens: number };
  estimator: TokenCounter;
  /** One line for banners and logs: which backend answers. */
  description: string;
  readiness: ReadinessCheck[];
  close(): Promise<void>;
}

interface StackDependencies {
  logger: Logger;
  metrics: Metrics;
  /** Where the model provider's rate budgets are kept (shared by replicas on Redis); default: per process. */
  rateBudgets?: RateBudgets;
}

/** What differs between providers; `assemble` turns it into a ModelStack. */
interface ProviderParts {
  answererOver(retriever: Retriever): Answerer;
  compactorOptions: Omit<CompactorOptions, 'strategy'>;
  /** Whether the model provider accepted our key on its most recent call (offline mode has none). */
  credentials?: CredentialStatus;
  budget: { windowTokens: number; maxOutputTokens: number };
  description: string;
  close(): Promise<void>;
}

/** Without a model, the budget only guards what the offline answerer quotes back; a modest window keeps threads cheap to load. */
const OFFLINE_WINDOW_TOKENS = 8_192;
/** OpenAI-compatible servers do not say their window; 8k is safe for the small local models people run (MODEL_CONTEXT_WINDOW raises it). */
const OPENAI_DEFAULT_WINDOW_TOKENS = 8_192;

export async function buildModelStack(config: Config, dependencies: StackDependencies): Promise<ModelStack> {
  const estimator = createTokenEstimator();
  const parts =
    config.provider === 'clova' ? clovaParts(config, dependencies, estimator) : config.provider === 'openai' ? openAiParts(config, dependencies, estimator) : offlineParts(config, dependencies, estimator);
  return assemble(config, dependencies, estimator, parts);
}

async function assemble(config: Config, { logger, metrics, rateBudgets }: StackDependencies, estimator: TokenCounter, parts: ProviderParts): Promise<ModelStack> {
  const embedding = createEmbeddingBackend(config, { logger, metrics, ...(rateBudgets ? { rateBudgets } : {}) });
  // Vectors of a knowledge folder are built in the background; shutdown stops those builds.
  const backgroundWork = new AbortController();
  const answerers = new Map<string, Promise<Answerer>>();
  const answererFor = (source: KnowledgeSource | undefined): Promise<Answerer> => {
    const key = source ? `${source.kind}:${source.kind === 'search-api' ? source.url : source.path}` : 'default';
    let answerer = answerers.get(key);
    if (!answerer) {
      const knowledge = { logger, metrics, signal: backgroundWork.signal, ...(embedding ? { embedding } : {}) };
      answerer = knowledgeRetriever(config, knowledge, source).then((retriever) => parts.answererOver(retriever));
      // A source that failed to load is tried again on the next message rather than cached broken.
      answerer.catch(() => answerers.delete(key));
      answerers.set(key, answerer);
    }
    return answerer;
  };
  const compactors: Record<CompactionStrategy, HistoryCompactor> = {
    sliding: createCompactor({ ...parts.compactorOptions, strategy: 'sliding' }),
    summary: createCompactor({ ...parts.compactorOptions, strategy: 'summary' }),
  };
  return {
    answerer: await answererFor(undefined),
    answererFor,
    compactor: compactors[config.compaction],
    compactorFor: (strategy) => compactors[strategy],
    budget: parts.budget,
    estimator,
    description: parts.description,
    readiness: [modelProviderReadiness(parts.credentials)],
    close: async () => {
      backgroundWork.abort();
      await Promise.all([parts.close(), embedding?.close()]);
    },
  };
}

/**
 * `/readyz` for the model provider: not ready while it refuses our key. It reads what the bot's own
 * calls learnt, so a probe never costs a model call.
 */
function modelProviderReadiness(credentials: CredentialStatus | undefined): ReadinessCheck {
  return {
    name: 'model-provider',
    check: async () => {
      const refusal = credentials?.lastRefusal;
      if (refusal) throw refusal;
    },
  };
}

function offlineParts(config: Config, { logger, metrics }: StackDependencies, estimator: TokenCounter): ProviderParts {
  const reranker = createLocalReranker();
  return {
    answererOver: (retriever) => createOfflineAnswerer({ retriever, reranker, logger, metrics, topK: config.RAG_TOP_K }),
    compactorOptions: { estimator, summarizer: createExtractiveSummarizer(), triggerRatio: config.COMPACTION_TRIGGER_RATIO, logger, metrics },
    budget: { windowTokens: config.HISTORY_TOKEN_BUDGET ?? config.MODEL_CONTEXT_WINDOW ?? OFFLINE_WINDOW_TOKENS, maxOutputTokens: config.MAX_OUTPUT_TOKENS },
    description: 'offline mode: extractive answers from the knowledge base, no model and no API key',
    close: async () => {},
  };
}

function clovaParts(config: Config, { logger, metrics, rateBudgets }: StackDependencies, estimator: TokenCounter): ProviderParts {
  const provider = createClovaProvider({
    ...clovaConnectionOptions(config),
    model: config.CLOVA_MODEL,
    modelOverrides: clovaModelOverrides(config),
    ...clovaRateOptions(config, rateBudgets),
    logger,
    metrics,
  });
  const viaRagReasoning = config.CLOVA_USE_RAG_REASONING;
  const limits = clovaAnsweringLimits(provider.modelInfo, viaRagReasoning, config.MAX_OUTPUT_TOKENS);
  const reasoner: Reasoner = viaRagReasoning ? provider.reasoner : provider.chatReasoner;
  const reranker: Reranker = config.CLOVA_USE_RERANKER ? provider.reranker : createLocalReranker();
  return {
    answererOver: (retriever) => ragAnswerer(config, { reasoner, retriever, reranker, estimator, logger, metrics }),
    compactorOptions: {
      estimator,
      ...(limits.exactCountsAvailable ? { tokenizer: provider.tokenCounter } : {}),
      // The sliding API keeps history for the model's whole window; it is told that window so our tighter budget still holds.
      ...(limits.remoteSlidingSupported ? { remoteSliding: provider.slidingWindow, remoteSlidingWindowTokens: provider.modelInfo.contextWindow } : {}),
      summarizer: pickSummarizer(config, { clova: provider.summarizer, chat: createChatSummarizer(provider.chatModel) }),
      triggerRatio: config.COMPACTION_TRIGGER_RATIO,
      logger,
      metrics,
    },
    budget: { windowTokens: Math.min(config.HISTORY_TOKEN_BUDGET ?? limits.defaultWindowTokens, limits.maxWindowTokens), maxOutputTokens: limits.maxOutputTokens },
    credentials: provider.client.credentials,
    description: `CLOVA Studio (${viaRagReasoning ? 'RAG Reasoning' : config.CLOVA_MODEL}${config.CLOVA_USE_RERANKER ? ' + reranker' : ''})`,
    close: () => provider.close(),
  };
}

function openAiParts(config: Config, { logger, metrics }: StackDependencies, estimator: TokenCounter): ProviderParts {
  const contextWindow = config.MODEL_CONTEXT_WINDOW ?? OPENAI_DEFAULT_WINDOW_TOKENS;
  const provider = createOpenAiCompatibleProvider({
    ...(config.OPENAI_API_KEY ? { apiKey: config.OPENAI_API_KEY } : {}),
    baseUrl: config.OPENAI_BASE_URL,
    model: config.OPENAI_MODEL,
    ...(config.OPENAI_EMBEDDING_MODEL ? { embeddingModel: config.OPENAI_EMBEDDING_MODEL } : {}),
    contextWindow,
    maxOutputTokens: config.MAX_OUTPUT_TOKENS,
    logger,
    metrics,
  });
  const reranker = createLocalReranker();
  return {
    answererOver: (retriever) => ragAnswerer(config, { reasoner: provider.chatReasoner, retriever, reranker, estimator, logger, metrics }),
    compactorOptions: {
      estimator,
      summarizer: pickSummarizer(config, { chat: createChatSummarizer(provider.chatModel) }),
      triggerRatio: config.COMPACTION_TRIGGER_RATIO,
      logger,
      metrics,
    },
    budget: { windowTokens: Math.min(config.HISTORY_TOKEN_BUDGET ?? contextWindow, contextWindow), maxOutputTokens: config.MAX_OUTPUT_TOKENS },
    credentials: provider.credentials,
    description: `OpenAI-compatible server, model ${config.OPENAI_MODEL}`,
    close: () => provider.close(),
  };
}

function ragAnswerer(
  config: Config,
  parts: { reasoner: Reasoner; retriever: Retriever; reranker: Reranker; estimator: TokenCounter; logger: Logger; metrics: Metrics },
): Answerer {
  return createRagAnswerer({
    reasoner: parts.reasoner,
    retriever: parts.retriever,
    reranker: parts.reranker,
    tokenCounter: parts.estimator,
    maxRounds: config.RAG_MAX_ROUNDS,
    topK: config.RAG_TOP_K,
    documentTokenBudget: config.DOCUMENT_TOKEN_BUDGET,
    ...(config.SYSTEM_PROMPT ? { systemPrompt: config.SYSTEM_PROMPT } : {}),
    logger: parts.logger,
    metrics: parts.metrics,
  });
}

async function knowledgeRetriever(
  config: Config,
  knowledge: { logger: Logger; metrics: Metrics; signal: AbortSignal; embedding?: EmbeddingBackend },
  source: KnowledgeSource | undefined,
): Promise<Retriever> {
  if (source?.kind === 'search-api') return createSearchApiRetriever({ url: source.url, timeoutMs: 10_000 });
  if (source?.kind === 'index-file') return loadKnowledgeRetriever({ indexFile: source.path, sourceName: source.name, ...knowledge });
  if (source?.kind === 'directory') return loadKnowledgeRetriever({ knowledgeDir: source.path, sourceName: source.name, ...knowledge });
  if (config.SEARCH_API_URL) return createSearchApiRetriever({ url: config.SEARCH_API_URL, timeoutMs: 10_000 });
  return loadKnowledgeRetriever({
    ...(config.KNOWLEDGE_DIR ? { knowledgeDir: config.KNOWLEDGE_DIR } : {}),
    ...(config.KNOWLEDGE_INDEX_FILE ? { indexFile: config.KNOWLEDGE_INDEX_FILE } : {}),
    ...knowledge,
  });
}

function pickSummarizer(config: Config, available: { clova?: Summarizer; chat?: Summarizer }): Summarizer {
  const choice = config.SUMMARIZER ?? (available.clova ? 'clova' : available.chat ? 'chat' : 'extractive');
  return (choice === 'clova' ? available.clova : choice === 'chat' ? available.chat : undefined) ?? createExtractiveSummarizer();
}
