import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRateBudgets } from '../../../src/composition/rate-budgets.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import { RedisRateBudget } from '../../../src/coordination/redis-rate-budget.js';
import type { RedisClusterClient } from '../../../src/redis/cluster-connection.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { uniquePrefix } from '../../support/redis.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';

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

/** One replica: its own state backends (and so its own Cluster client) on the shared cluster. */
async function replicaOnCluster(keyPrefix: string): Promise<StateBackends & { redisCluster: RedisClusterClient }> {
  const backends = await createStateBackends({ redisClusterNodes: cluster.nodeUrls, keyPrefix, threadTtlMs: 60_000, logger: silentLogger() });
  closers.push(() => backends.close());
  if (!backends.redisCluster) throw new Error('createStateBackends did not build a cluster client');
  return backends as StateBackends & { redisCluster: RedisClusterClient };
}

describe('rate budgets on a Redis Cluster', () => {
  it('share one quota between replicas for budgets whose keys land on different masters', async () => {
    const keyPrefix = uniquePrefix('cluster-rate');
    const replicas = await Promise.all([replicaOnCluster(keyPrefix), replicaOnCluster(keyPrefix)]);
    const budgets = replicas.map((backends) => createRateBudgets({ redis: backends.redisCluster, keyPrefix, logger: silentLogger() }));
    const names = Array.from({ length: 6 }, (_, index) => `clova:model-${index}`);
    const limits = { requestsPerMinute: 3 };

    for (const name of names) {
      const [first, second] = budgets.map((replica) => replica.forEndpoint(name, limits)) as [RedisRateBudget, RedisRateBudget];
      expect(first).toBeInstanceOf(RedisRateBudget);
      (await first.acquire(1)).settle();
      (await second.acquire(1)).settle();
      (await first.acquire(1)).settle();
      expect(await second.tryAcquire(1)).toMatchObject({ admitted: false });
      expect(await first.tryAcquire(1)).toMatchObject({ admitted: false });
    }

    // Six budgets over three masters: the test crossed slot boundaries, not one node's keyspace.
    const client = replicas[0]!.redisCluster;
    const masters = new Set<string>();
    for (const master of client.masters) {
      const node = await client.nodeClient(master);
      for await (const keys of node.scanIterator({ MATCH: `${keyPrefix}:rate:*`, COUNT: 500 })) if (keys.length > 0) masters.add(master.address);
    }
    expect(masters.size).toBeGreaterThanOrEqual(2);
  });

  it('shares a workspace token bucket between replicas', async () => {
    const keyPrefix = uniquePrefix('cluster-buckets');
    const replicas = await Promise.all([replicaOnCluster(keyPrefix), replicaOnCluster(keyPrefix)]);
    const buckets = replicas.map((backends) => createRateBudgets({ redis: backends.redisCluster, keyPrefix, logger: silentLogger() }).tokenBuckets('slack:chat.update', { perMinute: 1, burst: 2 }));
    const taken = [];
    for (let call = 0; call < 4; call += 1) taken.push(await buckets[call % 2]!.tryTake('T0TEAM0001'));
    expect(taken).toEqual([true, true, false, false]);
  });
});
