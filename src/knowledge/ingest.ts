import { DEFAULT_CHUNKING, type ChunkingOptions } from './chunker.js';
import { embedTexts } from './embed-chunks.js';
import { KnowledgeFileError } from './errors.js';
import { emptyIndexFile, readIndexFile, writeIndexFile, type IndexFile, type IndexedChunk } from './index-file.js';
import type { ColumnMapping } from './parsers/parse-file.js';
import { chunkFile, findKnowledgeFiles, fingerprintOf, readFileBytes, type ChunkSettings } from './source-files.js';
import type { Embedder } from '../providers/types.js';

/** What happened to one file. */
export type FileOutcome = 'added' | 'updated' | 'unchanged' | 'failed';

/** Progress of a run, for the CLI's bar or log lines. */
export type IngestProgress =
  | { type: 'files-found'; total: number }
  | { type: 'file-finished'; path: string; outcome: FileOutcome; chunks: number; reason?: string; skippedRows: number }
  | { type: 'embedding-progress'; done: number; total: number };

export interface IngestOptions {
  /** Files or folders to ingest. */
  paths: readonly string[];
  indexFile: string;
  /** Chunk ids and sources are paths relative to this folder (default: the working directory). */
  relativeTo?: string;
  columns?: ColumnMapping;
  chunking?: ChunkingOptions;
  /** With an embedder, new chunks get vectors and the index supports hybrid retrieval. */
  embedder?: Embedder;
  /** Names the embedding model; a different name than the index was built with re-embeds every chunk. */
  embeddingModel?: string;
  /** Remove sources from the index that are not among `paths` any more. */
  prune?: boolean;
  onProgress?: (event: IngestProgress) => void;
  signal?: AbortSignal;
}

export interface IngestReport {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  failures: { path: string; reason: string }[];
  skippedRows: { path: string; row: number; reason: string }[];
  chunkCount: number;
  /** False when nothing changed: the index file was left untouched. */
  written: boolean;
}

/**
 * Brings the index file up to date with the given files. Unchanged files (same bytes, same
 * settings) are skipped; changed files replace all their old chunks; files that fail are reported
 * with their reason and do not stop the run (their previous chunks, if any, are kept).
 */
export async function ingestFiles(options: IngestOptions): Promise<IngestReport> {
  const settings: ChunkSettings = { chunking: options.chunking ?? DEFAULT_CHUNKING, columns: options.columns ?? {} };
  const previous = (await readIndexFile(options.indexFile)) ?? emptyIndexFile();
  const { files, failures } = await findKnowledgeFiles(options.paths, options.relativeTo ?? process.cwd());
  options.onProgress?.({ type: 'files-found', total: files.length });
  const report: IngestReport = { added: 0, updated: 0, unchanged: 0, removed: 0, failures: [], skippedRows: [], chunkCount: 0, written: false };
  for (const failure of failures) {
    report.failures.push({ path: failure.path, reason: failure.reason });
    options.onProgress?.({ type: 'file-finished', path: failure.path, outcome: 'failed', chunks: 0, reason: failure.reason, skippedRows: 0 });
  }

  const embeddingModel = options.embeddingModel ?? 'default';
  const embeddingChanged = options.embedder !== undefined && previous.embedding !== null && previous.embedding.model !== embeddingModel;
  const replaced = new Map<string, IndexedChunk[]>();
  const sources: IndexFile['sources'] = { ...previous.sources };
  const now = new Date().toISOString();
  for (const file of files) {
    options.signal?.throwIfAborted();
    try {
      const bytes = await readFileBytes(file);
      const known = previous.sources[file.source];
      if (known && known.fingerprint === fingerprintOf(bytes, settings)) {
        report.unchanged += 1;
        options.onProgress?.({ type: 'file-finished', path: file.path, outcome: 'unchanged', chunks: known.chunkCount, skippedRows: 0 });
        continue;
      }
      const result = chunkFile(file, bytes, settings);
      replaced.set(file.source, result.chunks);
      sources[file.source] = { fingerprint: result.fingerprint, chunkCount: result.chunks.length, ingestedAt: now };
      const outcome: FileOutcome = known ? 'updated' : 'added';
      report[outcome] += 1;
      for (const skipped of result.skipped) report.skippedRows.push({ path: file.path, ...skipped });
      options.onProgress?.({ type: 'file-finished', path: file.path, outcome, chunks: result.chunks.length, skippedRows: result.skipped.length });
    } catch (error) {
      const reason = error instanceof KnowledgeFileError ? error.reason : error instanceof Error ? error.message : String(error);
      report.failures.push({ path: file.path, reason });
      options.onProgress?.({ type: 'file-finished', path: file.path, outcome: 'failed', chunks: 0, reason, skippedRows: 0 });
    }
  }

  if (options.prune) {
    const present = new Set(files.map((file) => file.source));
    for (const source of Object.keys(sources)) {
      if (!present.has(source)) {
        delete sources[source];
        report.removed += 1;
      }
    }
  }

  const keptChunks = previous.chunks.filter((chunk) => sources[chunk.source] !== undefined && !replaced.has(chunk.source));
  const chunks: IndexedChunk[] = [...keptChunks, ...[...replaced.values()].flat()];
  const needingVectors = options.embedder ? chunks.filter((chunk) => embeddingChanged || chunk.vector === undefined) : [];
  const changed = replaced.size > 0 || report.removed > 0 || needingVectors.length > 0;
  report.chunkCount = chunks.length;
  if (!changed) return report;

  let embedding = previous.embedding;
  if (options.embedder) {
    const needing = needingVectors;
    const vectors = await embedTexts(
      options.embedder,
      needing.map((chunk) => `${chunk.title}\n${chunk.text}`),
      { ...(options.signal ? { signal: options.signal } : {}), onProgress: (done) => options.onProgress?.({ type: 'embedding-progress', done, total: needing.length }) },
    );
    needing.forEach((chunk, index) => (chunk.vector = vectors[index]));
    embedding = { model: embeddingModel, dimensions: options.embedder.dimensions };
  } else if (previous.embedding && replaced.size > 0) {
    // New chunks without vectors would be invisible to the dense half; drop vectors rather than mix.
    for (const chunk of chunks) delete chunk.vector;
    embedding = null;
  }

  chunks.sort((left, right) => left.source.localeCompare(right.source) || compareChunkIds(left.id, right.id));
  await writeIndexFile(options.indexFile, { ...previous, updatedAt: now, embedding, sources, chunks });
  report.written = true;
  return report;
}

/** Orders `a#2` before `a#10`. */
function compareChunkIds(left: string, right: string): number {
  return left.localeCompare(right, 'en', { numeric: true });
}
