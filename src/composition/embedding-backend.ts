import type { Config } from '../config/config.js';
import { CLOVA_EMBEDDING_MODEL, openAiEmbeddingModel, type EmbeddingModel } from '../knowledge/embedding-model.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ClovaClient } from '../providers/clova/clova-client.js';
import { ClovaEmbedder } from '../providers/clova/embedder.js';
import { createOpenAiCompatibleProvider } from '../providers/openai-compatible/index.js';
import { clovaConnectionOptions, clovaRateOptions, type RateBudgets } from './rate-budgets.js';

/** The configured embedding model, with the connection it owns. */
export interface EmbeddingBackend extends EmbeddingModel {
  close(): Promise<void>;
}

/**
 * The embedding model the configuration asks for, or undefined when retrieval is lexical only:
 * CLOVA embedding v2 with `CLOVA_USE_EMBEDDINGS=true`, or `OPENAI_EMBEDDING_MODEL` on an
 * OpenAI-compatible server. The bot (query and background embeddings) and `npm run ingest` both
 * build it here, so an index and the queries against it always name the model the same way. With
 * `rateBudgets` on Redis, its embedding budget is the one every replica's bot draws on.
 *
 * @example
 * const backend = createEmbeddingBackend(config, { logger });
 * if (backend) await ingestFiles({ paths, indexFile, embedding: backend });
 */
export function createEmbeddingBackend(config: Config, dependencies: { logger: Logger; metrics?: Metrics; rateBudgets?: RateBudgets }): EmbeddingBackend | undefined {
  const { logger, metrics } = dependencies;
  if (config.provider === 'clova' && config.CLOVA_USE_EMBEDDINGS && config.CLOVA_STUDIO_API_KEY) {
    // A client of its own: `embedding` is the only bucket it uses, and the budget of that bucket is
    // per process without Redis (as the provider's own client's is) or shared with it through Redis.
    const client = new ClovaClient({
      ...clovaConnectionOptions(config),
      ...clovaRateOptions(config, dependencies.rateBudgets),
      logger,
      ...(metrics ? { metrics } : {}),
    });
    return { name: CLOVA_EMBEDDING_MODEL, embedder: new ClovaEmbedder(client), close: () => client.close() };
  }
  if (config.provider === 'openai' && config.OPENAI_EMBEDDING_MODEL) {
    const provider = createOpenAiCompatibleProvider({
      ...(config.OPENAI_API_KEY ? { apiKey: config.OPENAI_API_KEY } : {}),
      baseUrl: config.OPENAI_BASE_URL,
      model: config.OPENAI_MODEL,
      embeddingModel: config.OPENAI_EMBEDDING_MODEL,
      logger,
      ...(metrics ? { metrics } : {}),
    });
    return { name: openAiEmbeddingModel(config.OPENAI_EMBEDDING_MODEL), embedder: provider.embedder!, close: () => provider.close() };
  }
  return undefined;
}

/** What to set for embeddings, given the configuration that has none (for `npm run ingest -- --embeddings`). */
export function embeddingSetupHint(config: Config): string {
  const current = `the configured provider is ${config.provider}`;
  return `set CLOVA_USE_EMBEDDINGS=true with CLOVA_STUDIO_API_KEY, or OPENAI_EMBEDDING_MODEL with LLM_PROVIDER=openai (${current})`;
}
