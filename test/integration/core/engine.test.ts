import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { startRedisServer, redisServerBinary } from '../../support/redis-server.js';
import { replicaScenarios } from '../../support/engine-replica-scenarios.js';
import type { Answerer } from '../../../src/engine/answerer.js';
import type { ReplyEvent } from '../../../src/engine/types.js';

const engines: TestEngine[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  for (const prefix of prefixes.splice(0)) await deleteKeysWithPrefix(requireRedisUrl(), prefix);
});

async function twoReplicas(answerer: Answerer) {
  const keyPrefix = uniquePrefix('replicas');
  prefixes.push(keyPrefix);
  const first = await createTestEngine({ answerer, redisUrl: requireRedisUrl(), keyPrefix });
  const second = await createTestEngine({ answerer, redisUrl: requireRedisUrl(), keyPrefix });
  engines.push(first, second);
  return [first, second] as const;
}

const answersIn = (events: ReplyEvent[]) => events.filter((event) => event.type === 'answer-completed');

describe('ConversationEngine on real Redis', () => {
  replicaScenarios(twoReplicas, { messagesInOneThread: 50 });

  it('quarantines a corrupted thread record, tells the user, and carries on', async () => {
    const answerer = scriptedAnswerer([{ text: 'fresh start' }]);
    const [replica] = await twoReplicas(answerer);
    const threadKey = 'slack:T1:C1:400.000';
    await replica.backends.redis!.set(replica.backends.store.threadRecordKey(threadKey), 'garbage{{{');
    const sink = recordingSink();
    const outcome = await replica.engine.handle(incomingMessage(threadKey, 'hello?'), sink);
    expect(outcome.kind).toBe('answered');
    const completed = answersIn(sink.events)[0];
    expect(completed?.type === 'answer-completed' && completed.answer.notices.join(' ')).toMatch(/set it aside for an operator/);
    const quarantined: string[] = [];
    for await (const keys of replica.backends.redis!.scanIterator({ MATCH: `${replica.keyPrefix}:quarantine:*` })) quarantined.push(...keys);
    expect(quarantined).toHaveLength(1);
    expect(await replica.backends.redis!.get(quarantined[0]!)).toContain('garbage{{{');
  });

  it('bounds a 40,000-character message and says so', async () => {
    const answerer = scriptedAnswerer([{ text: 'read it' }]);
    const engine = await createTestEngine({ answerer, maxMessageChars: 8_000 });
    engines.push(engine);
    const sink = recordingSink();
    await engine.engine.handle(incomingMessage('console:long', `${'가'.repeat(39_999)}😀`), sink);
    expect(answerer.requests[0]!.message.text).toHaveLength(8_000);
    const completed = answersIn(sink.events)[0];
    expect(completed?.type === 'answer-completed' && completed.answer.notices.join(' ')).toMatch(/longer than 8000 characters/);
  });

  it('refuses an empty mention with a hint and stores nothing', async () => {
    const answerer = scriptedAnswerer([{ text: 'never' }]);
    const engine = await createTestEngine({ answerer });
    engines.push(engine);
    const sink = recordingSink();
    const outcome = await engine.engine.handle(incomingMessage('console:empty', '   \u200b\u2060 '), sink);
    expect(outcome).toMatchObject({ kind: 'failed', code: 'empty_message' });
    expect(answerer.requests).toHaveLength(0);
    expect(await engine.engine.hasThread('console:empty')).toBe(false);
  });
});

describe('ConversationEngine when Redis goes away', () => {
  it('fails the turn with a clear message while Redis is down, without crashing, and works again once it is back', async () => {
    const binary = redisServerBinary();
    if (!binary) throw new Error('redis-server is needed for this test (apt-get install -y redis-server)');
    const redis = await startRedisServer(binary);
    const answerer = scriptedAnswerer([{ text: 'answered' }]);
    const engine = await createTestEngine({ answerer, redisUrl: redis.url });
    try {
      await engine.engine.handle(incomingMessage('slack:T1:C1:500.000', 'before'), recordingSink());
      await redis.stop();
      const sink = recordingSink();
      const outcome = await engine.engine.handle(incomingMessage('slack:T1:C1:500.000', 'during'), sink);
      expect(outcome).toMatchObject({ kind: 'failed', code: 'redis_unavailable' });
      expect(sink.events.at(-1)).toMatchObject({ type: 'turn-failed', userMessage: expect.stringMatching(/cannot reach my conversation memory/) });
      await redis.restart!();
      await expect.poll(async () => engine.backends.redis!.isReady, { timeout: 10_000 }).toBe(true);
      const after = await engine.engine.handle(incomingMessage('slack:T1:C1:600.000', 'after'), recordingSink());
      expect(after.kind).toBe('answered');
    } finally {
      await engine.close();
      await redis.stop();
    }
  });
});
