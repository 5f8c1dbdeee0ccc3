import { afterEach, describe, expect, it } from 'vitest';
import { clovaRateOptions, createRateBudgets } from '../../../src/composition/rate-budgets.js';
import { ClovaRateLimitError, createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { createRedisClient, startConnecting } from '../../../src/redis/connection.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { startFakeClova, FAKE_CLOVA_API_KEY, type FakeClova, type RecordedRequest } from '../../fakes/clova/fake-clova-server.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';

const WINDOW_MS = 1_000;
const EMBEDDINGS_PER_WINDOW = 4;
const CHATS_PER_WINDOW = 3;

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeClovaWithLimits(): Promise<FakeClova> {
  const fake = await startFakeClova({
    rateLimits: { embedding: { requestsPerMinute: EMBEDDINGS_PER_WINDOW }, 'HCX-005': { requestsPerMinute: CHATS_PER_WINDOW } },
    rateLimitWindowMs: WINDOW_MS,
  });
  cleanups.push(() => fake.close());
  return fake;
}

/** One replica's CLOVA provider, its budgets on its own Redis connection when `keyPrefix` is given. */
async function replicaProvider(fake: FakeClova, keyPrefix: string | undefined): Promise<ClovaProvider> {
  let rateBudgets;
  if (keyPrefix) {
    const client = createRedisClient({ url: requireRedisUrl(), logger: silentLogger() });
    await startConnecting(client, 3_000);
    cleanups.push(() => client.close());
    rateBudgets = createRateBudgets({ redis: client, keyPrefix, logger: silentLogger() });
  }
  const provider = createClovaProvider({
    apiKey: FAKE_CLOVA_API_KEY,
    baseUrl: fake.url,
    model: 'HCX-005',
    modelOverrides: { requestsPerMinute: CHATS_PER_WINDOW },
    ...clovaRateOptions({ CLOVA_EMBEDDING_REQUESTS_PER_MINUTE: EMBEDDINGS_PER_WINDOW }, rateBudgets),
    rateLimitWindowMs: WINDOW_MS,
    // One attempt: a 429 from the fake must surface, not be retried away.
    retry: { maxAttempts: 1 },
    logger: silentLogger(),
  });
  cleanups.push(() => provider.close());
  return provider;
}

/** The most requests the fake received within any one window (its own sliding-window count). */
function busiestWindow(requests: RecordedRequest[]): number {
  const times = requests.map((request) => request.receivedAt).sort((a, b) => a - b);
  return Math.max(0, ...times.map((end) => times.filter((time) => time > end - WINDOW_MS && time <= end).length));
}

/** Ten embeddings and seven chats, spread over both replicas and sent at once. */
function burst(replicas: ClovaProvider[]): Array<Promise<unknown>> {
  const calls: Array<Promise<unknown>> = [];
  for (let index = 0; index < 10; index += 1) calls.push(replicas[index % 2]!.client.embed(`question ${index}`));
  for (let index = 0; index < 7; index += 1) {
    calls.push(replicas[index % 2]!.client.chatV3('HCX-005', { messages: [{ role: 'user', content: `hello ${index}` }], maxTokens: 32 }));
  }
  return calls;
}

describe('two CLOVA clients on one account', () => {
  it('pace themselves through one shared budget: CLOVA never sees more than the limit in a window and refuses nothing', async () => {
    const fake = await fakeClovaWithLimits();
    const keyPrefix = uniquePrefix('clova-budget');
    cleanups.push(() => deleteKeysWithPrefix(requireRedisUrl(), keyPrefix));
    const replicas = [await replicaProvider(fake, keyPrefix), await replicaProvider(fake, keyPrefix)];

    await Promise.all(burst(replicas));

    const embeddings = fake.requestsFor('embedding');
    const chats = fake.requestsFor('chat');
    expect(embeddings).toHaveLength(10);
    expect(chats).toHaveLength(7);
    expect([...embeddings, ...chats].filter((request) => request.responseStatus !== 200)).toEqual([]);
    expect(busiestWindow(embeddings)).toBeLessThanOrEqual(EMBEDDINGS_PER_WINDOW);
    expect(busiestWindow(chats)).toBeLessThanOrEqual(CHATS_PER_WINDOW);
  });

  it('each with a budget of its own (no Redis), send twice the limit and collect 429s — what the shared budget prevents', async () => {
    const fake = await fakeClovaWithLimits();
    const replicas = [await replicaProvider(fake, undefined), await replicaProvider(fake, undefined)];

    const outcomes = await Promise.allSettled(burst(replicas));

    const refused = outcomes.filter((outcome) => outcome.status === 'rejected' && outcome.reason instanceof ClovaRateLimitError);
    expect(refused.length).toBeGreaterThan(0);
    expect(fake.requests.some((request) => request.responseStatus === 429)).toBe(true);
  });
});
