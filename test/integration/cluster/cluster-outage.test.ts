import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer } from '../../support/engine-fixture.js';
import { recordingLogger } from '../../support/recording-logger.js';

let cluster: TestRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});


const answerText = (request: { message: { text: string } }) => ({ text: `answer to ${request.message.text}` });

describe('The bot when the whole Redis Cluster is away', () => {
  it('starts while no root node answers, refuses turns plainly, and connects by itself once the cluster is up', async () => {
    await cluster.stopNodes();
    const { logger, lines } = recordingLogger({ level: 'info' });
    const engine = await createTestEngine({ answerer: scriptedAnswerer(answerText), redisClusterNodes: cluster.nodeUrls, connectWaitMs: 300, logger });
    try {
      const threadKey = 'slack:T1:C1:700.000';
      const sink = recordingSink();
      expect(await engine.engine.handle(incomingMessage(threadKey, 'too early'), sink)).toMatchObject({ kind: 'failed', code: 'redis_unavailable' });
      expect(sink.events.at(-1)).toMatchObject({ type: 'turn-failed', userMessage: expect.stringMatching(/cannot reach my conversation memory/) });

      await cluster.startNodes();
      await expect.poll(async () => (await engine.engine.handle(incomingMessage(threadKey, 'on time'), recordingSink())).kind, { timeout: 15_000, interval: 200 }).toBe('answered');
      const contents = (await engine.backends.store.load(threadKey)).state!.messages.map((message) => message.content);
      expect(contents.slice(-2)).toEqual(['on time', 'answer to on time']);
      expect(contents).not.toContain('too early');
    } finally {
      await engine.close();
    }
    // Reported once while it lasted, not once per retry or per node.
    expect(lines.filter((line) => line.includes('Redis Cluster is unreachable'))).toHaveLength(1);
    expect(lines.some((line) => line.includes('Redis Cluster connection restored'))).toBe(true);
  });

  it('fails a turn during a restart of every node, and the thread carries on afterwards', async () => {
    const engine = await createTestEngine({ answerer: scriptedAnswerer(answerText), redisClusterNodes: cluster.nodeUrls });
    try {
      const threadKey = 'discord:G1:C1:800';
      expect((await engine.engine.handle(incomingMessage(threadKey, 'before'), recordingSink())).kind).toBe('answered');
      await cluster.stopNodes();
      expect(await engine.engine.handle(incomingMessage(threadKey, 'during'), recordingSink())).toMatchObject({ kind: 'failed', code: 'redis_unavailable' });
      await cluster.startNodes();
      await expect.poll(async () => (await engine.engine.handle(incomingMessage(threadKey, 'after'), recordingSink())).kind, { timeout: 15_000, interval: 200 }).toBe('answered');
      // The cluster ran without persistence, so the restart emptied it: only the turn after it remains.
      const contents = (await engine.backends.store.load(threadKey)).state!.messages.map((message) => message.content);
      expect(contents.slice(-2)).toEqual(['after', 'answer to after']);
    } finally {
      await engine.close();
    }
  });
});
