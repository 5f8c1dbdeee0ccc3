import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyThreadState } from '../../../src/history/thread-state.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import { createLogger } from '../../../src/observability/logger.js';
import { loadConfig } from '../../../src/config/config.js';
import { uniquePrefix } from '../../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';
import { recordingLogger } from '../../support/recording-logger.js';

const PASSWORD = 'cluster-Pass-7f3a';
let cluster: TestRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ password: PASSWORD });
});
afterAll(async () => {
  await cluster?.stop();
});


async function backendsFor(nodeUrls: string[], logger: ReturnType<typeof createLogger>): Promise<StateBackends> {
  const config = loadConfig({ REDIS_CLUSTER_NODES: nodeUrls.join(',') });
  return createStateBackends({ redisClusterNodes: config.REDIS_CLUSTER_NODES, keyPrefix: uniquePrefix('auth'), threadTtlMs: 60_000, logger, connectWaitMs: 500 });
}

describe('A password-protected Redis Cluster', () => {
  it('reaches every master with the password written once, on the first root node, and never logs it', async () => {
    const [first, ...rest] = cluster.nodeUrls;
    const withPassword = first!.replace('redis://', `redis://:${PASSWORD}@`);
    // Nothing is scrubbed (no secrets given), so a password in a line would show.
    const { logger, lines } = recordingLogger();
    const backends = await backendsFor([withPassword, ...rest], logger);
    try {
      // Enough threads to land on all three masters, which the client found by discovery, not from the list.
      const threadKeys = Array.from({ length: 24 }, (_, index) => `slack:T1:C1:${index}.000`);
      for (const threadKey of threadKeys) await backends.store.save(emptyThreadState(threadKey, 1));
      for (const threadKey of threadKeys) expect((await backends.store.load(threadKey)).state?.threadKey).toBe(threadKey);
      const mastersWithThreads = new Set<string>();
      for (const master of backends.redisCluster!.masters) {
        const node = await backends.redisCluster!.nodeClient(master);
        for await (const keys of node.scanIterator({ MATCH: backends.store.threadRecordKey('*'), COUNT: 500 })) if (keys.length > 0) mastersWithThreads.add(master.address);
      }
      expect(mastersWithThreads.size).toBe(3);
      expect(await backends.coordinator.withThreadLock(threadKeys[0]!, async () => 'locked')).toBe('locked');
    } finally {
      await backends.close();
    }
    expect(lines.join('')).toContain('connected to Redis Cluster');
    expect(lines.join('')).not.toContain(PASSWORD);
  });

  it('with a wrong password, starts anyway, fails turns as Redis being unavailable, and logs the problem once without the password', async () => {
    const wrong = 'not-the-Pass-9c1e';
    // Nothing is scrubbed (no secrets given), so a password in a line would show.
    const { logger, lines } = recordingLogger();
    const backends = await backendsFor(cluster.nodeUrls.map((url) => url.replace('redis://', `redis://:${wrong}@`)), logger);
    try {
      await expect(backends.coordinator.claimEvent('event-1', 10_000)).rejects.toMatchObject({ code: 'redis_unavailable' });
      await expect(backends.store.load('slack:T1:C1:1.000')).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      await backends.close();
    }
    const unreachable = lines.filter((line) => line.includes('Redis Cluster is unreachable'));
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]).toMatch(/WRONGPASS|NOAUTH|invalid/i);
    expect(lines.join('')).not.toContain(wrong);
  });
});
