import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestFiles, type IngestProgress } from '../../../src/knowledge/ingest.js';
import { readIndexFile } from '../../../src/knowledge/index-file.js';
import { loadKnowledgeRetriever } from '../../../src/knowledge/load-knowledge.js';
import { recordingLogger } from '../../support/recording-logger.js';

/** The first bytes of a PNG: not UTF-8 at all. */
const PNG_BYTES = Buffer.from('89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff61', 'hex');

/** A database file whose bytes all happen to be valid UTF-8: a header, then low bytes and NULs. */
function databaseBytes(): Buffer {
  const pages = Buffer.alloc(6_000);
  for (let index = 0; index < pages.length; index += 1) pages[index] = index % 5 === 0 ? 0 : (index * 7) % 32;
  return Buffer.concat([Buffer.from('SQLite format 3\0'), pages]);
}

/** Creates a file of `bytes` without writing them (a sparse file): the size check must refuse it before reading. */
async function sparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

describe('knowledge files that are not knowledge', () => {
  let folder: string;
  let docs: string;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'threadline-hostile-files-'));
    docs = join(folder, 'kb');
    await mkdir(docs);
    await writeFile(join(docs, 'refunds.md'), '# Refunds\n\nRefunds are issued within 30 days of purchase.\n');
    await writeFile(join(docs, 'logo.md'), PNG_BYTES);
    await writeFile(join(docs, 'backup.txt'), databaseBytes());
    await sparseFile(join(docs, 'huge.md'), 60 * 1024 * 1024);
    await writeFile(join(docs, 'shipping.csv'), 'id,title,text\n1,Shipping,Orders ship from Seoul within two business days.\n');
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('ingest names each bad file with its reason, indexes the good ones, and finishes the run', async () => {
    expect((await stat(join(docs, 'huge.md'))).size).toBe(60 * 1024 * 1024);
    const events: IngestProgress[] = [];
    const indexFile = join(folder, 'index.json');
    const report = await ingestFiles({ paths: [docs], indexFile, relativeTo: folder, onProgress: (event) => events.push(event) });

    expect(report.failures).toEqual(
      expect.arrayContaining([
        { path: join(docs, 'logo.md'), reason: 'is not UTF-8 text' },
        { path: join(docs, 'backup.txt'), reason: 'looks like a binary file, not text' },
        { path: join(docs, 'huge.md'), reason: 'is larger than 50 MB' },
      ]),
    );
    expect(report.failures).toHaveLength(3);
    expect(report.added).toBe(2);
    // Every file got its own outcome, in order, including the ones after the failures.
    const finished = events.filter((event): event is Extract<IngestProgress, { type: 'file-finished' }> => event.type === 'file-finished');
    expect(finished.map((event) => `${event.path.slice(docs.length + 1)}:${event.outcome}`)).toEqual([
      'backup.txt:failed',
      'huge.md:failed',
      'logo.md:failed',
      'refunds.md:added',
      'shipping.csv:added',
    ]);
    const index = await readIndexFile(indexFile);
    expect(index!.chunks.map((chunk) => chunk.source)).toEqual(['kb/refunds.md', 'kb/shipping.csv']);
    expect(JSON.stringify(index)).not.toMatch(/SQLite|\\u0000/);
  });

  it('at startup skips the same files with a warning naming each, and still answers from the rest', async () => {
    const recorded = recordingLogger({ level: 'info' });
    const retriever = await loadKnowledgeRetriever({ knowledgeDir: docs, logger: recorded.logger });
    const lines = recorded.entries() as Array<{ level: number; msg: string; err?: { message?: string } }>;

    const skipped = lines.filter((line) => line.msg === 'a knowledge file was skipped').map((line) => line.err?.message);
    expect(skipped.sort()).toEqual([
      expect.stringContaining(`${join(docs, 'backup.txt')}: looks like a binary file, not text`),
      expect.stringContaining(`${join(docs, 'huge.md')}: is larger than 50 MB`),
      expect.stringContaining(`${join(docs, 'logo.md')}: is not UTF-8 text`),
    ]);
    const found = await retriever.search('how long do refunds take', 3);
    expect(found[0]?.doc.content).toContain('Refunds are issued within 30 days');
    expect((await retriever.search('shipping from Seoul', 3))[0]?.doc.content).toContain('Orders ship from Seoul');
  });
});
