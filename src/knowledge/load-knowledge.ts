import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { buildVectorsInBackground } from './background-vectors.js';
import { DEFAULT_CHUNKING } from './chunker.js';
import { settingsFor, type EmbeddingModel } from './embedding-model.js';
import { KnowledgeEmbeddingMismatchError, KnowledgeFileError } from './errors.js';
import { createEmbeddedRetriever, type EmbeddedRetriever } from './embedded-retriever.js';
import { readIndexFile, type IndexFile } from './index-file.js';
import { ingestCommand } from './ingest-command.js';
import { chunkFile, findKnowledgeFiles, readFileBytes } from './source-files.js';
import type { KnowledgeChunk } from './source-document.js';

export interface LoadKnowledgeOptions {
  /** Folder of documents indexed in memory at startup. Default: the bundled user guide. */
  knowledgeDir?: string;
  /** An index written by `npm run ingest`; used instead of `knowledgeDir` when the file exists. */
  indexFile?: string;
  /** Enables hybrid retrieval (lexical + dense, fused by rank). */
  embedding?: EmbeddingModel;
  logger: Logger;
  /** Chunk, vector and hybrid gauges, labelled with `sourceName`. */
  metrics?: Metrics;
  /** Names this knowledge base in logs and metrics. Default `default`. */
  sourceName?: string;
  /** Stops a background vector build (shutdown). */
  signal?: AbortSignal;
  /** Embedding batches in flight while vectors are built in the background. Default 1. */
  backgroundConcurrency?: number;
}

/**
 * The folder of the bundled user guide. Looked up beside this module first (running from source),
 * then in the source tree next to a compiled `dist/` (Markdown files are not copied by `tsc`).
 */
export function bundledGuideDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, 'guide'), resolve(here, '../../../src/knowledge/guide')];
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0]!;
}

/**
 * The retriever the bot starts with: the persisted index when `indexFile` exists, otherwise the
 * documents of `knowledgeDir` (default: the bundled guide) indexed in memory, which takes a few
 * milliseconds for the guide.
 *
 * With an embedding model, an index file is searched hybrid when every chunk has a vector of that
 * model; an index embedded with another model is refused (`KnowledgeEmbeddingMismatchError`). A
 * folder is served lexically at once while its vectors are built in the background, and switches
 * to hybrid when they are ready: startup never waits for the embedding provider.
 */
export async function loadKnowledgeRetriever(options: LoadKnowledgeOptions): Promise<EmbeddedRetriever> {
  const { logger, embedding } = options;
  const sourceName = options.sourceName ?? 'default';
  const started = performance.now();
  const gauges = gaugesFor(options.metrics, sourceName);
  if (options.indexFile) {
    const index = await readIndexFile(options.indexFile);
    if (index) {
      const chunks: KnowledgeChunk[] = index.chunks.map(({ vector: _vector, ...chunk }) => chunk);
      const vectors = usableVectors(options.indexFile, index, embedding, logger);
      const retriever = createEmbeddedRetriever({ chunks, ...(embedding ? { embedder: embedding.embedder } : {}), ...(vectors ? { vectors } : {}), logger });
      gauges.loaded(chunks.length, index.chunks.filter((chunk) => chunk.vector !== undefined).length, retriever.hybrid);
      logger.info({ source: sourceName, indexFile: options.indexFile, chunks: chunks.length, hybrid: retriever.hybrid, ms: Math.round(performance.now() - started) }, 'knowledge index loaded');
      return retriever;
    }
    logger.warn({ indexFile: options.indexFile }, 'knowledge index file not found; indexing documents at startup instead');
  }

  const directory = options.knowledgeDir ?? bundledGuideDir();
  const { files, failures } = await findKnowledgeFiles([directory], dirname(resolve(directory)));
  const chunks: KnowledgeChunk[] = [];
  for (const file of files) {
    try {
      const bytes = await readFileBytes(file);
      chunks.push(...chunkFile(file, bytes, { chunking: DEFAULT_CHUNKING, columns: {} }).chunks);
    } catch (error) {
      failures.push(error instanceof KnowledgeFileError ? error : new KnowledgeFileError({ path: file.path, reason: 'cannot be read', cause: error }));
    }
  }
  for (const failure of failures) logger.warn({ err: failure }, 'a knowledge file was skipped');
  if (chunks.length === 0) logger.warn({ directory }, 'the knowledge folder has no usable documents; every question will be answered "not found"');

  const retriever = createEmbeddedRetriever({ chunks, ...(embedding ? { embedder: embedding.embedder } : {}), logger });
  gauges.loaded(chunks.length, 0, false);
  const building = embedding !== undefined && chunks.length > 0;
  logger.info({ source: sourceName, directory, files: files.length, chunks: chunks.length, hybrid: false, vectors: building ? 'building' : 'off', ms: Math.round(performance.now() - started) }, 'knowledge indexed');
  if (building) {
    void buildVectorsInBackground({
      retriever,
      chunks,
      embedding,
      logger,
      sourceName,
      concurrency: options.backgroundConcurrency ?? 1,
      onProgress: (done) => gauges.embedded(done),
      ...(options.signal ? { signal: options.signal } : {}),
    }).then(() => gauges.hybrid(retriever.hybrid));
  }
  return retriever;
}

/**
 * The index's vectors when queries can be compared with them, else undefined (lexical retrieval)
 * with a warning that names the command that fixes it. Vectors of another model are refused.
 */
function usableVectors(indexFile: string, index: IndexFile, embedding: EmbeddingModel | undefined, logger: Logger): number[][] | undefined {
  const fillCommand = ingestCommand(['--embeddings', '--index', indexFile]);
  if (!embedding) {
    if (index.embedding) {
      logger.info({ indexFile, indexModel: index.embedding.model }, `the knowledge index has ${index.embedding.model} vectors, but no embedding model is configured; set ${settingsFor(index.embedding.model)} for hybrid retrieval (using lexical retrieval)`);
    }
    return undefined;
  }
  if (!index.embedding) {
    logger.warn({ indexFile, model: embedding.name }, `the knowledge index has no vectors; add them with \`${fillCommand}\` for hybrid retrieval (using lexical retrieval until then)`);
    return undefined;
  }
  const configuredDimensions = embedding.embedder.dimensions;
  if (index.embedding.model !== embedding.name || (configuredDimensions > 0 && configuredDimensions !== index.embedding.dimensions)) {
    throw new KnowledgeEmbeddingMismatchError({
      path: indexFile,
      indexModel: index.embedding.model,
      indexDimensions: index.embedding.dimensions,
      configuredModel: configuredDimensions > 0 ? `${embedding.name} (${configuredDimensions} dimensions)` : embedding.name,
      remedy: `Re-embed the index for ${embedding.name} with \`${fillCommand}\` under this configuration (it replaces every vector), or configure ${settingsFor(index.embedding.model)} again.`,
    });
  }
  const stored = index.chunks.map((chunk) => chunk.vector);
  const missing = stored.filter((vector) => vector === undefined).length;
  if (missing > 0) {
    logger.warn(
      { indexFile, missing, chunks: stored.length },
      `${missing} of ${stored.length} chunks in the knowledge index have no vector yet (an ingest without embeddings, or one that was interrupted); finish them with \`${fillCommand}\` for hybrid retrieval (using lexical retrieval until then)`,
    );
    return undefined;
  }
  return stored as number[][];
}

/** Gauge updates for one knowledge base; no-ops without metrics. */
function gaugesFor(metrics: Metrics | undefined, source: string) {
  const labels = { source };
  return {
    loaded(chunks: number, embedded: number, hybrid: boolean) {
      metrics?.knowledgeChunks.set(labels, chunks);
      metrics?.knowledgeEmbeddedChunks.set(labels, embedded);
      metrics?.knowledgeHybrid.set(labels, hybrid ? 1 : 0);
    },
    embedded(count: number) {
      metrics?.knowledgeEmbeddedChunks.set(labels, count);
    },
    hybrid(hybrid: boolean) {
      metrics?.knowledgeHybrid.set(labels, hybrid ? 1 : 0);
    },
  };
}
