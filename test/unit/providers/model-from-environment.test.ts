import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { clovaModelOverrides } from '../../../src/config/clova-model.js';
import { buildModelStack, type ModelStack } from '../../../src/composition/model-stack.js';
import { createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova, type FakeClovaOptions } from '../../fakes/clova/fake-clova-server.js';
import { createTestEngine, incomingMessage, recordingSink, type TestEngine } from '../../support/engine-fixture.js';

/** Both the fake's and the client's rate windows, shortened from a minute so a test sees several. */
const WINDOW_MS = 400;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function fakeClova(options: FakeClovaOptions): Promise<FakeClova> {
  const fake = await startFakeClova({ rateLimitWindowMs: WINDOW_MS, ...options });
  closers.push(() => fake.close());
  return fake;
}

/** The CLOVA provider as the model stack builds it from these environment variables (limiter window shortened). */
function providerFromEnvironment(fake: FakeClova, env: Record<string, string>): ClovaProvider {
  const config = loadConfig({ CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: fake.url, ...env });
  const provider = createClovaProvider({
    apiKey: FAKE_CLOVA_API_KEY,
    baseUrl: config.CLOVA_STUDIO_BASE_URL,
    model: config.CLOVA_MODEL,
    modelOverrides: clovaModelOverrides(config),
    rateLimitWindowMs: WINDOW_MS,
    // One attempt: a 429 must show up as a failure, not be retried away.
    retry: { maxAttempts: 1 },
    logger: silentLogger(),
  });
  closers.push(() => provider.close());
  return provider;
}

const ask = [{ role: 'user' as const, content: 'How do I configure Redis?' }];

async function burst(provider: ClovaProvider, calls: number, maxTokens: number): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(Array.from({ length: calls }, () => provider.chatModel.complete(ask, { maxTokens })));
}

describe('the CLOVA chat model as the environment describes it', () => {
  it('CLOVA_MODEL_REQUESTS_PER_MINUTE holds a burst to the server\'s request limit, where the catalogue default would not', async () => {
    const fake = await fakeClova({ rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 3 } } });

    const limited = await burst(providerFromEnvironment(fake, { CLOVA_MODEL: 'HCX-DASH-002', CLOVA_MODEL_REQUESTS_PER_MINUTE: '3' }), 7, 10);
    expect(limited.map((outcome) => outcome.status)).toEqual(new Array(7).fill('fulfilled'));
    expect(fake.requests.map((request) => request.responseStatus)).toEqual(new Array(7).fill(200));

    // The catalogue's web/test-key figure for this model (90 a minute) lets the same burst through to 429s.
    fake.reset();
    const unlimited = await burst(providerFromEnvironment(fake, { CLOVA_MODEL: 'HCX-DASH-002' }), 7, 10);
    expect(unlimited.filter((outcome) => outcome.status === 'rejected').length).toBeGreaterThan(0);
    expect(fake.requests.map((request) => request.responseStatus)).toContain(429);
  });

  it('CLOVA_MODEL_TOKENS_PER_MINUTE spaces out calls whose output reserves would pass it', async () => {
    // The fake refuses a second call within one window; only the token limit can keep calls apart here.
    const fake = await fakeClova({ rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 1 } } });

    const limited = await burst(providerFromEnvironment(fake, { CLOVA_MODEL: 'HCX-DASH-002', CLOVA_MODEL_TOKENS_PER_MINUTE: '1000' }), 3, 600);
    expect(limited.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(fake.requests.map((request) => request.responseStatus)).toEqual([200, 200, 200]);

    fake.reset();
    const unlimited = await burst(providerFromEnvironment(fake, { CLOVA_MODEL: 'HCX-DASH-002' }), 3, 600);
    expect(unlimited.filter((outcome) => outcome.status === 'rejected').length).toBeGreaterThan(0);
  });

  it('answers a turn with a model the catalogue does not know once CLOVA_MODEL_API_VERSION and MODEL_CONTEXT_WINDOW describe it', async () => {
    const fake = await fakeClova({ models: { 'HCX-NEW': { apiVersion: 'v3', contextWindow: 32_000 } } });
    const config = loadConfig({
      CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY,
      CLOVA_STUDIO_BASE_URL: fake.url,
      CLOVA_MODEL: 'HCX-NEW',
      CLOVA_MODEL_API_VERSION: 'v3',
      MODEL_CONTEXT_WINDOW: '32000',
      CLOVA_USE_RAG_REASONING: 'false',
      CLOVA_USE_RERANKER: 'false',
    });
    const models: ModelStack = await buildModelStack(config, { logger: silentLogger(), metrics: new Metrics() });
    closers.push(() => models.close());
    expect(models.budget.windowTokens).toBeLessThanOrEqual(32_000);
    const testEngine: TestEngine = await createTestEngine({ answerer: models.answerer, compactor: models.compactor });
    closers.push(() => testEngine.close());

    const outcome = await testEngine.engine.handle(incomingMessage('console:new-model', 'How do I configure Redis?'), recordingSink());
    expect(outcome.kind).toBe('answered');
    const chatCalls = fake.requestsFor('chat');
    expect(chatCalls.length).toBeGreaterThan(0);
    expect(chatCalls.map((request) => [request.routePath, request.responseStatus])).toEqual(chatCalls.map(() => ['/v3/chat-completions/HCX-NEW', 200]));
  });
});
