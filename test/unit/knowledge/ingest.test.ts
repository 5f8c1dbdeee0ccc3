import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestFiles, type IngestProgress } from '../../../src/knowledge/ingest.js';
import { readIndexFile } from '../../../src/knowledge/index-file.js';
import { loadKnowledgeRetriever } from '../../../src/knowledge/load-knowledge.js';
import { KnowledgeIndexError } from '../../../src/knowledge/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Embedder } from '../../../src/providers/types.js';

let workspace: string;
let docs: string;
let indexFile: string;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'threadline-ingest-'));
  docs = join(workspace, 'kb');
  indexFile = join(workspace, 'data', 'index.json');
  await mkdir(docs);
  await writeFile(join(docs, 'refunds.md'), '---\ntitle: Refunds\n---\n# Refunds\nRefunds take 30 days.\n## Gift cards\nGift cards are final.\n');
  await writeFile(join(docs, 'faq.csv'), 'id,question,answer\nq1,How do I reset my password?,Open Settings and choose Security.\n');
});

afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

const ingest = (extra: Partial<Parameters<typeof ingestFiles>[0]> = {}) => ingestFiles({ paths: [docs], indexFile, relativeTo: workspace, ...extra });

describe('ingestion', () => {
  it('indexes Markdown and CSV into chunks with ids from path and position', async () => {
    const report = await ingest();
    expect(report).toMatchObject({ added: 2, updated: 0, unchanged: 0, failures: [], written: true, chunkCount: 3 });
    const index = await readIndexFile(indexFile);
    expect(index!.chunks.map((chunk) => [chunk.id, chunk.title])).toEqual([
      ['kb/faq.csv#q1#0', 'How do I reset my password?'],
      ['kb/refunds.md#0', 'Refunds'],
      ['kb/refunds.md#1', 'Refunds › Gift cards'],
    ]);
  });

  it('leaves the index file untouched when nothing changed', async () => {
    await ingest();
    const before = await stat(indexFile);
    const bytes = await readFile(indexFile, 'utf8');
    const report = await ingest();
    expect(report).toMatchObject({ added: 0, updated: 0, unchanged: 2, written: false });
    expect((await stat(indexFile)).mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(indexFile, 'utf8')).toBe(bytes);
  });

  it('replaces all old chunks of a changed file and keeps the others', async () => {
    await ingest();
    await writeFile(join(docs, 'refunds.md'), '# Refunds\nRefunds now take 14 days.\n');
    const report = await ingest();
    expect(report).toMatchObject({ updated: 1, unchanged: 1, written: true });
    const index = await readIndexFile(indexFile);
    const texts = index!.chunks.map((chunk) => chunk.text).join('\n');
    expect(texts).toContain('14 days');
    expect(texts).not.toContain('30 days');
    expect(texts).not.toContain('Gift cards');
    expect(texts).toContain('Open Settings');
  });

  it('reports a bad file with its path and reason and still ingests the rest', async () => {
    await writeFile(join(docs, 'broken.jsonl'), 'this is not json\n');
    await writeFile(join(docs, 'latin1.txt'), Buffer.from([0xff, 0xfe, 0x41]));
    const events: IngestProgress[] = [];
    const report = await ingest({ paths: [docs, join(workspace, 'missing')], onProgress: (event) => events.push(event) });
    expect(report.added).toBe(2);
    expect(report.failures).toEqual(
      expect.arrayContaining([
        { path: join(docs, 'broken.jsonl'), reason: expect.stringContaining('JSON') },
        { path: join(docs, 'latin1.txt'), reason: 'is not UTF-8 text' },
        { path: join(workspace, 'missing'), reason: expect.stringContaining('does not exist') },
      ]),
    );
    expect(events[0]).toEqual({ type: 'files-found', total: 4 });
    expect(events.filter((event) => event.type === 'file-finished')).toHaveLength(5);
  });

  it('writes atomically: no temporary file is left beside the index', async () => {
    await ingest();
    expect(await readdir(join(workspace, 'data'))).toEqual(['index.json']);
  });

  it('prunes files that are gone when asked to', async () => {
    await ingest();
    await rm(join(docs, 'faq.csv'));
    const kept = await ingest();
    expect(kept.chunkCount).toBe(3);
    const pruned = await ingest({ prune: true });
    expect(pruned).toMatchObject({ removed: 1, chunkCount: 2 });
  });

  it('stores embeddings when an embedder is given and re-embeds only new chunks', async () => {
    const embedded: string[] = [];
    const embedder: Embedder = {
      dimensions: 2,
      async embed(texts) {
        embedded.push(...texts);
        return texts.map((text) => [text.length, 1]);
      },
    };
    const embedding = { name: 'test-model', embedder };
    await ingest({ embedding });
    expect(embedded).toHaveLength(3);
    await writeFile(join(docs, 'more.md'), '# More\nAnother page.\n');
    await ingest({ embedding });
    expect(embedded).toHaveLength(4);
    const index = await readIndexFile(indexFile);
    expect(index!.embedding).toEqual({ model: 'test-model', dimensions: 2 });
    expect(index!.chunks.every((chunk) => chunk.vector?.length === 2)).toBe(true);
    const retriever = await loadKnowledgeRetriever({ indexFile, embedding, logger: silentLogger() });
    expect(retriever.hybrid).toBe(true);
    const lexical = await loadKnowledgeRetriever({ indexFile, logger: silentLogger() });
    expect(lexical.hybrid).toBe(false);
    expect((await lexical.search('reset password', 1))[0]?.doc.id).toBe('kb/faq.csv#q1#0');
  });

  it('refuses a corrupt index file with a typed error that says how to fix it', async () => {
    await mkdir(join(workspace, 'data'));
    await writeFile(indexFile, '{"format":"something else"}');
    await expect(loadKnowledgeRetriever({ indexFile, logger: silentLogger() })).rejects.toBeInstanceOf(KnowledgeIndexError);
    await expect(ingest()).rejects.toThrow(/npm run ingest/);
  });

  it('indexes a knowledge folder in memory when there is no index file', async () => {
    const retriever = await loadKnowledgeRetriever({ knowledgeDir: docs, indexFile: join(workspace, 'absent.json'), logger: silentLogger() });
    expect(retriever.chunkCount).toBe(3);
    expect((await retriever.search('gift card', 1))[0]?.doc).toMatchObject({ id: 'kb/refunds.md#1', title: 'Refunds › Gift cards' });
  });
});
