import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { chunkDocuments, type ChunkingOptions } from './chunker.js';
import { KnowledgeFileError } from './errors.js';
import { isSupportedFile, parseKnowledgeFile, type ColumnMapping, type SkippedRecord } from './parsers/parse-file.js';
import type { KnowledgeChunk } from './source-document.js';

/** Files larger than this are refused: a support knowledge base file this big is almost surely a mistake. */
const MAX_FILE_BYTES = 50 * 1024 * 1024;

/** One readable file found under the given paths, with the name it gets in chunk ids. */
export interface FoundFile {
  path: string;
  source: string;
}

/**
 * Expands files and folders (recursively, skipping hidden entries and `node_modules`) into
 * supported files, sorted so chunk ids and progress are reproducible. Paths that do not exist, and
 * files of an unsupported type named explicitly, come back as failures.
 */
export async function findKnowledgeFiles(paths: readonly string[], relativeTo: string): Promise<{ files: FoundFile[]; failures: KnowledgeFileError[] }> {
  const files: FoundFile[] = [];
  const failures: KnowledgeFileError[] = [];
  const visit = async (path: string, explicit: boolean, base: string): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      failures.push(new KnowledgeFileError({ path, reason: 'does not exist or cannot be read', cause: error }));
      return;
    }
    if (info.isDirectory()) {
      const entries = (await readdir(path)).filter((name) => !name.startsWith('.') && name !== 'node_modules').sort();
      for (const name of entries) await visit(join(path, name), false, base);
    } else if (isSupportedFile(path)) {
      files.push({ path, source: sourceName(path, relativeTo, base) });
    } else if (explicit) {
      failures.push(new KnowledgeFileError({ path, reason: 'is not a supported file type (.md, .csv, .jsonl, .txt)' }));
    }
  };
  for (const path of paths) await visit(path, true, dirname(resolve(path)));
  const unique = new Map(files.map((file) => [file.source, file]));
  return { files: [...unique.values()].sort((left, right) => left.source.localeCompare(right.source)), failures };
}

/**
 * The name a file gets in chunk ids: its path relative to `relativeTo` when it lies inside it,
 * otherwise relative to the parent of the argument it was found under (`/srv/kb/a.md` given as
 * `/srv/kb` becomes `kb/a.md`), so ids never start with `../`.
 */
function sourceName(path: string, relativeTo: string, base: string): string {
  const inside = relative(resolve(relativeTo), resolve(path));
  const name = inside.startsWith('..') || inside === '' ? relative(base, resolve(path)) : inside;
  return name.split(sep).join('/');
}

/** What reading one file produced. */
export interface ReadFileResult {
  fingerprint: string;
  chunks: KnowledgeChunk[];
  skipped: SkippedRecord[];
}

/** Settings that shape chunks; part of each file's fingerprint, so changing them re-ingests. */
export interface ChunkSettings {
  chunking: ChunkingOptions;
  columns: ColumnMapping;
}

/** Hashes the file bytes and the chunk settings, without parsing. */
export function fingerprintOf(bytes: Buffer, settings: ChunkSettings): string {
  return createHash('sha256').update(bytes).update('\0').update(JSON.stringify(settings)).digest('hex');
}

export async function readFileBytes(file: FoundFile): Promise<Buffer> {
  const info = await stat(file.path);
  if (info.size > MAX_FILE_BYTES) throw new KnowledgeFileError({ path: file.path, reason: `is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB` });
  return readFile(file.path);
}

/** Parses and chunks one file; any problem becomes a `KnowledgeFileError` naming the file. */
export function chunkFile(file: FoundFile, bytes: Buffer, settings: ChunkSettings): ReadFileResult {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let content: string;
  try {
    content = text.decode(bytes);
  } catch (error) {
    throw new KnowledgeFileError({ path: file.path, reason: 'is not UTF-8 text', cause: error });
  }
  if (looksBinary(content)) throw new KnowledgeFileError({ path: file.path, reason: 'looks like a binary file, not text' });
  try {
    const parsed = parseKnowledgeFile(file.path, content, settings.columns);
    const chunks = chunkDocuments(file.source, parsed.documents, settings.chunking);
    if (chunks.length === 0) throw new Error('contains no text to index');
    return { fingerprint: fingerprintOf(bytes, settings), chunks, skipped: parsed.skipped };
  } catch (error) {
    if (error instanceof KnowledgeFileError) throw error;
    throw new KnowledgeFileError({ path: file.path, reason: error instanceof Error ? error.message : String(error), cause: error });
  }
}

/** How much of a file's start is examined for signs of binary content. */
const BINARY_SAMPLE_CHARACTERS = 8_000;

/**
 * Whether decoded text is really a binary file that happens to be valid UTF-8 (a database, an
 * archive or an image of mostly low bytes): a NUL, or control characters in more than a tenth of
 * the sample. Indexing such a file would fill the index with noise.
 */
function looksBinary(content: string): boolean {
  const sample = content.slice(0, BINARY_SAMPLE_CHARACTERS);
  if (sample.includes('\u0000')) return true;
  const controls = sample.match(/[\u0001-\u0008\u000E-\u001F\u007F]/g)?.length ?? 0;
  return controls > sample.length / 10;
}
