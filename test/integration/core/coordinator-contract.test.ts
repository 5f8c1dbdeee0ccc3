import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { MemoryCoordinator } from '../../../src/coordination/memory-coordinator.js';
import { RedisCoordinator } from '../../../src/coordination/redis-coordinator.js';
import { LockWaitTimeoutError, type Coordinator } from '../../../src/coordination/coordinator.js';
import { createRedisClient, type RedisClient } from '../../../src/redis/connection.js';
import { createRedisClusterClient, type RedisClusterClient } from '../../../src/redis/cluster-connection.js';
import type { ChannelSubscriber, RedisCommands } from '../../../src/redis/redis-commands.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';

/** Long enough that a holder on a busy two-core machine keeps renewing; short enough to wait out in a test. */
const PENDING_LEASE_MS = 1_000;

/** A lock that expires within a test unless renewed; its holder renews every third of it. */
const SHORT_LOCK_TTL_MS = 300;

interface ReplicaOptions {
  lockTtlMs?: number;
  maxPollIntervalMs?: number;
}

interface CoordinatorBackend {
  name: string;
  start(): Promise<void>;
  /**
   * One more replica on the backend: on Redis a coordinator with connections of its own; in memory
   * the one instance, which stands for every replica (it has no lock expiry to configure).
   */
  replica(options?: ReplicaOptions): Promise<Coordinator>;
  /**
   * A replica and a way to make its process "die": it stops renewing anything and releases nothing.
   * Absent in memory, where no replica can die on its own.
   */
  peer?(options?: ReplicaOptions): Promise<{ coordinator: Coordinator; die(): Promise<void> }>;
  cleanup(): Promise<void>;
}

function memoryBackend(): CoordinatorBackend {
  let coordinator: MemoryCoordinator | undefined;
  return {
    name: 'memory',
    async start() {
      coordinator = new MemoryCoordinator({ pendingLeaseMs: PENDING_LEASE_MS });
    },
    async replica() {
      return coordinator!;
    },
    async cleanup() {
      await coordinator?.close();
    },
  };
}

/**
 * A replica on `client`. Unless a test sets its own, the long poll interval means turns must be
 * handed over by the release notification, not by polling.
 */
function redisCoordinator(client: RedisCommands, subscriber: ChannelSubscriber | undefined, keyPrefix: string, options: ReplicaOptions): RedisCoordinator {
  return new RedisCoordinator({ client, subscriber, keyPrefix, logger: silentLogger(), lockTtlMs: 600, maxPollIntervalMs: 2_000, pendingLeaseMs: PENDING_LEASE_MS, ...options });
}

function redisBackend(): CoordinatorBackend {
  const clients: RedisClient[] = [];
  const prefix = uniquePrefix('coord');
  const connected = async () => {
    const client = createRedisClient({ url: requireRedisUrl(), logger: silentLogger() });
    await client.connect();
    return client;
  };
  return {
    name: 'redis',
    async start() {},
    async replica(options = {}) {
      const [client, subscriber] = await Promise.all([connected(), connected()]);
      clients.push(client, subscriber);
      return redisCoordinator(client, subscriber, prefix, options);
    },
    async peer(options = {}) {
      const client = await connected();
      // A killed process: its connection is gone, so its renewals fail.
      return { coordinator: redisCoordinator(client, undefined, prefix, options), die: async () => client.destroy() };
    },
    async cleanup() {
      await deleteKeysWithPrefix(requireRedisUrl(), prefix);
      await Promise.all(clients.map((client) => client.close()));
    },
  };
}

/** Replicas on a three-master Redis Cluster of their own; each cluster client is also its own release subscriber. */
function redisClusterBackend(): CoordinatorBackend {
  let cluster: TestRedisCluster | undefined;
  const clients: RedisClusterClient[] = [];
  const prefix = uniquePrefix('coord');
  const connected = async () => {
    const client = createRedisClusterClient({ nodeUrls: cluster!.nodeUrls, logger: silentLogger() });
    await client.connect();
    return client;
  };
  return {
    name: 'redis cluster',
    async start() {
      cluster = await startRedisCluster();
    },
    async replica(options = {}) {
      const client = await connected();
      clients.push(client);
      return redisCoordinator(client, client, prefix, options);
    },
    async peer(options = {}) {
      const client = await connected();
      return { coordinator: redisCoordinator(client, undefined, prefix, options), die: async () => client.destroy() };
    },
    async cleanup() {
      await Promise.all(clients.map((client) => client.close()));
      await cluster?.stop();
    },
  };
}

for (const backend of [memoryBackend(), redisBackend(), redisClusterBackend()]) {
  describe(`Coordinator contract: ${backend.name}`, () => {
    // Only backends shared between processes have a holder that can die while others go on; one
    // process has none, so the memory backend does not register these tests rather than skip them.
    const acrossProcesses = (name: string, test: () => Promise<void>, timeout?: number) => {
      if (backend.peer) it(name, test, timeout);
    };
    let first: Coordinator;
    let second: Coordinator;
    beforeAll(async () => {
      await backend.start();
      [first, second] = [await backend.replica(), await backend.replica()];
    });
    afterAll(() => backend.cleanup());

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

    it('keeps a lock for as long as its work runs, well past the lock expiry, and no other replica gets in meanwhile', async () => {
      const threadKey = `renewed-${Math.random()}`;
      const holder = await backend.replica({ lockTtlMs: SHORT_LOCK_TTL_MS });
      // Polls often: a lock that lapsed for a moment would be taken at once.
      const contender = await backend.replica({ lockTtlMs: SHORT_LOCK_TTL_MS, maxPollIntervalMs: 20 });
      const workMs = 1_000;
      const events: string[] = [];
      const contenderTurn = () => contender.withThreadLock(threadKey, async () => void events.push('contender ran'), { waitTimeoutMs: workMs });
      await holder.withThreadLock(threadKey, async (lock) => {
        events.push('holder started');
        // The contender tries for as long as the work runs, over three lock lifetimes: only renewals keep the lock from lapsing under it.
        const [contended] = await Promise.allSettled([contenderTurn(), delay(workMs)]);
        expect(contended).toMatchObject({ status: 'rejected', reason: expect.any(LockWaitTimeoutError) });
        await lock.assertHeld();
        expect(lock.signal.aborted).toBe(false);
        events.push('holder finished');
      });
      await contenderTurn();
      expect(events).toEqual(['holder started', 'holder finished', 'contender ran']);
    });

    acrossProcesses('hands the thread of a lock holder that died to the next turn, once its lock expired and not before', async () => {
      const threadKey = `dead-holder-${Math.random()}`;
      const peer = await backend.peer!({ lockTtlMs: SHORT_LOCK_TTL_MS });
      const events: string[] = [];
      let entered!: () => void;
      const held = new Promise<void>((resolve) => (entered = resolve));
      const abandoned = peer.coordinator.withThreadLock(threadKey, async () => {
        entered();
        await new Promise(() => {});
      });
      abandoned.catch(() => {});
      await held;
      await peer.die();
      events.push('holder died');
      const result = await second.withThreadLock(
        threadKey,
        async (lock) => {
          await lock.assertHeld();
          events.push('next turn ran');
          return 'recovered';
        },
        // Called when the first attempt finds the dead holder's lock still there.
        { onQueued: () => void events.push('next turn found the thread busy'), waitTimeoutMs: 5_000 },
      );
      expect(result).toBe('recovered');
      expect(events).toEqual(['holder died', 'next turn found the thread busy', 'next turn ran']);
    });

    describe('messages waiting for their thread', () => {
      it('are recorded where every replica sees them, in arrival order, with their thread in the in-flight set', async () => {
        const threadKey = `pending-{order}-${Math.random()}`;
        const earlier = await first.addPending(threadKey, 'first question');
        const later = await second.addPending(threadKey, '두 번째 질문 🙂');
        expect(later.sequence).toBeGreaterThan(earlier.sequence);
        expect((await second.listPending(threadKey)).map((entry) => entry.payload)).toEqual(['first question', '두 번째 질문 🙂']);
        expect(await first.listInFlight()).toContain(threadKey);
        expect(await earlier.update('first question, with its placeholder')).toBe(true);
        expect((await first.listPending(threadKey)).map((entry) => entry.payload)).toEqual(['first question, with its placeholder', '두 번째 질문 🙂']);
        expect([await earlier.remove(), await later.remove()]).toEqual([true, true]);
        expect(await first.listPending(threadKey)).toEqual([]);
      });

      it('keep their thread in the in-flight set until the last one is gone', async () => {
        const threadKey = `pending-inflight-${Math.random()}`;
        const hold = await first.addPending(threadKey, 'waiting');
        await second.markInFlight(threadKey);
        // The turn ahead of it finished: the thread must stay findable for as long as the message waits.
        await second.clearInFlight(threadKey);
        expect(await first.listInFlight()).toContain(threadKey);
        await hold.remove();
        await second.clearInFlight(threadKey);
        expect(await first.listInFlight()).not.toContain(threadKey);
      });

      it('stay with a live holder that keeps renewing its lease, and are removed by it once', async () => {
        const threadKey = `pending-renewed-${Math.random()}`;
        const hold = await first.addPending(threadKey, 'slow but alive');
        // Three leases' worth of waiting: only renewals keep the entry from being taken.
        await delay(3 * PENDING_LEASE_MS);
        expect(await second.takeAbandonedPending(threadKey)).toEqual([]);
        expect(await hold.isOurs()).toBe(true);
        expect(await hold.remove()).toBe(true);
        // A second removal reports the first one, not someone else's take-over.
        expect(await hold.remove()).toBe(true);
        expect(await hold.isOurs()).toBe(false);
        expect(await hold.update('too late')).toBe(false);
        expect(await second.listPending(threadKey)).toEqual([]);
      });

      acrossProcesses('go to exactly one of two racing recoverers once their holder died, never ahead of a live one', async () => {
        const threadKey = `pending-abandoned-${Math.random()}`;
        const peer = await backend.peer!();
        const abandoned = await peer.coordinator.addPending(threadKey, 'left behind');
        const live = await first.addPending(threadKey, 'still waiting');
        expect(await second.takeAbandonedPending(threadKey)).toEqual([]);
        await peer.die();

        const taken: string[] = [];
        await expect
          .poll(async () => {
            const batches = await Promise.all([first.takeAbandonedPending(threadKey), second.takeAbandonedPending(threadKey)]);
            taken.push(...batches.flat().map((entry) => entry.payload));
            return taken.length;
          }, { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
          .toBeGreaterThan(0);
        await Promise.all([first.takeAbandonedPending(threadKey), second.takeAbandonedPending(threadKey)]).then((batches) => taken.push(...batches.flat().map((entry) => entry.payload)));
        expect(taken).toEqual(['left behind']);
        expect(abandoned.sequence).toBeLessThan(live.sequence);
        expect((await first.listPending(threadKey)).map((entry) => entry.payload)).toEqual(['still waiting']);
        expect(await live.isOurs()).toBe(true);
        expect(await live.remove()).toBe(true);
      });

      acrossProcesses('are never taken ahead of a live message that arrived before them', async () => {
        const threadKey = `pending-behind-live-${Math.random()}`;
        const peer = await backend.peer!();
        const abandonedFirst = await peer.coordinator.addPending(threadKey, 'abandoned, first');
        const live = await first.addPending(threadKey, 'live, second');
        await peer.coordinator.addPending(threadKey, 'abandoned, third');
        await peer.die();
        await expect
          .poll(async () => (await second.takeAbandonedPending(threadKey, { arrivedBefore: live.sequence })).map((entry) => entry.payload), { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
          .toEqual(['abandoned, first']);
        expect(abandonedFirst.sequence).toBeLessThan(live.sequence);
        // Well past the third one's lease: the live message ahead of it still holds it back.
        await delay(2 * PENDING_LEASE_MS);
        expect(await second.takeAbandonedPending(threadKey)).toEqual([]);
        await live.remove();
        expect((await second.takeAbandonedPending(threadKey)).map((entry) => entry.payload)).toEqual(['abandoned, third']);
        expect(await first.listPending(threadKey)).toEqual([]);
      });
    });
  });
}

describe('MemoryCoordinator, closed', () => {
  it('stops renewing its waiting messages, which are then taken once each, oldest first', async () => {
    const coordinator = new MemoryCoordinator({ pendingLeaseMs: PENDING_LEASE_MS });
    await coordinator.addPending('closed-thread', 'first');
    await coordinator.addPending('closed-thread', 'second');
    expect(await coordinator.takeAbandonedPending('closed-thread')).toEqual([]);
    await coordinator.close();
    await expect
      .poll(async () => (await coordinator.takeAbandonedPending('closed-thread')).map((entry) => entry.payload), { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
      .toEqual(['first', 'second']);
    expect(await coordinator.takeAbandonedPending('closed-thread')).toEqual([]);
  });
});

describe('RedisCoordinator, failure cases', () => {
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
