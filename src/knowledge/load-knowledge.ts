import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/logger.js';
import type { Embedder } from '../providers/types.js';
import { DEFAULT_CHUNKING } from './chunker.js';
import { embedTexts } from './embed-chunks.js';
import { KnowledgeFileError } from './errors.js';
import { createEmbeddedRetriever, type EmbeddedRetriever } from './embedded-retriever.js';
import { readIndexFile } from './index-file.js';
import { chunkFile, findKnowledgeFiles, readFileBytes } from './source-files.js';
import type { KnowledgeChunk } from './source-document.js';

export interface LoadKnowledgeOptions {
  /** Folder of documents indexed in memory at startup. Default: the bundled user guide. */
  knowledgeDir?: string;
  /** An index written by `npm run ingest`; used instead of `knowledgeDir` when the file exists. */
  indexFile?: string;
  /** Enables hybrid retrieval (lexical + dense, fused by rank). */
  embedder?: Embedder;
  logger: Logger;
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
 * milliseconds for the guide. With an embedder, chunks without stored vectors are embedded once at
 * startup; if that fails the bot still starts, with lexical retrieval only.
 */
export async function loadKnowledgeRetriever(options: LoadKnowledgeOptions): Promise<EmbeddedRetriever> {
  const { logger, embedder } = options;
  const started = performance.now();
  if (options.indexFile) {
    const index = await readIndexFile(options.indexFile);
    if (index) {
      const chunks: KnowledgeChunk[] = index.chunks.map(({ vector: _vector, ...chunk }) => chunk);
      let vectors: number[][] | undefined;
      if (embedder) {
        const stored = index.chunks.map((chunk) => chunk.vector);
        if (index.embedding?.dimensions === embedder.dimensions && stored.every((vector) => vector !== undefined)) {
          vectors = stored as number[][];
        } else {
          logger.warn(
            { indexFile: options.indexFile, indexDimensions: index.embedding?.dimensions ?? null, embedderDimensions: embedder.dimensions },
            'the knowledge index has no matching embeddings; re-run `npm run ingest` with embeddings for hybrid retrieval (using lexical retrieval)',
          );
        }
      }
      const retriever = createEmbeddedRetriever({ chunks, ...(vectors && embedder ? { vectors, embedder } : {}), logger });
      logger.info({ indexFile: options.indexFile, chunks: chunks.length, hybrid: retriever.hybrid, ms: Math.round(performance.now() - started) }, 'knowledge index loaded');
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

  let vectors: number[][] | undefined;
  if (embedder && chunks.length > 0) {
    try {
      vectors = await embedTexts(embedder, chunks.map((chunk) => `${chunk.title}\n${chunk.text}`));
    } catch (error) {
      logger.warn({ err: error }, 'embedding the knowledge base failed; using lexical retrieval only');
    }
  }
  const retriever = createEmbeddedRetriever({ chunks, ...(vectors && embedder ? { vectors, embedder } : {}), logger });
  logger.info({ directory, files: files.length, chunks: chunks.length, hybrid: retriever.hybrid, ms: Math.round(performance.now() - started) }, 'knowledge indexed');
  return retriever;
}
