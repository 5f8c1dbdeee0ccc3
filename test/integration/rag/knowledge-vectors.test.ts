import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildModelStack, type ModelStack } from '../../../src/composition/model-stack.js';
import { loadConfig } from '../../../src/config/config.js';
import type { AnswerRequest } from '../../../src/engine/answerer.js';
import { KnowledgeEmbeddingMismatchError } from '../../../src/knowledge/errors.js';
import { readIndexFile } from '../../../src/knowledge/index-file.js';
import { ingestFiles } from '../../../src/knowledge/ingest.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { fakeEmbedding, FAKE_EMBEDDING_DIMENSIONS } from '../../fakes/clova/default-responders.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { recordingLogger } from '../../support/recording-logger.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../../src/knowledge/ingest-cli.ts');
const TSX = resolve(import.meta.dirname, '../../../node_modules/.bin/tsx');
/** Each CLI run starts tsx, which compiles on a busy two-core machine. */
const CLI_TEST_TIMEOUT_MS = 60_000;

let workspace: string;
let docs: string;
let indexFile: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'threadline-knowledge-vectors-'));
  docs = join(workspace, 'kb');
  indexFile = join(workspace, 'data', 'index.json');
  await mkdir(docs);
  await writeFile(join(docs, 'replicas.md'), '# Replicas\nSet REDIS_URL so that every replica shares thread memory, dedupe and locks.\n');
  await writeFile(join(docs, 'faq.csv'), faqCsv(['Open Settings and choose Security.', 'Refunds take 30 days.', 'Gift cards are final.']));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(workspace, { recursive: true, force: true });
});

function faqCsv(answers: string[]): string {
  return ['id,question,answer', ...answers.map((answer, row) => `q${row},Question ${row},${answer}`)].join('\n');
}

async function startClova(options: Parameters<typeof startFakeClova>[0] = {}): Promise<FakeClova> {
  const fake = await startFakeClova(options);
  cleanups.push(() => fake.close());
  return fake;
}

/** The bot's environment with CLOVA embeddings against `fake`. */
function clovaEnv(fake: FakeClova, extra: Record<string, string> = {}): Record<string, string> {
  return { LLM_PROVIDER: 'clova', CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: fake.url, CLOVA_USE_EMBEDDINGS: 'true', ...extra };
}

async function ingestCli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], { cwd: workspace, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? workspace, KNOWLEDGE_INDEX_FILE: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function startModels(env: Record<string, string>, logger = recordingLogger().logger): Promise<{ models: ModelStack; metrics: Metrics }> {
  const metrics = new Metrics();
  const models = await buildModelStack(loadConfig(env), { logger, metrics });
  cleanups.push(() => models.close());
  return { models, metrics };
}

async function gauge(metrics: Metrics, name: string): Promise<number | undefined> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((value) => value.labels.source === 'default')?.value;
}

/** Chunks are embedded as "title\ntext"; queries are one line. */
const isChunkText = (text: string) => text.includes('\n');

describe('npm run ingest with CLOVA embeddings', () => {
  it('writes a vector per chunk through the embedding API, and the bot loads the index as hybrid', async () => {
    const fake = await startClova();
    const result = await ingestCli(clovaEnv(fake), '--index', 'data/index.json', 'kb');
    expect(result.stderr).toContain('embedding model: clova:embedding-v2');
    expect(result.stdout).toContain('Vectors (clova:embedding-v2): 4 embedded, 0 reused, 4 of 4 chunks have one.');
    expect(result.code).toBe(0);

    const index = await readIndexFile(indexFile);
    expect(index!.embedding).toEqual({ model: 'clova:embedding-v2', dimensions: FAKE_EMBEDDING_DIMENSIONS });
    const sent = fake.requestsFor('embedding').map((request) => (request.body as { text: string }).text);
    expect(sent.sort()).toEqual(index!.chunks.map((chunk) => `${chunk.title}\n${chunk.text}`).sort());
    for (const chunk of index!.chunks) expect(chunk.vector).toEqual(fakeEmbedding(`${chunk.title}\n${chunk.text}`));

    const recorded = recordingLogger();
    const { metrics } = await startModels(clovaEnv(fake, { KNOWLEDGE_INDEX_FILE: indexFile }), recorded.logger);
    expect(recorded.entries().find((entry) => entry.msg === 'knowledge index loaded')).toMatchObject({ chunks: 4, hybrid: true });
    expect(await gauge(metrics, 'threadline_knowledge_hybrid')).toBe(1);
  }, CLI_TEST_TIMEOUT_MS);

  it('asks the API again only for the chunk whose text changed when one file was edited', async () => {
    const fake = await startClova();
    expect((await ingestCli(clovaEnv(fake), '--index', 'data/index.json', 'kb')).code).toBe(0);
    expect(fake.requestsFor('embedding')).toHaveLength(4);

    await writeFile(join(docs, 'faq.csv'), faqCsv(['Open Settings and choose Security.', 'Refunds now take 14 days.', 'Gift cards are final.']));
    const again = await ingestCli(clovaEnv(fake), '--index', 'data/index.json', 'kb');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Vectors (clova:embedding-v2): 1 embedded, 2 reused, 4 of 4 chunks have one.');
    expect(fake.requestsFor('embedding').slice(4).map((request) => (request.body as { text: string }).text)).toEqual(['Question 1\nRefunds now take 14 days.']);

    const unchanged = await ingestCli(clovaEnv(fake), '--index', 'data/index.json', 'kb');
    expect(unchanged.stdout).toContain('No changes to data/index.json');
    expect(fake.requestsFor('embedding')).toHaveLength(5);
  }, CLI_TEST_TIMEOUT_MS);

  it('rides out the API\'s 429s, waiting the Retry-After it sends, and still writes every vector', async () => {
    const fake = await startClova({ rateLimits: { embedding: { requestsPerMinute: 2 } }, rateLimitWindowMs: 1_000 });
    const result = await ingestCli(clovaEnv(fake), '--index', 'data/index.json', 'kb');
    expect(result.code).toBe(0);
    const requests = fake.requestsFor('embedding');
    expect(requests.filter((request) => request.responseStatus === 429).length).toBeGreaterThan(0);
    // Every chunk text was answered once in the end: each 429 was followed by a retry of the same text.
    const answered = requests.filter((request) => request.responseStatus === 200).map((request) => (request.body as { text: string }).text);
    expect(answered.sort()).toEqual((await readIndexFile(indexFile))!.chunks.map((chunk) => `${chunk.title}\n${chunk.text}`).sort());
    expect((await readIndexFile(indexFile))!.chunks.every((chunk) => chunk.vector?.length === FAKE_EMBEDDING_DIMENSIONS)).toBe(true);
  }, CLI_TEST_TIMEOUT_MS);

  it('explains what to configure when --embeddings is asked for without an embedding model', async () => {
    const result = await ingestCli({ LLM_PROVIDER: 'offline' }, '--embeddings', '--index', 'data/index.json', 'kb');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--embeddings needs an embedding model: set CLOVA_USE_EMBEDDINGS=true with CLOVA_STUDIO_API_KEY, or OPENAI_EMBEDDING_MODEL with LLM_PROVIDER=openai');
  }, CLI_TEST_TIMEOUT_MS);

  it('refuses to start on an index embedded with another model, naming both models and the command that fixes it', async () => {
    const fake = await startClova();
    const otherModel = { dimensions: FAKE_EMBEDDING_DIMENSIONS, embed: async (texts: string[]) => texts.map(fakeEmbedding) };
    await ingestFiles({ paths: [docs], indexFile, relativeTo: workspace, embedding: { name: 'openai:text-embedding-3-small', embedder: otherModel } });

    const starting = startModels(clovaEnv(fake, { KNOWLEDGE_INDEX_FILE: indexFile }));
    const error = await starting.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(KnowledgeEmbeddingMismatchError);
    expect((error as Error).message).toBe(
      `Knowledge index ${indexFile} was embedded with openai:text-embedding-3-small (1024 dimensions), but queries would be embedded with clova:embedding-v2 (1024 dimensions); ` +
        'vectors of different models cannot be compared. ' +
        `Re-embed the index for clova:embedding-v2 with \`npm run ingest -- --embeddings --index ${indexFile}\` under this configuration (it replaces every vector), ` +
        'or configure LLM_PROVIDER=openai with OPENAI_EMBEDDING_MODEL=text-embedding-3-small again.',
    );
    expect(fake.requestsFor('embedding')).toHaveLength(0);

    // The suggested command works: it re-embeds for the configured model, and the bot then starts hybrid.
    const fixed = await ingestCli(clovaEnv(fake), '--embeddings', '--index', indexFile);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain('Vectors (clova:embedding-v2): 4 embedded');
    const { metrics } = await startModels(clovaEnv(fake, { KNOWLEDGE_INDEX_FILE: indexFile }));
    expect(await gauge(metrics, 'threadline_knowledge_hybrid')).toBe(1);
  }, CLI_TEST_TIMEOUT_MS);
});

describe('startup with KNOWLEDGE_DIR and CLOVA embeddings', () => {
  it('answers lexically while the vectors are built in the background, then switches to hybrid', async () => {
    const fake = await startClova();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    fake.scriptEmbedding(async ({ text }) => {
      if (isChunkText(text)) await released;
      return { embedding: fakeEmbedding(text) };
    });
    const recorded = recordingLogger();
    // Resolving at all while every chunk embedding is held proves startup does not wait for vectors.
    const { models, metrics } = await startModels(clovaEnv(fake, { KNOWLEDGE_DIR: docs }), recorded.logger);
    expect(await gauge(metrics, 'threadline_knowledge_hybrid')).toBe(0);
    expect(await gauge(metrics, 'threadline_knowledge_chunks')).toBe(4);
    expect(await gauge(metrics, 'threadline_knowledge_embedded_chunks')).toBe(0);
    // Building vectors is not a readiness problem: every check passes meanwhile.
    await Promise.all(models.readiness.map((readiness) => readiness.check(new AbortController().signal, 2_000)));

    const question = 'How do replicas share thread memory?';
    const lexical = await models.answerer.answer(request(models, question));
    expect(lexical.sources.map((source) => source.docId)).toContain('kb/replicas.md#0');
    expect(fake.requestsFor('embedding').some((call) => (call.body as { text: string }).text === question)).toBe(false);

    release();
    await expect.poll(() => gauge(metrics, 'threadline_knowledge_hybrid'), { timeout: 20_000 }).toBe(1);
    expect(await gauge(metrics, 'threadline_knowledge_embedded_chunks')).toBe(4);
    const messages = recorded.entries().map((entry) => entry.msg);
    expect(messages).toContain('building knowledge vectors in the background; answering with lexical retrieval until they are ready');
    expect(messages).toContain('knowledge vectors ready; switched to hybrid retrieval');

    const followUp = 'Where do refunds stand?';
    const hybrid = await models.answerer.answer(request(models, followUp));
    expect(hybrid.sources.length).toBeGreaterThan(0);
    // Now the query itself is embedded: the dense half takes part.
    expect(fake.requestsFor('embedding').filter((call) => (call.body as { text: string }).text === followUp && call.responseStatus === 200)).toHaveLength(1);
  }, CLI_TEST_TIMEOUT_MS);
});

function request(models: ModelStack, text: string): AnswerRequest {
  return {
    message: { platform: 'console', threadKey: 'console:vectors', eventId: text, messageId: text, scope: { workspaceId: 'local', channelId: 'c' }, author: { id: 'u' }, text, receivedAt: 0 },
    history: [{ role: 'user', content: text }],
    budget: { ...models.budget, reservedTokens: models.answerer.reservedTokens },
    signal: new AbortController().signal,
    progress: async () => {},
  };
}
