import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { startRedisServer, redisServerBinary } from '../../support/redis-server.js';
import { BotError } from '../../../src/errors.js';
import type { ReplyEvent } from '../../../src/engine/types.js';

const engines: TestEngine[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  for (const prefix of prefixes.splice(0)) await deleteKeysWithPrefix(requireRedisUrl(), prefix);
});

async function twoReplicas(answerer: Parameters<typeof createTestEngine>[0]['answerer']) {
  const keyPrefix = uniquePrefix('replicas');
  prefixes.push(keyPrefix);
  const first = await createTestEngine({ answerer, redisUrl: requireRedisUrl(), keyPrefix });
  const second = await createTestEngine({ answerer, redisUrl: requireRedisUrl(), keyPrefix });
  engines.push(first, second);
  return [first, second] as const;
}

const answersIn = (events: ReplyEvent[]) => events.filter((event) => event.type === 'answer-completed');

describe('ConversationEngine on real Redis', () => {
  it('answers an event delivered three times, to two replicas, exactly once', async () => {
    const answerer = scriptedAnswerer([{ text: 'one answer', delayMs: 20 }]);
    const [first, second] = await twoReplicas(answerer);
    const message = incomingMessage('slack:T1:C1:100.000', 'How do I reset my password?');
    const sinks = [recordingSink(), recordingSink(), recordingSink()];
    const outcomes = await Promise.all([
      first.engine.handle(message, sinks[0]!),
      second.engine.handle(message, sinks[1]!),
      first.engine.handle({ ...message }, sinks[2]!),
    ]);
    expect(outcomes.filter((outcome) => outcome.kind === 'answered')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === 'duplicate')).toHaveLength(2);
    expect(answerer.requests).toHaveLength(1);
    expect(sinks.flatMap((sink) => answersIn(sink.events))).toHaveLength(1);
    const stored = await first.backends.store.load(message.threadKey);
    expect(stored.state?.messages.map((stored) => stored.role)).toEqual(['user', 'assistant']);
  });

  it('answers 50 messages to one thread from two replicas in arrival order and stores all 100 in order', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `answer to ${request.message.text}`, delayMs: 2 }));
    const [first, second] = await twoReplicas(answerer);
    const threadKey = 'slack:T1:C1:200.000';
    const turns: Promise<unknown>[] = [];
    for (let index = 0; index < 50; index += 1) {
      const sink = recordingSink();
      const replica = index % 2 === 0 ? first : second;
      turns.push(replica.engine.handle(incomingMessage(threadKey, `question ${index}`), sink));
      // Arrival order: the next message is sent once this one is queued or running.
      await sink.firstEvent;
    }
    const outcomes = await Promise.all(turns);
    expect(outcomes.every((outcome) => (outcome as { kind: string }).kind === 'answered')).toBe(true);
    expect(answerer.requests.map((request) => request.message.text)).toEqual([...Array(50).keys()].map((index) => `question ${index}`));
    const state = (await first.backends.store.load(threadKey)).state!;
    expect(state.messages).toHaveLength(100);
    const expected = [...Array(50).keys()].flatMap((index) => [`question ${index}`, `answer to question ${index}`]);
    expect(state.messages.map((stored) => stored.content)).toEqual(expected);
    // Each answer saw the whole thread so far: turn n was asked with 2n + 1 messages.
    expect(answerer.requests.map((request) => request.history.length)).toEqual([...Array(50).keys()].map((index) => 2 * index + 1));
  });

  it('keeps the user message and marks it failed when the answer fails, and says so in plain words', async () => {
    const failure = new BotError({ code: 'model_unavailable', message: 'upstream 500', userMessage: 'The model is not answering right now. Please try again in a minute.' });
    const answerer = scriptedAnswerer([{ error: failure }, { text: 'recovered' }]);
    const [replica] = await twoReplicas(answerer);
    const threadKey = 'slack:T1:C1:300.000';
    const sink = recordingSink();
    const outcome = await replica.engine.handle(incomingMessage(threadKey, 'first question'), sink);
    expect(outcome).toMatchObject({ kind: 'failed', code: 'model_unavailable' });
    expect(sink.events.at(-1)).toEqual({ type: 'turn-failed', code: 'model_unavailable', userMessage: failure.userMessage });
    const afterFailure = (await replica.backends.store.load(threadKey)).state!;
    expect(afterFailure.messages).toMatchObject([{ role: 'user', content: 'first question', status: 'failed' }]);

    await replica.engine.handle(incomingMessage(threadKey, 'second question'), recordingSink());
    const state = (await replica.backends.store.load(threadKey)).state!;
    expect(state.messages.map((stored) => [stored.role, stored.content])).toEqual([
      ['user', 'first question'],
      ['user', 'second question'],
      ['assistant', 'recovered'],
    ]);
    // The failed question is still part of the conversation the model sees.
    expect(answer(answerer.requests[1]!.history)).toEqual(['first question', 'second question']);
  });

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

function answer(history: Array<{ role: string; content: string }>): string[] {
  return history.filter((message) => message.role === 'user').map((message) => message.content);
}
