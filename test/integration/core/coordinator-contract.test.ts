import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { MemoryCoordinator } from '../../../src/coordination/memory-coordinator.js';
import { RedisCoordinator } from '../../../src/coordination/redis-coordinator.js';
import { LockWaitTimeoutError, type AdoptedPending, type Coordinator } from '../../../src/coordination/coordinator.js';
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

interface Peer {
  coordinator: Coordinator;
  die(): Promise<void>;
  /** Stops renewing its leases but keeps its connection: a process frozen for a while (a long pause) that may wake up. */
  stall(): Promise<void>;
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
  peer?(options?: ReplicaOptions): Promise<Peer>;
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
      const coordinator = redisCoordinator(client, undefined, prefix, options);
      // A killed process: its connection is gone, so its renewals fail.
      return { coordinator, die: async () => client.destroy(), stall: () => coordinator.close() };
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
      const coordinator = redisCoordinator(client, undefined, prefix, options);
      return { coordinator, die: async () => client.destroy(), stall: () => coordinator.close() };
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
        expect(await second.adoptAbandonedPending(threadKey)).toEqual([]);
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
        expect(await second.adoptAbandonedPending(threadKey)).toEqual([]);
        await peer.die();

        const adopted: AdoptedPending[] = [];
        const race = async () => {
          const batches = await Promise.all([first.adoptAbandonedPending(threadKey), second.adoptAbandonedPending(threadKey)]);
          adopted.push(...batches.flat());
          return adopted.length;
        };
        await expect.poll(race, { timeout: 10 * PENDING_LEASE_MS, interval: 50 }).toBeGreaterThan(0);
        await race();
        expect(adopted.map((entry) => [entry.payload, entry.sequence])).toEqual([['left behind', abandoned.sequence]]);
        expect(abandoned.sequence).toBeLessThan(live.sequence);
        // Adopted, it stays recorded until its adopter has dealt with it.
        expect((await first.listPending(threadKey)).map((entry) => entry.payload)).toEqual(['left behind', 'still waiting']);
        expect(await adopted[0]!.hold.remove()).toBe(true);
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
        const adopted: AdoptedPending[] = [];
        await expect
          .poll(async () => {
            adopted.push(...(await second.adoptAbandonedPending(threadKey, { arrivedBefore: live.sequence })));
            return adopted.map((entry) => entry.payload);
          }, { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
          .toEqual(['abandoned, first']);
        expect(abandonedFirst.sequence).toBeLessThan(live.sequence);
        expect(await adopted[0]!.hold.remove()).toBe(true);
        // Well past the third one's lease: the live message ahead of it still holds it back.
        await delay(2 * PENDING_LEASE_MS);
        expect(await second.adoptAbandonedPending(threadKey)).toEqual([]);
        await live.remove();
        const third = await second.adoptAbandonedPending(threadKey);
        expect(third.map((entry) => entry.payload)).toEqual(['abandoned, third']);
        expect(await third[0]!.hold.remove()).toBe(true);
        expect(await first.listPending(threadKey)).toEqual([]);
      });

      acrossProcesses('are adopted, payload and arrival order kept, under a lease of the adopter: their stalled holder no longer owns them, and what the adopter abandons lapses to the next one', async () => {
        const threadKey = `pending-adopted-${Math.random()}`;
        const peer = await backend.peer!();
        const stalled = [await peer.coordinator.addPending(threadKey, 'first'), await peer.coordinator.addPending(threadKey, '두 번째')];
        await peer.stall();
        const adopted: AdoptedPending[] = [];
        await expect
          .poll(async () => adopted.push(...(await second.adoptAbandonedPending(threadKey))), { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
          .toBe(2);
        expect(adopted.map((entry) => [entry.payload, entry.sequence])).toEqual([['first', stalled[0]!.sequence], ['두 번째', stalled[1]!.sequence]]);
        // The stalled process wakes up: the messages are no longer its to answer.
        expect(await stalled[0]!.isOurs()).toBe(false);
        expect(await stalled[1]!.update('stale')).toBe(false);
        expect(await stalled[1]!.remove()).toBe(false);
        // Two leases on: the adopter's renewals keep them from everyone else.
        await delay(2 * PENDING_LEASE_MS);
        expect(await first.adoptAbandonedPending(threadKey)).toEqual([]);
        expect((await first.listPending(threadKey)).map((entry) => entry.payload)).toEqual(['first', '두 번째']);

        // The adopter answers the first, then stops (say, it is shutting down).
        expect(await adopted[0]!.hold.remove()).toBe(true);
        adopted[1]!.hold.abandon();
        const readopted: AdoptedPending[] = [];
        await expect
          .poll(async () => {
            readopted.push(...(await first.adoptAbandonedPending(threadKey)));
            return readopted.map((entry) => entry.payload);
          }, { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
          .toEqual(['두 번째']);
        expect(await adopted[1]!.hold.remove()).toBe(false);
        expect(await readopted[0]!.hold.remove()).toBe(true);
        expect(await second.listPending(threadKey)).toEqual([]);
        await peer.die();
      });
    });
  });
}

describe('MemoryCoordinator, closed', () => {
  it('stops renewing its waiting messages, which are then adopted once each, oldest first, and no longer its own', async () => {
    const coordinator = new MemoryCoordinator({ pendingLeaseMs: PENDING_LEASE_MS });
    const holds = [await coordinator.addPending('closed-thread', 'first'), await coordinator.addPending('closed-thread', 'second')];
    expect(await coordinator.adoptAbandonedPending('closed-thread')).toEqual([]);
    await coordinator.close();
    const adopted: AdoptedPending[] = [];
    await expect
      .poll(async () => {
        adopted.push(...(await coordinator.adoptAbandonedPending('closed-thread')));
        return adopted.map((entry) => entry.payload);
      }, { timeout: 10 * PENDING_LEASE_MS, interval: 50 })
      .toEqual(['first', 'second']);
    expect(await coordinator.adoptAbandonedPending('closed-thread')).toEqual([]);
    expect(await holds[0]!.isOurs()).toBe(false);
    expect(await holds[1]!.remove()).toBe(false);
    expect(await Promise.all(adopted.map((entry) => entry.hold.remove()))).toEqual([true, true]);
    expect(await coordinator.listPending('closed-thread')).toEqual([]);
    await coordinator.close();
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
