import { afterEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient, redisCall, RedisUnavailableError, startConnecting, type RedisClient } from '../../../src/redis/connection.js';
import type { RedisLivenessOptions } from '../../../src/redis/liveness-watchdog.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { recordingLogger, type RecordedLogs } from '../../support/recording-logger.js';
import { redisServerBinary, startRedisServer, type TestRedis } from '../../support/redis-server.js';

const STOPPED_ANSWERING = 'Redis stopped answering; dropping the connection and reconnecting';
const RESTORED = 'Redis connection restored';
/** Far beyond anything the watch needs; only there so that a hang fails the test with a name instead of the runner's timeout. */
const HANG_GUARD_MS = 10_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function frozenableRedis(): Promise<TestRedis & { pause(): void; resume(): void }> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('These tests freeze their own redis-server: install it (`apt-get install -y redis-server`).');
  const redis = await startRedisServer(binary);
  const { pause, resume } = redis;
  if (!pause || !resume) throw new Error('startRedisServer returned a server that cannot be paused');
  cleanups.push(async () => {
    resume();
    await redis.stop();
  });
  return { ...redis, pause, resume };
}

async function watchedClient(url: string, logs: RecordedLogs, liveness: Partial<RedisLivenessOptions>): Promise<RedisClient> {
  const client = createRedisClient({ url, logger: logs.logger, liveness });
  expect(await startConnecting(client, 5_000)).toBe(true);
  cleanups.push(() => closeRedisClient(client, 1_000));
  return client;
}

/** Settles like `work`, or fails naming `what` if it has not settled long after it should have. */
async function settledBeforeHangGuard<T>(what: string, work: Promise<T>): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still had not settled after ${HANG_GUARD_MS} ms`)), HANG_GUARD_MS);
  });
  try {
    return await Promise.race([work.then((value) => ({ status: 'fulfilled' as const, value }), (reason: unknown) => ({ status: 'rejected' as const, reason })), guard]);
  } finally {
    clearTimeout(timer);
  }
}

function linesSaying(logs: RecordedLogs, message: string) {
  return logs.entries().filter((entry) => entry.msg === message);
}

describe('a single Redis that stops answering while the connection stays open', () => {
  it('fails the commands waiting on it and the ones after, warns once, and answers on the same client once Redis runs again', async () => {
    const redis = await frozenableRedis();
    const logs = recordingLogger();
    const client = await watchedClient(redis.url, logs, { intervalMs: 100, deadlineMs: 500 });
    await client.set('liveness:probe', 'before');

    redis.pause();
    const written = redisCall('read a key', () => client.get('liveness:probe'));
    const queuedBehind = redisCall('write a key', () => client.set('liveness:probe', 'during'));
    const [writtenOutcome, queuedOutcome] = await Promise.all([
      settledBeforeHangGuard('a command sent to the frozen Redis', written),
      settledBeforeHangGuard('a command queued behind it', queuedBehind),
    ]);
    for (const outcome of [writtenOutcome, queuedOutcome]) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(RedisUnavailableError);
      expect((reason as RedisUnavailableError).userMessage).toMatch(/^I cannot reach my conversation memory right now/);
    }
    // Still frozen: a new command is refused at once rather than queued behind a handshake Redis cannot answer.
    const later = await settledBeforeHangGuard('a command sent after the connection was dropped', redisCall('read a key', () => client.get('liveness:probe')));
    expect(later.status).toBe('rejected');
    expect(linesSaying(logs, STOPPED_ANSWERING)).toHaveLength(1);
    expect(linesSaying(logs, STOPPED_ANSWERING)[0]).toMatchObject({ level: 40, redis: redis.url });

    redis.resume();
    await waitFor('the client to reconnect', () => client.isReady, HANG_GUARD_MS);
    expect(await client.ping()).toBe('PONG');
    await client.set('liveness:probe', 'after');
    expect(await client.get('liveness:probe')).toBe('after');
    expect(linesSaying(logs, STOPPED_ANSWERING)).toHaveLength(1);
    expect(linesSaying(logs, RESTORED)).toHaveLength(1);
  });

  it('keeps a subscribed connection too: after Redis runs again it is subscribed and hears what is published', async () => {
    const redis = await frozenableRedis();
    const logs = recordingLogger();
    const subscriber = await watchedClient(redis.url, logs, { intervalMs: 100, deadlineMs: 500 });
    const publisher = await watchedClient(redis.url, recordingLogger(), { intervalMs: 60_000, deadlineMs: 60_000 });
    const heard: string[] = [];
    await subscriber.subscribe('liveness:channel', (message) => heard.push(message));

    redis.pause();
    await waitFor('the silent subscribed connection to be dropped', () => linesSaying(logs, STOPPED_ANSWERING).length === 1, HANG_GUARD_MS);
    redis.resume();
    await waitFor('the subscriber to reconnect', () => subscriber.isReady, HANG_GUARD_MS);
    // Resubscribing is part of the reconnection handshake but may still be on its way: publish until it is heard.
    // (The publisher's own connection was frozen too, but it was asked nothing meanwhile, so it simply carries on.)
    const deadline = Date.now() + HANG_GUARD_MS;
    while (heard.length === 0 && Date.now() < deadline) {
      await publisher.publish('liveness:channel', 'released');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(heard[0]).toBe('released');
    expect(linesSaying(logs, RESTORED)).toHaveLength(1);
  });

  it('leaves a slow but answering Redis alone', async () => {
    const redis = await frozenableRedis();
    const logs = recordingLogger();
    const client = await watchedClient(redis.url, logs, { intervalMs: 50, deadlineMs: 5_000 });
    // Redis runs one command at a time: while this script spins, every PING of the watch waits behind it.
    const spin = "local started = redis.call('TIME'); repeat local now = redis.call('TIME') until (now[1] - started[1]) * 1000000 + (now[2] - started[2]) > 500000; return 'spun'";
    for (let round = 0; round < 3; round += 1) expect(await client.eval(spin, { keys: [], arguments: [] })).toBe('spun');
    expect(linesSaying(logs, STOPPED_ANSWERING)).toHaveLength(0);
    expect(client.isReady).toBe(true);
  });

  it('closes without waiting for a frozen Redis, fails what was pending, and does not reconnect afterwards', async () => {
    const redis = await frozenableRedis();
    const logs = recordingLogger();
    // A watch too slow to notice within the test: the close itself must not wait on the frozen server.
    const client = await watchedClient(redis.url, logs, { intervalMs: 60_000, deadlineMs: 60_000 });
    redis.pause();
    const pending = client.get('liveness:probe');
    const closed = await settledBeforeHangGuard('closing the client', closeRedisClient(client, 500));
    expect(closed.status).toBe('fulfilled');
    expect((await settledBeforeHangGuard('the pending command', pending)).status).toBe('rejected');
    expect(client.isOpen).toBe(false);

    redis.resume();
    // Given time to (wrongly) reconnect, a closed client stays closed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.isOpen).toBe(false);
    expect(linesSaying(logs, STOPPED_ANSWERING)).toHaveLength(0);
  });

  it('stops watching a client its owner closed, even one recycled before', async () => {
    const redis = await frozenableRedis();
    const logs = recordingLogger();
    const client = await watchedClient(redis.url, logs, { intervalMs: 50, deadlineMs: 300 });
    redis.pause();
    await waitFor('the silent connection to be dropped', () => linesSaying(logs, STOPPED_ANSWERING).length === 1, HANG_GUARD_MS);
    redis.resume();
    await waitFor('the client to reconnect', () => client.isReady, HANG_GUARD_MS);

    await client.close();
    redis.pause();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(client.isOpen).toBe(false);
    expect(linesSaying(logs, STOPPED_ANSWERING)).toHaveLength(1);
  });
});
