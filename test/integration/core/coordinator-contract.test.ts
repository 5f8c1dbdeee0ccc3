import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { MemoryCoordinator } from '../../../src/coordination/memory-coordinator.js';
import { RedisCoordinator } from '../../../src/coordination/redis-coordinator.js';
import { LockWaitTimeoutError, type Coordinator } from '../../../src/coordination/coordinator.js';
import { createRedisClient, type RedisClient } from '../../../src/redis/connection.js';
import { createRedisClusterClient, type RedisClusterClient } from '../../../src/redis/cluster-connection.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';

interface CoordinatorFactory {
  name: string;
  /** Two coordinators that must behave as one (two replicas on one Redis; the same instance in memory). */
  pair(): Promise<[Coordinator, Coordinator]>;
  cleanup(): Promise<void>;
}

const memoryFactory: CoordinatorFactory = {
  name: 'memory',
  async pair() {
    const coordinator = new MemoryCoordinator();
    return [coordinator, coordinator];
  },
  async cleanup() {},
};

function redisFactory(): CoordinatorFactory {
  const clients: RedisClient[] = [];
  const prefix = uniquePrefix('coord');
  return {
    name: 'redis',
    async pair() {
      const url = requireRedisUrl();
      const make = async () => {
        const client = createRedisClient({ url, logger: silentLogger() });
        const subscriber = createRedisClient({ url, logger: silentLogger() });
        await Promise.all([client.connect(), subscriber.connect()]);
        clients.push(client, subscriber);
        // A long poll interval: turns must be handed over by the release notification, not by polling.
        return new RedisCoordinator({ client, subscriber, keyPrefix: prefix, logger: silentLogger(), lockTtlMs: 600, maxPollIntervalMs: 2_000 });
      };
      return [await make(), await make()];
    },
    async cleanup() {
      await deleteKeysWithPrefix(requireRedisUrl(), prefix);
      await Promise.all(clients.map((client) => client.close()));
    },
  };
}

/** Two replicas on a three-master Redis Cluster of their own; each cluster client is also its own release subscriber. */
function redisClusterFactory(): CoordinatorFactory {
  let cluster: TestRedisCluster | undefined;
  const clients: RedisClusterClient[] = [];
  const prefix = uniquePrefix('coord');
  return {
    name: 'redis cluster',
    async pair() {
      const nodeUrls = (cluster = await startRedisCluster()).nodeUrls;
      const make = async () => {
        const client = createRedisClusterClient({ nodeUrls, logger: silentLogger() });
        await client.connect();
        clients.push(client);
        // As on one node: turns must be handed over by the release notification, not by polling.
        return new RedisCoordinator({ client, subscriber: client, keyPrefix: prefix, logger: silentLogger(), lockTtlMs: 600, maxPollIntervalMs: 2_000 });
      };
      return [await make(), await make()];
    },
    async cleanup() {
      await Promise.all(clients.map((client) => client.close()));
      await cluster?.stop();
    },
  };
}

for (const factory of [memoryFactory, redisFactory(), redisClusterFactory()]) {
  describe(`Coordinator contract: ${factory.name}`, () => {
    let first: Coordinator;
    let second: Coordinator;
    beforeAll(async () => {
      [first, second] = await factory.pair();
    });
    afterAll(() => factory.cleanup());

    it('claims an event once, whichever replica sees it', async () => {
      const eventId = `evt-${Math.random()}`;
      const claims = await Promise.all([first.claimEvent(eventId, 10_000), second.claimEvent(eventId, 10_000), first.claimEvent(eventId, 10_000)]);
      expect(claims.filter(Boolean)).toHaveLength(1);
    });

    it('lets an event be claimed again after its claimant gave it back', async () => {
      const eventId = `evt-${Math.random()}`;
      expect(await first.claimEvent(eventId, 10_000)).toBe(true);
      await first.releaseEvent(eventId);
      expect(await second.claimEvent(eventId, 10_000)).toBe(true);
      expect(await first.claimEvent(eventId, 10_000)).toBe(false);
    });

    it('lets an event be claimed again once its claim expired', async () => {
      const eventId = `evt-${Math.random()}`;
      expect(await first.claimEvent(eventId, 50)).toBe(true);
      await delay(80);
      expect(await second.claimEvent(eventId, 50)).toBe(true);
    });

    it('runs the turns of one thread one at a time, in arrival order, across replicas', async () => {
      const threadKey = `thread-${Math.random()}`;
      const order: number[] = [];
      let inside = 0;
      let maxInside = 0;
      const turns: Promise<void>[] = [];
      for (let index = 0; index < 20; index += 1) {
        const coordinator = index % 2 === 0 ? first : second;
        let queued!: () => void;
        const entered = new Promise<void>((resolve) => (queued = resolve));
        turns.push(
          coordinator.withThreadLock(
            threadKey,
            async () => {
              queued();
              inside += 1;
              maxInside = Math.max(maxInside, inside);
              await delay(3);
              order.push(index);
              inside -= 1;
            },
            { onQueued: () => queued() },
          ),
        );
        // The next turn arrives only once this one is in line (or running): that defines arrival order.
        await entered;
      }
      await Promise.all(turns);
      expect(maxInside).toBe(1);
      expect(order).toEqual([...Array(20).keys()]);
    });

    it('lets different threads run at the same time', async () => {
      let inside = 0;
      let maxInside = 0;
      await Promise.all(
        [1, 2, 3].map((index) =>
          (index % 2 ? first : second).withThreadLock(`parallel-${index}-${Math.random()}`, async () => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            await delay(30);
            inside -= 1;
          }),
        ),
      );
      expect(maxInside).toBe(3);
    });

    it('gives up waiting after the wait timeout and leaves the line', async () => {
      const threadKey = `timeout-${Math.random()}`;
      let release!: () => void;
      const holding = first.withThreadLock(threadKey, () => new Promise<void>((resolve) => (release = resolve)));
      await delay(20);
      await expect(second.withThreadLock(threadKey, async () => 'never', { waitTimeoutMs: 100 })).rejects.toBeInstanceOf(LockWaitTimeoutError);
      release();
      await holding;
      // The one that gave up must not block the next caller.
      await expect(second.withThreadLock(threadKey, async () => 'next', { waitTimeoutMs: 2_000 })).resolves.toBe('next');
    });

    it('serialises threads whose keys hold braces, nothing, or Korean text (one hash slot per thread on a Cluster)', async () => {
      const threadKeys = ['', '{', '}{', 'slack:{T1}:C1:{1.0}', `슬랙:채널:${Math.random()}`, `discord:${'x'.repeat(300)}`];
      for (const threadKey of threadKeys) {
        let inside = 0;
        let maxInside = 0;
        const ran: number[] = [];
        await Promise.all(
          [first, second, first].map((coordinator, index) =>
            coordinator.withThreadLock(threadKey, async (lock) => {
              inside += 1;
              maxInside = Math.max(maxInside, inside);
              await delay(2);
              await lock.assertHeld();
              ran.push(index);
              inside -= 1;
            }),
          ),
        );
        expect(ran.sort()).toEqual([0, 1, 2]);
        expect(maxInside).toBe(1);
      }
    });

    it('releases the lock when the work throws', async () => {
      const threadKey = `throws-${Math.random()}`;
      await expect(first.withThreadLock(threadKey, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(second.withThreadLock(threadKey, async () => 'after', { waitTimeoutMs: 2_000 })).resolves.toBe('after');
    });
  });
}

describe('RedisCoordinator, failure cases', () => {
  it('recovers a thread whose lock holder died: the lock expires and the next turn runs', async () => {
    const url = requireRedisUrl();
    const prefix = uniquePrefix('dead');
    const dying = createRedisClient({ url, logger: silentLogger() });
    const survivor = createRedisClient({ url, logger: silentLogger() });
    await Promise.all([dying.connect(), survivor.connect()]);
    try {
      const dyingCoordinator = new RedisCoordinator({ client: dying, keyPrefix: prefix, logger: silentLogger(), lockTtlMs: 300 });
      const survivingCoordinator = new RedisCoordinator({ client: survivor, keyPrefix: prefix, logger: silentLogger(), lockTtlMs: 300 });
      let entered!: () => void;
      const held = new Promise<void>((resolve) => (entered = resolve));
      // The holder's process "dies": its connection is destroyed mid-turn, so renewals stop.
      const abandoned = dyingCoordinator.withThreadLock('dead-thread', async () => {
        entered();
        await new Promise(() => {});
      });
      abandoned.catch(() => {});
      await held;
      dying.destroy();
      const startedWaiting = Date.now();
      const result = await survivingCoordinator.withThreadLock('dead-thread', async () => 'recovered', { waitTimeoutMs: 5_000 });
      expect(result).toBe('recovered');
      expect(Date.now() - startedWaiting).toBeGreaterThanOrEqual(100);
    } finally {
      await deleteKeysWithPrefix(url, prefix);
      await survivor.close();
    }
  });

  it('aborts the running work when its lock was taken away', async () => {
    const url = requireRedisUrl();
    const prefix = uniquePrefix('lost');
    const client = createRedisClient({ url, logger: silentLogger() });
    await client.connect();
    try {
      const coordinator = new RedisCoordinator({ client, keyPrefix: prefix, logger: silentLogger(), lockTtlMs: 150 });
      const outcome = await coordinator.withThreadLock('lost-thread', async (lock) => {
        const lockKeys: string[] = [];
        for await (const keys of client.scanIterator({ MATCH: `${prefix}:lock:*` })) lockKeys.push(...keys);
        await client.del(lockKeys);
        await new Promise<void>((resolve) => lock.signal.addEventListener('abort', () => resolve(), { once: true }));
        await expect(lock.assertHeld()).rejects.toMatchObject({ code: 'lock_lost' });
        return 'aborted';
      });
      expect(outcome).toBe('aborted');
    } finally {
      await deleteKeysWithPrefix(url, prefix);
      await client.close();
    }
  });
});
