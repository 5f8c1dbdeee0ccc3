import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { KnowledgeIndexError } from './errors.js';
import { ingestCommand } from './ingest-command.js';

export const INDEX_FORMAT = 'threadline-knowledge-index';
export const INDEX_VERSION = 1;

const chunkSchema = z.object({
  id: z.string().min(1),
  source: z.string(),
  documentId: z.string(),
  title: z.string(),
  url: z.string().optional(),
  text: z.string(),
  /** Embedding of `text` under `embedding.model`, when the index was built with one. */
  vector: z.array(z.number()).optional(),
});

const sourceSchema = z.object({
  /** sha256 of the file bytes plus the settings that shaped its chunks: equal fingerprint, nothing to do. */
  fingerprint: z.string(),
  chunkCount: z.number().int().nonnegative(),
  ingestedAt: z.string(),
});

export const indexFileSchema = z.object({
  format: z.literal(INDEX_FORMAT),
  version: z.literal(INDEX_VERSION),
  updatedAt: z.string(),
  /** The model of the chunks' vectors; chunks may lack one (embedding was off, or a run was interrupted). */
  embedding: z.object({ model: z.string(), dimensions: z.number().int().positive() }).nullable(),
  sources: z.record(z.string(), sourceSchema),
  chunks: z.array(chunkSchema),
});

export type IndexFile = z.infer<typeof indexFileSchema>;
export type IndexedChunk = z.infer<typeof chunkSchema>;

export function emptyIndexFile(): IndexFile {
  return { format: INDEX_FORMAT, version: INDEX_VERSION, updatedAt: new Date(0).toISOString(), embedding: null, sources: {}, chunks: [] };
}

/** Reads and validates an index file; `undefined` when it does not exist. */
export async function readIndexFile(path: string): Promise<IndexFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KnowledgeIndexError({ path, reason: 'cannot be read', cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new KnowledgeIndexError({ path, reason: `is not valid JSON; rebuild it with \`${rebuildCommand(path)}\``, cause: error });
  }
  const parsed = indexFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new KnowledgeIndexError({
      path,
      reason: `is not a version ${INDEX_VERSION} knowledge index (${first ? `${first.path.join('.') || 'root'}: ${first.message}` : 'unknown shape'}); rebuild it with \`${rebuildCommand(path)}\``,
    });
  }
  return parsed.data;
}

/** An unreadable index cannot say what it was built from, and plain re-ingesting would stop at reading it again. */
function rebuildCommand(path: string): string {
  return ingestCommand(['--rebuild', '--index', path, '<files or folders>']);
}

/**
 * Writes the index atomically: a temporary file in the same folder, flushed to disk, then renamed
 * over the old one, so a crash or a concurrent reader never sees half an index.
 */
export async function writeIndexFile(path: string, index: IndexFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporaryPath = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const handle = await open(temporaryPath, 'w');
  try {
    await handle.writeFile(JSON.stringify(index));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}
