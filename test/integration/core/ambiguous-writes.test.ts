import { afterEach, describe, expect, it } from 'vitest';
import type { ReplyEvent } from '../../../src/engine/types.js';
import type { ThreadState } from '../../../src/history/thread-state.js';
import { ThreadStoreError } from '../../../src/history/thread-store.js';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl } from '../../support/redis.js';

/**
 * A write whose connection drops after Redis applied it reports a failure although the data is there
 * (Redis restarting, a watchdog dropping a frozen connection). The turn must settle which it was by
 * writing again, not tell the user their message was not taken while recovery later answers it.
 */

let bed: TestEngine | undefined;
afterEach(async () => {
  if (!bed) return;
  await bed.close();
  await deleteKeysWithPrefix(requireRedisUrl(), bed.keyPrefix);
  bed = undefined;
});

/** Makes the first `times` saves that `matches` apply and then fail as a dropped connection would. */
function failAfterApplying(target: TestEngine, times: number, matches: (state: ThreadState) => boolean): { failed: () => number } {
  const store = target.backends.store;
  const save = store.save.bind(store);
  let failed = 0;
  store.save = async (state) => {
    await save(state);
    if (failed < times && matches(state)) {
      failed += 1;
      throw new ThreadStoreError('save', state.threadKey, new Error('Socket closed unexpectedly'));
    }
  };
  return { failed: () => failed };
}

const answers = (events: ReplyEvent[]) => events.filter((event) => event.type === 'answer-completed');
const failures = (events: ReplyEvent[]) => events.filter((event) => event.type === 'turn-failed');
const storingQuestion = (state: ThreadState) => state.inFlight !== undefined && state.inFlight.answer === undefined;
const storingAnswer = (state: ThreadState) => state.inFlight?.answer !== undefined;
const closingTurn = (state: ThreadState) => state.inFlight === undefined && state.messages.some((entry) => entry.role === 'assistant');

describe('a thread write that Redis applied but reported as failed', () => {
  it.each([
    ['the question, before the model is asked', storingQuestion],
    ['the answer, before it is posted', storingAnswer],
    ['the finished turn, after the answer was posted', closingTurn],
  ])('on %s: written again, answered once, stored once', async (_phase, matches) => {
    const answerer = scriptedAnswerer([{ text: 'Use REDIS_URL.' }]);
    bed = await createTestEngine({ answerer, redisUrl: requireRedisUrl() });
    const injected = failAfterApplying(bed, 2, matches);
    const message = incomingMessage('slack:T1:C1:300.000', 'How do I point the bot at Redis?');
    const sink = recordingSink();

    const outcome = await bed.engine.handle(message, sink);

    expect(injected.failed()).toBe(2);
    expect(outcome).toMatchObject({ kind: 'answered' });
    expect(answers(sink.events)).toHaveLength(1);
    expect(failures(sink.events)).toEqual([]);
    expect(answerer.requests).toHaveLength(1);
    const stored = (await bed.backends.store.load(message.threadKey)).state;
    expect(stored?.inFlight).toBeUndefined();
    expect(stored?.messages.map((entry) => [entry.role, entry.content, entry.status])).toEqual([
      ['user', 'How do I point the bot at Redis?', 'answered'],
      ['assistant', 'Use REDIS_URL.', undefined],
    ]);
    expect(await bed.backends.coordinator.listInFlight()).not.toContain(message.threadKey);
  });
});
