import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer } from '../../support/engine-fixture.js';

let cluster: TestRedisCluster;

beforeAll(async () => {
  // A short node timeout so a killed master is failed over to its replica within a couple of seconds.
  cluster = await startRedisCluster({ withReplicas: true, nodeTimeoutMs: 500 });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('A Redis Cluster master failing over', () => {
  it('refuses turns while the thread\'s master is gone, then carries the thread on, history intact, once its replica took over', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `answer to ${request.message.text}` }));
    const engine = await createTestEngine({ answerer, redisClusterNodes: cluster.nodeUrls });
    try {
      const threadKey = 'slack:T1:C1:900.000';
      expect((await engine.engine.handle(incomingMessage(threadKey, 'before'), recordingSink())).kind).toBe('answered');
      const client = engine.backends.redisCluster!;
      const recordKey = engine.backends.store.threadRecordKey(threadKey);
      // The record is on the replica before its master dies (replication is asynchronous).
      await client.sendCommand(recordKey, false, ['WAIT', '1', '2000']);
      const slot = Number(await client.sendCommand(recordKey, true, ['CLUSTER', 'KEYSLOT', recordKey]));
      const doomed = client.slots[slot]!.master.address;

      cluster.kill(doomed);
      const during = await engine.engine.handle(incomingMessage(threadKey, 'while the master is down'), recordingSink());
      expect(during).toMatchObject({ kind: 'failed', code: expect.stringMatching(/redis_unavailable|store_unavailable/) });

      await expect
        .poll(async () => (await engine.engine.handle(incomingMessage(threadKey, 'after'), recordingSink())).kind, { timeout: 15_000, interval: 250 })
        .toBe('answered');
      expect(client.slots[slot]!.master.address).not.toBe(doomed);
      const state = (await engine.backends.store.load(threadKey)).state!;
      const contents = state.messages.map((message) => message.content);
      expect(contents.slice(0, 2)).toEqual(['before', 'answer to before']);
      expect(contents.slice(-2)).toEqual(['after', 'answer to after']);
    } finally {
      await engine.close();
    }
  });
});
