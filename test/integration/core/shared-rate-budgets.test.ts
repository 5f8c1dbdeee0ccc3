import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createRateBudgets, type RateBudgets } from '../../../src/composition/rate-budgets.js';
import { RedisRateBudget } from '../../../src/coordination/redis-rate-budget.js';
import { RedisBudgetFallback } from '../../../src/coordination/redis-budget-fallback.js';
import { createRedisClient, startConnecting, type RedisClient } from '../../../src/redis/connection.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import type { RateLimits } from '../../../src/providers/http/rate-limiter.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix, withRedisClient } from '../../support/redis.js';
import { redisServerBinary, startRedisServer } from '../../support/redis-server.js';
import { recordingLogger } from '../../support/recording-logger.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One replica's view: its own connection to the shared Redis and its own budgets on it. */
async function replica(url: string, keyPrefix: string, options: { logger?: Logger; commandTimeoutMs?: number; retryRedisAfterMs?: number; maxInFlightMs?: number } = {}): Promise<{ client: RedisClient; budgets: RateBudgets }> {
  const logger = options.logger ?? silentLogger();
  const client = createRedisClient({ url, logger, ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}) });
  await startConnecting(client, 3_000);
  cleanups.push(async () => {
    if (client.isOpen) await client.close().catch(() => client.destroy());
    else client.destroy();
  });
  const budgets = createRateBudgets({
    redis: client,
    keyPrefix,
    logger,
    ...(options.retryRedisAfterMs !== undefined ? { retryRedisAfterMs: options.retryRedisAfterMs } : {}),
    ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
    ...(options.maxInFlightMs !== undefined ? { maxInFlightMs: options.maxInFlightMs } : {}),
  });
  return { client, budgets };
}

function sharedPrefix(label: string): string {
  const url = requireRedisUrl();
  const keyPrefix = uniquePrefix(label);
  cleanups.push(() => deleteKeysWithPrefix(url, keyPrefix));
  return keyPrefix;
}

function redisBudget(budgets: RateBudgets, name: string, limits: RateLimits): RedisRateBudget {
  const budget = budgets.forEndpoint(name, limits);
  expect(budget).toBeInstanceOf(RedisRateBudget);
  return budget as RedisRateBudget;
}

describe('a rate budget shared through Redis', () => {
  it('lets two replicas together spend the quota once: 10 a minute across both, and the 11th is told to wait', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-shared');
    const [first, second] = await Promise.all([replica(url, keyPrefix), replica(url, keyPrefix)]);
    const limits = { requestsPerMinute: 10 };
    const budgets = [redisBudget(first.budgets, 'clova:HCX-005', limits), redisBudget(second.budgets, 'clova:HCX-005', limits)];

    const permits = [];
    for (let call = 0; call < 10; call += 1) permits.push(await budgets[call % 2]!.acquire(1));
    for (const permit of permits) permit.settle();
    const eleventh = await budgets[0]!.tryAcquire(1);
    const alsoEleventh = await budgets[1]!.tryAcquire(1);
    expect(eleventh).toMatchObject({ admitted: false });
    expect(alsoEleventh).toMatchObject({ admitted: false });
    // Settled admissions leave the window one minute after their response: the wait says when.
    if (!eleventh.admitted) expect(eleventh.retryInMs).toBeGreaterThan(0);
    if (!eleventh.admitted) expect(eleventh.retryInMs).toBeLessThanOrEqual(60_000);

    // Another endpoint's budget is untouched.
    await expect(redisBudget(second.budgets, 'clova:embedding', limits).tryAcquire(1)).resolves.toMatchObject({ admitted: true });
  });

  it('makes a caller wait until the window has room, and the one admitted after the wait finds the old admission gone', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-wait');
    const [first, second] = await Promise.all([replica(url, keyPrefix), replica(url, keyPrefix)]);
    const limits = { requestsPerMinute: 1, windowMs: 300 };
    const held = await redisBudget(first.budgets, 'clova:reranker', limits).acquire(1);
    held.settle();
    const before = await withRedisClient(url, (client) => client.zRange(`${keyPrefix}:rate:{clova:reranker}`, 0, -1));
    expect(before).toHaveLength(1);

    const next = await redisBudget(second.budgets, 'clova:reranker', limits).acquire(1);
    expect(next.waitedMs).toBeGreaterThan(0);
    const after = await withRedisClient(url, (client) => client.zRange(`${keyPrefix}:rate:{clova:reranker}`, 0, -1));
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    next.settle();
  });

  it('lets a waiting caller give up: the abort rejects with its reason and nobody is left queued', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-abort');
    const [first, second] = await Promise.all([replica(url, keyPrefix), replica(url, keyPrefix)]);
    const limits = { requestsPerMinute: 1 };
    (await redisBudget(first.budgets, 'clova:HCX-005', limits).acquire(1)).settle();

    const waiting = redisBudget(second.budgets, 'clova:HCX-005', limits);
    const cancel = new AbortController();
    const queued = waiting.acquire(1, cancel.signal);
    const behind = waiting.acquire(1, AbortSignal.abort(new Error('already cancelled')));
    await expect(behind).rejects.toThrow('already cancelled');
    await expect.poll(() => waiting.waiting).toBe(1);
    cancel.abort(new Error('the user pressed stop'));
    await expect(queued).rejects.toThrow('the user pressed stop');
    expect(waiting.waiting).toBe(0);
    // The abandoned wait took nothing from the window.
    expect(await withRedisClient(url, (client) => client.zCard(`${keyPrefix}:rate:{clova:HCX-005}`))).toBe(1);
  });

  it('reserves estimated tokens per minute across replicas, and still admits one oversized call into an empty window', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-tokens');
    const [first, second] = await Promise.all([replica(url, keyPrefix), replica(url, keyPrefix)]);
    const limits = { tokensPerMinute: 100 };
    (await redisBudget(first.budgets, 'clova:HCX-007', limits).acquire(80)).settle();
    expect(await redisBudget(second.budgets, 'clova:HCX-007', limits).tryAcquire(30)).toMatchObject({ admitted: false });
    expect(await redisBudget(second.budgets, 'clova:HCX-007', limits).tryAcquire(20)).toMatchObject({ admitted: true });

    const oversized = await redisBudget(second.budgets, 'clova:rag-reasoning', limits).tryAcquire(500);
    expect(oversized).toMatchObject({ admitted: true });
    expect(await redisBudget(first.budgets, 'clova:rag-reasoning', limits).tryAcquire(1)).toMatchObject({ admitted: false });
  });

  it('keeps counting an admission while its request is in flight, but not forever if its process died', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-in-flight');
    const [first, second] = await Promise.all([replica(url, keyPrefix, { maxInFlightMs: 400 }), replica(url, keyPrefix, { maxInFlightMs: 400 })]);
    const limits = { requestsPerMinute: 1, windowMs: 100 };
    // Admitted, and never settled: as if its process died while the request was in flight.
    await redisBudget(first.budgets, 'clova:summarization', limits).acquire(1);
    await delay(200);
    // Longer than the window ago, but its response has not arrived: the server may still be counting it.
    expect(await redisBudget(second.budgets, 'clova:summarization', limits).tryAcquire(1)).toMatchObject({ admitted: false });

    // It stops counting after window + in-flight limit.
    const later = await redisBudget(second.budgets, 'clova:summarization', limits).acquire(1);
    expect(later.waitedMs).toBeGreaterThan(0);
  });

  it('shares a token bucket per key across replicas: the burst once, then skips; forced calls go into debt', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-buckets');
    const [first, second] = await Promise.all([replica(url, keyPrefix), replica(url, keyPrefix)]);
    const options = { perMinute: 1, burst: 3 };
    const buckets = [first.budgets.tokenBuckets('slack:chat.update', options), second.budgets.tokenBuckets('slack:chat.update', options)];
    const taken = [];
    for (let call = 0; call < 5; call += 1) taken.push(await buckets[call % 2]!.tryTake('T0TEAM0001'));
    expect(taken).toEqual([true, true, true, false, false]);
    await buckets[0]!.take('T0TEAM0002');
    await buckets[1]!.take('T0TEAM0002');
    await buckets[0]!.take('T0TEAM0002');
    await buckets[1]!.take('T0TEAM0002');
    // Three of the burst and one in debt: another workspace's bucket is its own, and this one is overdrawn.
    expect(await buckets[0]!.tryTake('T0TEAM0002')).toBe(false);
    expect(await buckets[1]!.tryTake('T0TEAM0003')).toBe(true);
  });
});

describe('a rate budget when Redis fails', () => {
  it('fails open: a hung or stopped Redis paces this process alone, says so once, and the budget returns to Redis afterwards', async () => {
    const binary = redisServerBinary();
    if (!binary) throw new Error('This test stops its own Redis, so it needs redis-server installed (apt-get install -y redis-server).');
    const server = await startRedisServer(binary);
    cleanups.push(() => server.stop());
    const { logger, entries } = recordingLogger({ level: 'info' });
    const { budgets } = await replica(server.url, 'rate-outage', { logger, commandTimeoutMs: 200, retryRedisAfterMs: 300 });
    const budget = redisBudget(budgets, 'clova:HCX-005', { requestsPerMinute: 2 });
    const buckets = budgets.tokenBuckets('slack:chat.update', { perMinute: 1, burst: 1 });
    (await budget.acquire(1)).settle();

    // Hung: budget commands count as failed after 200 ms instead of waiting for an answer that never comes.
    server.pause!();
    (await budget.acquire(1)).settle();
    (await budget.acquire(1)).settle();
    expect(await buckets.tryTake('T1')).toBe(true);
    expect(await buckets.tryTake('T1')).toBe(false);
    // Paced alone, this process still keeps to the limit itself: a third call this minute waits (until its caller gives up).
    await expect(budget.acquire(1, AbortSignal.timeout(500))).rejects.toThrow();

    // Stopped: commands fail at once, and a budget with room admits at once.
    server.resume!();
    await server.stop();
    (await budgets.forEndpoint('clova:embedding', { requestsPerMinute: 2 }).acquire(1)).settle();
    await buckets.take('T1');

    const warnings = entries().filter((entry) => entry.msg?.includes('shared rate budgets are unavailable in Redis'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, operation: expect.any(String) });

    await server.restart!();
    await expect
      .poll(async () => {
        (await budgets.forEndpoint('clova:HCX-DASH-002', { requestsPerMinute: 100 }).acquire(1)).settle();
        return entries().some((entry) => entry.msg === 'shared rate budgets are back in Redis');
      }, { timeout: 10_000, interval: 200 })
      .toBe(true);
  });

  it('hands back an admission Redis applied whose reply was lost, so it does not hold a slot of the shared window', async () => {
    const url = requireRedisUrl();
    const keyPrefix = sharedPrefix('rate-lost-reply');
    const { client } = await replica(url, keyPrefix);
    const key = `${keyPrefix}:rate:{clova:lost-reply}`;
    let loseNextReply = true;
    // The admission reaches Redis and is applied; only its reply goes missing, as with a dropped connection.
    const losingClient = {
      eval: async (...args: Parameters<RedisClient['eval']>) => {
        const reply = await client.eval(...args);
        if (loseNextReply) {
          loseNextReply = false;
          throw new Error('Socket closed unexpectedly');
        }
        return reply;
      },
    };
    const budget = new RedisRateBudget({
      client: losingClient,
      key,
      limits: { requestsPerMinute: 1 },
      fallback: new RedisBudgetFallback({ logger: silentLogger(), retryRedisAfterMs: 0 }),
    });

    await expect(budget.tryAcquire(1)).rejects.toThrow();
    await expect.poll(async () => client.zCard(key)).toBe(0);
    // The one request of this minute is still there to be had.
    expect(await budget.tryAcquire(1)).toMatchObject({ admitted: true });
  });
});
