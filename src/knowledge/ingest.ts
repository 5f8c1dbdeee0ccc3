import { createHash } from 'node:crypto';
import type { Sleep } from '../providers/http/retry.js';
import { DEFAULT_CHUNKING, type ChunkingOptions } from './chunker.js';
import { embedTexts } from './embed-chunks.js';
import { embeddingInputOf, type EmbeddingModel } from './embedding-model.js';
import { KnowledgeEmbeddingError, KnowledgeFileError } from './errors.js';
import { emptyIndexFile, readIndexFile, writeIndexFile, type IndexFile, type IndexedChunk } from './index-file.js';
import type { ColumnMapping } from './parsers/parse-file.js';
import { chunkFile, findKnowledgeFiles, fingerprintOf, readFileBytes, type ChunkSettings } from './source-files.js';

/** What happened to one file. */
export type FileOutcome = 'added' | 'updated' | 'unchanged' | 'failed';

/** Progress of a run, for the CLI's bar or log lines. */
export type IngestProgress =
  | { type: 'files-found'; total: number }
  | { type: 'file-finished'; path: string; outcome: FileOutcome; chunks: number; reason?: string; skippedRows: number }
  | { type: 'embedding-started'; model: string; total: number; reused: number }
  | { type: 'embedding-progress'; done: number; total: number }
  | { type: 'embedding-waiting'; delayMs: number; reason: string };

export interface IngestOptions {
  /** Files or folders to ingest. None: only the vectors the index lacks are filled in. */
  paths: readonly string[];
  indexFile: string;
  /** Chunk ids and sources are paths relative to this folder (default: the working directory). */
  relativeTo?: string;
  columns?: ColumnMapping;
  chunking?: ChunkingOptions;
  /** Gives every chunk a vector, for hybrid retrieval; vectors of another model are replaced. */
  embedding?: EmbeddingModel;
  /** Embedding batches in flight at once. Default 4. */
  embeddingConcurrency?: number;
  /** Remove sources from the index that are not among `paths` any more. */
  prune?: boolean;
  /** Start a new index instead of updating the file (which may be corrupt); a readable old file still lends its vectors. */
  rebuild?: boolean;
  /** How often, at most, the index is saved while embedding, so an interrupted run resumes from there. Default 60 s. */
  checkpointIntervalMs?: number;
  onProgress?: (event: IngestProgress) => void;
  signal?: AbortSignal;
  /** Replaces the real wait after rate limits (tests). */
  sleep?: Sleep;
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
  /** Vectors this run asked the embedding model for. */
  embedded: number;
  /** Vectors taken over for chunks of changed files whose text is the same as before. */
  reusedVectors: number;
  /** Chunks without a vector; the bot searches this index lexically until there are none. */
  missingVectors: number;
  /** Model of the index's vectors; null when it has none. */
  embeddingModel: string | null;
  /** Set when embedding stopped early; the vectors made before it are saved and a re-run continues from them. */
  embeddingError?: KnowledgeEmbeddingError;
}

/** Checkpoints while embedding: often enough to lose little, rarely enough that rewriting a large index stays cheap. */
const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/**
 * Brings the index file up to date with the given files. Unchanged files (same bytes, same
 * settings) are skipped; changed files replace all their old chunks; files that fail are reported
 * with their reason and do not stop the run (their previous chunks, if any, are kept).
 *
 * With `embedding`, every chunk without a vector gets one. A chunk whose text is unchanged keeps its
 * vector even when its file changed, so editing one row of a large CSV costs one embedding call.
 * The index is saved before embedding and every `checkpointIntervalMs` during it: a run that is
 * interrupted or rate-limited out resumes where it stopped.
 */
export async function ingestFiles(options: IngestOptions): Promise<IngestReport> {
  const settings: ChunkSettings = { chunking: options.chunking ?? DEFAULT_CHUNKING, columns: options.columns ?? {} };
  // A rebuild must not fail on the file it is meant to replace; when that file is readable its vectors are still worth reusing.
  const existing = options.rebuild ? await readIndexFile(options.indexFile).catch(() => undefined) : await readIndexFile(options.indexFile);
  const previous = options.rebuild ? emptyIndexFile() : (existing ?? emptyIndexFile());
  const { files, failures } = await findKnowledgeFiles(options.paths, options.relativeTo ?? process.cwd());
  options.onProgress?.({ type: 'files-found', total: files.length });
  const report: IngestReport = {
    added: 0,
    updated: 0,
    unchanged: 0,
    removed: 0,
    failures: [],
    skippedRows: [],
    chunkCount: 0,
    written: false,
    embedded: 0,
    reusedVectors: 0,
    missingVectors: 0,
    embeddingModel: null,
  };
  for (const failure of failures) {
    report.failures.push({ path: failure.path, reason: failure.reason });
    options.onProgress?.({ type: 'file-finished', path: failure.path, outcome: 'failed', chunks: 0, reason: failure.reason, skippedRows: 0 });
  }

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
  report.chunkCount = chunks.length;

  // Vectors belong to one model: without an embedder this run keeps (and reuses) the existing model's.
  const vectorModel = options.embedding?.name ?? existing?.embedding?.model ?? null;
  const modelChanged = options.embedding !== undefined && existing?.embedding != null && existing.embedding.model !== options.embedding.name;
  if (modelChanged) for (const chunk of chunks) delete chunk.vector;
  const reusable = existing?.embedding && existing.embedding.model === vectorModel ? vectorsByInput(existing.chunks) : new Map<string, number[]>();
  for (const chunk of chunks) {
    if (chunk.vector !== undefined) continue;
    const vector = reusable.get(inputHash(chunk));
    if (vector) {
      chunk.vector = vector;
      report.reusedVectors += 1;
    }
  }
  const needing = options.embedding ? chunks.filter((chunk) => chunk.vector === undefined) : [];
  chunks.sort((left, right) => left.source.localeCompare(right.source) || compareChunkIds(left.id, right.id));

  const finish = (): IngestReport => {
    report.missingVectors = chunks.filter((chunk) => chunk.vector === undefined).length;
    report.embeddingModel = embeddingOf(chunks, vectorModel)?.model ?? null;
    return report;
  };
  const changed = replaced.size > 0 || report.removed > 0 || needing.length > 0 || modelChanged || options.rebuild === true;
  if (!changed) return finish();

  const save = () => writeIndexFile(options.indexFile, { ...previous, updatedAt: new Date().toISOString(), embedding: embeddingOf(chunks, vectorModel), sources, chunks });
  // Saved before embedding: the file changes are done, and a run stopped while embedding keeps them.
  await save();
  report.written = true;
  if (!options.embedding || needing.length === 0) return finish();

  options.onProgress?.({ type: 'embedding-started', model: options.embedding.name, total: needing.length, reused: report.reusedVectors });
  const checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  let lastSavedAt = Date.now();
  let saving: Promise<void> = Promise.resolve();
  const existingDimensions = chunks.find((chunk) => chunk.vector !== undefined)?.vector?.length;
  try {
    await embedTexts(options.embedding.embedder, needing.map(embeddingInputOf), {
      concurrency: options.embeddingConcurrency ?? 4,
      ...(existingDimensions !== undefined ? { dimensions: existingDimensions } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      onBatch: (start, vectors) => {
        vectors.forEach((vector, offset) => (needing[start + offset]!.vector = vector));
        report.embedded += vectors.length;
        if (Date.now() - lastSavedAt >= checkpointIntervalMs) {
          lastSavedAt = Date.now();
          saving = saving.then(save);
        }
      },
      onProgress: (done) => options.onProgress?.({ type: 'embedding-progress', done, total: needing.length }),
      onWait: ({ delayMs, error }) => options.onProgress?.({ type: 'embedding-waiting', delayMs, reason: error instanceof Error ? error.message : String(error) }),
    });
  } catch (error) {
    // Whatever was embedded is kept, so the next run asks only for the rest.
    await saving.catch(() => undefined);
    await save();
    if (error instanceof KnowledgeEmbeddingError) {
      report.embeddingError = error;
      return finish();
    }
    throw error;
  }
  await saving;
  await save();
  return finish();
}

/** What the index says about its vectors: the model, and their length (null while no chunk has one). */
function embeddingOf(chunks: readonly IndexedChunk[], model: string | null): IndexFile['embedding'] {
  const dimensions = chunks.find((chunk) => chunk.vector !== undefined)?.vector?.length;
  return model !== null && dimensions !== undefined && dimensions > 0 ? { model, dimensions } : null;
}

function inputHash(chunk: { title: string; text: string }): string {
  return createHash('sha256').update(embeddingInputOf(chunk)).digest('base64url');
}

function vectorsByInput(chunks: readonly IndexedChunk[]): Map<string, number[]> {
  const vectors = new Map<string, number[]>();
  for (const chunk of chunks) if (chunk.vector) vectors.set(inputHash(chunk), chunk.vector);
  return vectors;
}

/** Orders `a#2` before `a#10`. */
function compareChunkIds(left: string, right: string): number {
  return left.localeCompare(right, 'en', { numeric: true });
}
