import { expect, it } from 'vitest';
import { BotError } from '../../src/errors.js';
import type { Answerer } from '../../src/engine/answerer.js';
import type { ReplyEvent } from '../../src/engine/types.js';
import { incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from './engine-fixture.js';

/** Two engines on one shared backend, as two replicas of the bot, both answering with `answerer`. The caller closes them. */
export type TwoReplicas = (answerer: Answerer) => Promise<readonly [TestEngine, TestEngine]>;

export interface ReplicaScenarioOptions {
  /** How many messages the ordering scenario sends to one thread (fewer where each turn costs more). */
  messagesInOneThread: number;
}

const answersIn = (events: ReplyEvent[]) => events.filter((event) => event.type === 'answer-completed');

/**
 * What two replicas sharing state must get right on every backend (single Redis, Cluster): declares
 * the tests inside the caller's `describe`, each on replicas from `twoReplicas`.
 */
export function replicaScenarios(twoReplicas: TwoReplicas, { messagesInOneThread: count }: ReplicaScenarioOptions): void {
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
    const stored = await second.backends.store.load(message.threadKey);
    expect(stored.state?.messages.map((stored) => [stored.role, stored.content])).toEqual([
      ['user', 'How do I reset my password?'],
      ['assistant', 'one answer'],
    ]);
  });

  it(`answers ${count} messages to one thread from two replicas in arrival order and stores all ${2 * count} in order`, async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `answer to ${request.message.text}`, delayMs: 2 }));
    const [first, second] = await twoReplicas(answerer);
    const threadKey = 'slack:T1:C1:200.000';
    const indexes = [...Array(count).keys()];
    const turns: Promise<{ kind: string }>[] = [];
    for (const index of indexes) {
      const sink = recordingSink();
      const replica = index % 2 === 0 ? first : second;
      turns.push(replica.engine.handle(incomingMessage(threadKey, `question ${index}`), sink));
      // Arrival order: the next message is sent once this one is queued or running.
      await sink.firstEvent;
    }
    const outcomes = await Promise.all(turns);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(count).fill('answered'));
    expect(answerer.requests.map((request) => request.message.text)).toEqual(indexes.map((index) => `question ${index}`));
    const state = (await first.backends.store.load(threadKey)).state!;
    expect(state.messages.map((stored) => stored.content)).toEqual(indexes.flatMap((index) => [`question ${index}`, `answer to question ${index}`]));
    // Each answer saw the whole thread so far: turn n was asked with 2n + 1 messages.
    expect(answerer.requests.map((request) => request.history.length)).toEqual(indexes.map((index) => 2 * index + 1));
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
    const userTurnsSeen = answerer.requests[1]!.history.filter((message) => message.role === 'user').map((message) => message.content);
    expect(userTurnsSeen).toEqual(['first question', 'second question']);
  });
}
