import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emptyThreadState } from '../../../src/history/thread-state.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { RedisClusterClient } from '../../../src/redis/cluster-connection.js';
import { redisReadinessCheck } from '../../../src/observability/health.js';
import { loadConfig } from '../../../src/config/config.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { uniquePrefix } from '../../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';
import { createTestEngine, type TestEngine } from '../../support/engine-fixture.js';
import { replicaScenarios } from '../../support/engine-replica-scenarios.js';
import type { Answerer } from '../../../src/engine/answerer.js';

let cluster: TestRedisCluster;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});
afterAll(async () => {
  await cluster?.stop();
});

async function clusterBackends(keyPrefix = uniquePrefix('cluster')): Promise<StateBackends & { redisCluster: RedisClusterClient }> {
  const backends = await createStateBackends({ redisClusterNodes: cluster.nodeUrls, keyPrefix, threadTtlMs: 60_000, logger: silentLogger() });
  closers.push(() => backends.close());
  if (!backends.redisCluster) throw new Error('createStateBackends did not build a cluster client');
  return backends as StateBackends & { redisCluster: RedisClusterClient };
}

/** Keys under `prefix` per master, read with SCAN on each node (SCAN is never redirected, so this shows where keys really live). */
async function keysPerMaster(client: RedisClusterClient, prefix: string): Promise<Map<string, string[]>> {
  const placement = new Map<string, string[]>();
  for (const master of client.masters) {
    const node = await client.nodeClient(master);
    const found: string[] = [];
    for await (const keys of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) found.push(...keys);
    placement.set(master.address, found);
  }
  return placement;
}

describe('ThreadStore on a Redis Cluster', () => {
  it('round-trips thread states spread over several masters', async () => {
    const backends = await clusterBackends();
    const threadKeys = Array.from({ length: 12 }, (_, index) => `slack:T1:C1:${index}.000`);
    for (const threadKey of threadKeys) {
      const state = emptyThreadState(threadKey, 1);
      state.messages.push({ id: `m-${threadKey}`, role: 'user', content: `안녕하세요 ${threadKey} 👋`, createdAt: 1, tokens: { count: 7, source: 'estimate' } });
      await backends.store.save(state);
      expect((await backends.store.load(threadKey)).state).toEqual(state);
      expect(await backends.store.exists(threadKey)).toBe(true);
    }
    const placement = await keysPerMaster(backends.redisCluster, `${backends.store.threadRecordKey('')}`);
    const mastersHoldingThreads = [...placement.values()].filter((keys) => keys.length > 0);
    // Twelve keys on one master would mean the test never crossed a slot boundary.
    expect(mastersHoldingThreads.length).toBeGreaterThanOrEqual(2);
    expect(mastersHoldingThreads.flat().sort()).toEqual(threadKeys.map((threadKey) => backends.store.threadRecordKey(threadKey)).sort());

    await backends.store.delete(threadKeys[0]!);
    expect((await backends.store.load(threadKeys[0]!)).state).toBeUndefined();
  });

  it('moves an unparseable record to a quarantine key (on whichever master owns it) instead of overwriting it', async () => {
    const backends = await clusterBackends();
    const threadKey = 'slack:T1:C1:2.000';
    await backends.redisCluster.set(backends.store.threadRecordKey(threadKey), '{"value": not json');
    const loaded = await backends.store.load(threadKey);
    expect(loaded.state).toBeUndefined();
    expect(loaded.quarantinedAs).toMatch(/:quarantine:slack:T1:C1:2\.000:/);
    expect(await backends.redisCluster.get(loaded.quarantinedAs!)).toContain('not json');
    expect(await backends.redisCluster.get(backends.store.threadRecordKey(threadKey))).toBeNull();
  });

  it('quarantines a record with an unknown schema version, keeping its content', async () => {
    const backends = await clusterBackends();
    const future = { ...emptyThreadState('t-future', 1), version: 99, messages: [{ id: 'keep-me' }] };
    await backends.redisCluster.set(backends.store.threadRecordKey('t-future'), JSON.stringify({ value: future }));
    const loaded = await backends.store.load('t-future');
    expect(loaded.quarantinedAs).toBeDefined();
    expect(await backends.redisCluster.get(loaded.quarantinedAs!)).toContain('keep-me');
  });

  it('refreshes the thread time-to-live on every save', async () => {
    const backends = await clusterBackends();
    await backends.store.save(emptyThreadState('ttl-thread', 1));
    const ttl = await backends.redisCluster.pTTL(backends.store.threadRecordKey('ttl-thread'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});

describe('Coordinator on a Redis Cluster', () => {
  it('tracks turns in flight across replicas', async () => {
    const keyPrefix = uniquePrefix('inflight');
    const [first, second] = [await clusterBackends(keyPrefix), await clusterBackends(keyPrefix)];
    await first.coordinator.markInFlight('slack:T1:C1:1.000');
    await second.coordinator.markInFlight('discord:G1:C1:2');
    expect((await second.coordinator.listInFlight()).sort()).toEqual(['discord:G1:C1:2', 'slack:T1:C1:1.000']);
    await second.coordinator.clearInFlight('slack:T1:C1:1.000');
    expect(await first.coordinator.listInFlight()).toEqual(['discord:G1:C1:2']);
  });

  it('puts the lock, queue, ticket and liveness keys of one thread in one slot, and different threads on different masters', async () => {
    const keyPrefix = uniquePrefix('slots');
    const backends = await clusterBackends(keyPrefix);
    const threadKeys = Array.from({ length: 9 }, (_, index) => `discord:G1:C${index}:thread`);
    const releases: Array<() => void> = [];
    const turns: Promise<unknown>[] = [];
    for (const threadKey of threadKeys) {
      let entered!: () => void;
      const holding = new Promise<void>((resolve) => (entered = resolve));
      turns.push(backends.coordinator.withThreadLock(threadKey, () => new Promise<void>((resolve) => (entered(), releases.push(resolve)))));
      await holding;
      // A second turn waiting behind the held lock brings the queue, ticket and liveness keys into being.
      let queued!: () => void;
      const inLine = new Promise<void>((resolve) => (queued = resolve));
      turns.push(backends.coordinator.withThreadLock(threadKey, async () => 'waited', { onQueued: () => queued(), waitTimeoutMs: 10_000 }));
      await inLine;
    }
    const placement = await keysPerMaster(backends.redisCluster, `${keyPrefix}:`);
    releases.forEach((release) => release());
    await Promise.all(turns);

    const kindsAndSlotsByThread = new Map<string, { kinds: Set<string>; slots: Set<number> }>();
    for (const key of [...placement.values()].flat()) {
      const [, kind, tag] = /^[^:]+:(lock|queue|alive|ticket):\{([^}]*)\}$/.exec(key) ?? [];
      if (!kind || !tag) continue;
      const slot = Number(await backends.redisCluster.sendCommand(key, true, ['CLUSTER', 'KEYSLOT', key]));
      const entry = kindsAndSlotsByThread.get(tag) ?? { kinds: new Set<string>(), slots: new Set<number>() };
      entry.kinds.add(kind);
      entry.slots.add(slot);
      kindsAndSlotsByThread.set(tag, entry);
    }
    expect([...kindsAndSlotsByThread.keys()].sort()).toEqual([...threadKeys].sort());
    for (const { kinds, slots } of kindsAndSlotsByThread.values()) {
      expect([...kinds].sort()).toEqual(['alive', 'lock', 'queue', 'ticket']);
      expect(slots.size).toBe(1);
    }
    expect([...placement.values()].filter((keys) => keys.some((key) => key.includes(':lock:'))).length).toBeGreaterThanOrEqual(2);
  });
});

describe('ConversationEngine on a Redis Cluster', () => {
  async function twoReplicas(answerer: Answerer): Promise<[TestEngine, TestEngine]> {
    const keyPrefix = uniquePrefix('replicas');
    const first = await createTestEngine({ answerer, redisClusterNodes: cluster.nodeUrls, keyPrefix });
    const second = await createTestEngine({ answerer, redisClusterNodes: cluster.nodeUrls, keyPrefix });
    closers.push(() => first.close(), () => second.close());
    return [first, second];
  }

  replicaScenarios(twoReplicas, { messagesInOneThread: 20 });
});

describe('Configuring a Redis Cluster', () => {
  it('runs the bot state on the cluster named by REDIS_CLUSTER_NODES, and the readiness check pings it', async () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: ` ${cluster.nodeUrls.join(' , ')} ` });
    expect(config.REDIS_CLUSTER_NODES).toEqual(cluster.nodeUrls);
    const backends = await createStateBackends({
      redisClusterNodes: config.REDIS_CLUSTER_NODES,
      keyPrefix: uniquePrefix('config'),
      threadTtlMs: config.THREAD_TTL_SECONDS * 1000,
      logger: silentLogger(),
    });
    closers.push(() => backends.close());
    expect(backends.redis).toBeUndefined();
    expect(await backends.coordinator.claimEvent('config-event', 10_000)).toBe(true);
    expect(await backends.coordinator.claimEvent('config-event', 10_000)).toBe(false);
    await expect(redisReadinessCheck(backends.redisCluster!).check(new AbortController().signal, 2_000)).resolves.toBeUndefined();
  });

  it('refuses REDIS_CLUSTER_NODES together with REDIS_URL', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: cluster.nodeUrls.join(',') })).toThrow(/REDIS_CLUSTER_NODES: cannot be used together with REDIS_URL/);
  });

  it('names the bad entry without echoing it, and treats every node password as a secret', () => {
    const password = 'cluster-password-123';
    const bad = [`redis://:${password}@127.0.0.1:7000`, `http://:${password}@127.0.0.1:7001`].join(',');
    let message = '';
    try {
      loadConfig({ REDIS_CLUSTER_NODES: bad });
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/REDIS_CLUSTER_NODES: entry 2 must start with redis:\/\/ or rediss:\/\//);
    expect(message).not.toContain(password);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000/3' })).toThrow(/only database 0/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://:one1one@127.0.0.1:7000,redis://:two2two@127.0.0.1:7001' })).toThrow(/different credentials/);
    const config = loadConfig({ REDIS_CLUSTER_NODES: `redis://:${password}@127.0.0.1:7000,redis://127.0.0.1:7001` });
    expect(config.secrets).toContain(password);
  });
});
