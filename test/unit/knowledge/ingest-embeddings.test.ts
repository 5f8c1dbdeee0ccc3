import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KnowledgeEmbeddingMismatchError } from '../../../src/knowledge/errors.js';
import { readIndexFile } from '../../../src/knowledge/index-file.js';
import { ingestFiles, type IngestOptions, type IngestProgress } from '../../../src/knowledge/ingest.js';
import { loadKnowledgeRetriever } from '../../../src/knowledge/load-knowledge.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { ProviderError } from '../../../src/providers/http/provider-error.js';
import type { Embedder } from '../../../src/providers/types.js';
import { recordingLogger } from '../../support/recording-logger.js';

let workspace: string;
let docs: string;
let indexFile: string;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'threadline-vectors-'));
  docs = join(workspace, 'kb');
  indexFile = join(workspace, 'data', 'index.json');
  await mkdir(docs);
  await writeFile(join(docs, 'faq.csv'), faqCsv(['Open Settings and choose Security.', 'Refunds take 30 days.', 'Gift cards are final.']));
  await writeFile(join(docs, 'guide.md'), '# Guide\nSet REDIS_URL to share threads between replicas.\n');
});

afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function faqCsv(answers: string[]): string {
  return ['id,question,answer', ...answers.map((answer, row) => `q${row},Question ${row},${answer}`)].join('\n');
}

/** An embedder that records every text it was asked for; its vectors derive from the text, so they can be checked. */
class RecordingEmbedder implements Embedder {
  readonly dimensions = 3;
  readonly texts: string[] = [];
  /** Thrown (once each) before the call with that number (1-based) is answered. */
  readonly failures = new Map<number, unknown>();
  private calls = 0;

  async embed(texts: string[]): Promise<number[][]> {
    this.calls += 1;
    const failure = this.failures.get(this.calls);
    if (failure !== undefined) throw failure;
    this.texts.push(...texts);
    return texts.map(vectorOf);
  }
}

function vectorOf(text: string): number[] {
  return [text.length, 1, text.includes('Refund') ? 1 : 0];
}

const ingest = (extra: Partial<IngestOptions> = {}) => ingestFiles({ paths: [docs], indexFile, relativeTo: workspace, ...extra });

describe('embedding during ingestion', () => {
  it('reuses the vectors of chunks whose text did not change, even inside a changed file', async () => {
    const embedder = new RecordingEmbedder();
    const first = await ingest({ embedding: { name: 'test-model', embedder } });
    expect(first).toMatchObject({ embedded: 4, reusedVectors: 0, missingVectors: 0, embeddingModel: 'test-model' });

    await writeFile(join(docs, 'faq.csv'), faqCsv(['Open Settings and choose Security.', 'Refunds now take 14 days.', 'Gift cards are final.']));
    const second = await ingest({ embedding: { name: 'test-model', embedder } });
    expect(second).toMatchObject({ updated: 1, unchanged: 1, embedded: 1, reusedVectors: 2, missingVectors: 0 });
    expect(embedder.texts.slice(4)).toEqual(['Question 1\nRefunds now take 14 days.']);

    const index = await readIndexFile(indexFile);
    for (const chunk of index!.chunks) expect(chunk.vector).toEqual(vectorOf(`${chunk.title}\n${chunk.text}`));
  });

  it('re-embeds every chunk when the model changes, and records the new model', async () => {
    await ingest({ embedding: { name: 'old-model', embedder: new RecordingEmbedder() } });
    const embedder = new RecordingEmbedder();
    const report = await ingest({ embedding: { name: 'new-model', embedder } });
    expect(report).toMatchObject({ unchanged: 2, embedded: 4, reusedVectors: 0, written: true });
    expect((await readIndexFile(indexFile))!.embedding).toEqual({ model: 'new-model', dimensions: 3 });
  });

  it('keeps vectors through a run without embeddings, and a later run with no paths fills in only the missing ones', async () => {
    const embedder = new RecordingEmbedder();
    await ingest({ embedding: { name: 'test-model', embedder } });
    await writeFile(join(docs, 'more.md'), '# More\nA new page.\n');
    const lexicalRun = await ingest();
    expect(lexicalRun).toMatchObject({ added: 1, embedded: 0, missingVectors: 1, embeddingModel: 'test-model' });

    const recorded = recordingLogger();
    const partial = await loadKnowledgeRetriever({ indexFile, embedding: { name: 'test-model', embedder }, logger: recorded.logger });
    expect(partial.hybrid).toBe(false);
    const warning = recorded.entries().find((entry) => entry.msg?.includes('have no vector yet'));
    expect(warning?.msg).toContain(`npm run ingest -- --embeddings --index ${indexFile}`);

    const fill = await ingestFiles({ paths: [], indexFile, embedding: { name: 'test-model', embedder } });
    expect(fill).toMatchObject({ embedded: 1, missingVectors: 0 });
    expect(embedder.texts.at(-1)).toBe('More\nA new page.');
    expect((await loadKnowledgeRetriever({ indexFile, embedding: { name: 'test-model', embedder }, logger: recorded.logger })).hybrid).toBe(true);
  });

  it('waits as long as the provider asks after a rate limit, then carries on', async () => {
    const embedder = new RecordingEmbedder();
    embedder.failures.set(1, new ProviderError({ provider: 'clova', kind: 'rate_limit', message: 'Too many requests', status: 429, retryAfterMs: 90_000, retryable: true }));
    const waits: number[] = [];
    const events: IngestProgress[] = [];
    const report = await ingest({
      embedding: { name: 'test-model', embedder },
      sleep: async (ms) => {
        waits.push(ms);
      },
      onProgress: (event) => events.push(event),
    });
    // 90 s is beyond what the HTTP client waits for by itself; the bulk job waits it out instead of failing.
    expect(waits).toEqual([90_000]);
    expect(events).toContainEqual({ type: 'embedding-waiting', delayMs: 90_000, reason: expect.stringContaining('Too many requests') });
    expect(report).toMatchObject({ embedded: 4, missingVectors: 0 });
  });

  it('stops at once on a permanent failure, saves the vectors made so far, and the next run continues from them', async () => {
    await writeFile(join(docs, 'faq.csv'), faqCsv(Array.from({ length: 40 }, (_, row) => `Answer number ${row}.`)));
    const embedder = new RecordingEmbedder();
    embedder.failures.set(2, new ProviderError({ provider: 'clova', kind: 'auth', message: 'Unauthorized', status: 401, retryable: false }));
    const waits: number[] = [];
    const failed = await ingest({ embedding: { name: 'test-model', embedder }, embeddingConcurrency: 1, sleep: async (ms) => void waits.push(ms) });
    expect(waits).toEqual([]);
    expect(failed.embeddingError?.message).toContain('Unauthorized');
    expect(failed).toMatchObject({ added: 2, written: true, embedded: 16, missingVectors: 25 });
    const saved = await readIndexFile(indexFile);
    expect(saved!.chunks.filter((chunk) => chunk.vector !== undefined)).toHaveLength(16);

    const resumed = await ingest({ embedding: { name: 'test-model', embedder } });
    expect(resumed).toMatchObject({ unchanged: 2, embedded: 25, missingVectors: 0 });
    expect(embedder.texts).toHaveLength(41);
  });

  it('saves progress when interrupted, so the re-run embeds only the rest', async () => {
    await writeFile(join(docs, 'faq.csv'), faqCsv(Array.from({ length: 40 }, (_, row) => `Answer number ${row}.`)));
    const interrupt = new AbortController();
    const embedder = new RecordingEmbedder();
    embedder.failures.set(3, 'not reached');
    const interrupting: Embedder = {
      dimensions: 3,
      async embed(texts) {
        const vectors = await embedder.embed(texts);
        if (embedder.texts.length >= 32) interrupt.abort(new Error('interrupted'));
        return vectors;
      },
    };
    await expect(ingest({ embedding: { name: 'test-model', embedder: interrupting }, embeddingConcurrency: 1, checkpointIntervalMs: 0, signal: interrupt.signal })).rejects.toThrow('interrupted');
    expect((await readIndexFile(indexFile))!.chunks.filter((chunk) => chunk.vector !== undefined)).toHaveLength(32);

    embedder.failures.clear();
    const resumed = await ingest({ embedding: { name: 'test-model', embedder } });
    expect(resumed).toMatchObject({ embedded: 9, missingVectors: 0 });
  });
});

describe('loading an index with vectors', () => {
  it('refuses an index embedded with another model than the one configured, naming both and the fix', async () => {
    await ingest({ embedding: { name: 'openai:text-embedding-3-small', embedder: new RecordingEmbedder() } });
    const loading = loadKnowledgeRetriever({ indexFile, embedding: { name: 'clova:embedding-v2', embedder: new RecordingEmbedder() }, logger: recordingLogger().logger });
    await expect(loading).rejects.toBeInstanceOf(KnowledgeEmbeddingMismatchError);
    const error = (await loading.catch((caught: unknown) => caught)) as KnowledgeEmbeddingMismatchError;
    expect(error.message).toContain('embedded with openai:text-embedding-3-small (3 dimensions), but queries would be embedded with clova:embedding-v2');
    expect(error.message).toContain(`npm run ingest -- --embeddings --index ${indexFile}`);
    expect(error.message).toContain('LLM_PROVIDER=openai with OPENAI_EMBEDDING_MODEL=text-embedding-3-small');
  });

  it('searches lexically, and says which setting enables hybrid retrieval, when no embedding model is configured', async () => {
    await ingest({ embedding: { name: 'clova:embedding-v2', embedder: new RecordingEmbedder() } });
    const recorded = recordingLogger();
    const retriever = await loadKnowledgeRetriever({ indexFile, logger: recorded.logger });
    expect(retriever.hybrid).toBe(false);
    expect(recorded.text()).toContain('CLOVA_USE_EMBEDDINGS=true');
    expect((await retriever.search('refunds', 1))[0]?.doc.content).toContain('Refunds');
  });

  it('answers from a folder at once and switches to hybrid when its vectors are built in the background', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const queries: string[] = [];
    const gated: Embedder = {
      dimensions: 3,
      async embed(texts) {
        if (texts.length === 1 && texts[0] === 'refunds') {
          queries.push(texts[0]);
          return [vectorOf('Refund')];
        }
        await released;
        return texts.map(vectorOf);
      },
    };
    const metrics = new Metrics();
    const recorded = recordingLogger();
    const retriever = await loadKnowledgeRetriever({ knowledgeDir: docs, embedding: { name: 'test-model', embedder: gated }, logger: recorded.logger, metrics, sourceName: 'help-center' });
    expect(retriever.hybrid).toBe(false);
    expect(await gaugeValue(metrics, 'threadline_knowledge_hybrid', 'help-center')).toBe(0);
    expect(await gaugeValue(metrics, 'threadline_knowledge_chunks', 'help-center')).toBe(4);
    expect((await retriever.search('refunds', 1))[0]?.doc.content).toContain('Refunds');
    expect(queries).toEqual([]);

    release();
    await expect.poll(() => retriever.hybrid).toBe(true);
    await expect.poll(() => gaugeValue(metrics, 'threadline_knowledge_hybrid', 'help-center')).toBe(1);
    expect(await gaugeValue(metrics, 'threadline_knowledge_embedded_chunks', 'help-center')).toBe(4);
    expect(recorded.entries().map((entry) => entry.msg)).toContain('knowledge vectors ready; switched to hybrid retrieval');
    expect((await retriever.search('refunds', 1))[0]?.doc.content).toContain('Refunds');
    expect(queries).toEqual(['refunds']);
  });
});

async function gaugeValue(metrics: Metrics, name: string, source: string): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.find((value) => value.labels.source === source)?.value;
}
