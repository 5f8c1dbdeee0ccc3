import type { Logger } from '../observability/logger.js';
import { embedTexts } from './embed-chunks.js';
import type { EmbeddedRetriever } from './embedded-retriever.js';
import { embeddingInputOf, type EmbeddingModel } from './embedding-model.js';
import type { KnowledgeChunk } from './source-document.js';

export interface BackgroundVectorsOptions {
  retriever: EmbeddedRetriever;
  chunks: readonly KnowledgeChunk[];
  embedding: EmbeddingModel;
  logger: Logger;
  /** Names the knowledge base in logs. */
  sourceName: string;
  /** Embedding batches in flight; kept low so the build leaves the provider's rate limit to live queries. */
  concurrency: number;
  /** Chunks embedded so far, for gauges. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the build (shutdown); the retriever stays lexical. */
  signal?: AbortSignal;
}

/** Log a progress line at most this often (in tenths of the whole), so a long build is visible but not noisy. */
const PROGRESS_LOG_STEPS = 10;

/**
 * Embeds every chunk while the retriever already answers lexically, then switches it to hybrid.
 * Never rejects: a build that fails for good is logged and the knowledge base stays lexical, which
 * answers correctly, only without the dense half.
 */
export async function buildVectorsInBackground(options: BackgroundVectorsOptions): Promise<void> {
  const { logger, chunks, sourceName } = options;
  const model = options.embedding.name;
  const startedAt = performance.now();
  const total = chunks.length;
  logger.info({ source: sourceName, chunks: total, model }, 'building knowledge vectors in the background; answering with lexical retrieval until they are ready');
  let loggedStep = 0;
  try {
    const vectors = await embedTexts(options.embedding.embedder, chunks.map(embeddingInputOf), {
      concurrency: options.concurrency,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (done) => {
        options.onProgress?.(done, total);
        const step = Math.floor((done / total) * PROGRESS_LOG_STEPS);
        if (step > loggedStep && done < total) {
          loggedStep = step;
          logger.info({ source: sourceName, done, total }, 'building knowledge vectors');
        }
      },
      onWait: ({ delayMs, error }) => logger.info({ source: sourceName, delayMs, err: error }, 'the embedding provider asked to slow down; waiting before building more knowledge vectors'),
    });
    options.retriever.useVectors(vectors);
    logger.info({ source: sourceName, chunks: total, model, ms: Math.round(performance.now() - startedAt) }, 'knowledge vectors ready; switched to hybrid retrieval');
  } catch (error) {
    if (options.signal?.aborted) {
      logger.debug({ source: sourceName }, 'stopped building knowledge vectors (shutting down)');
      return;
    }
    logger.error({ source: sourceName, err: error, model }, 'building knowledge vectors failed; this knowledge base stays with lexical retrieval until the bot restarts');
  }
}
