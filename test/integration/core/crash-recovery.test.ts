import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix, withRedisClient } from '../../support/redis.js';
import type { Answerer } from '../../../src/engine/answerer.js';
import { ThreadStoreError } from '../../../src/history/thread-store.js';
import type { IncomingMessage, RecoverySinkFactory, ReplyHandle, ReplySink } from '../../../src/engine/types.js';
import { emptyThreadState, type StoredMessage } from '../../../src/history/thread-state.js';
import { inFlightRecord } from '../../../src/engine/thread-transitions.js';

describe('turns left in flight by a process that died', () => {
  it('are finished once, into the reply the dead process had started, even with two replicas sweeping', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('crash');
    // The first replica starts answering, posts its placeholder, then its process "dies" (connection gone, no release).
    const hanging = scriptedAnswerer([{ text: 'never finished', delayMs: 60_000 }]);
    const dying = await createTestEngine({ answerer: hanging, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const placeholderSink: ReplySink & { events: unknown[] } = {
      events: [],
      async emit(event) {
        this.events.push(event);
      },
      replyHandle: () => ({ channel: 'C1', placeholderTs: '111.222' }),
    };
    const threadKey = 'slack:T1:C1:700.000';
    const doomed = dying.engine.handle(incomingMessage(threadKey, 'what is the refund policy?', { platform: 'slack' }), placeholderSink);
    doomed.catch(() => {});
    await expect.poll(() => hanging.requests.length).toBe(1);
    await expect.poll(async () => (await dying.backends.store.load(threadKey)).state?.inFlight?.replyHandle).toEqual({ channel: 'C1', placeholderTs: '111.222' });
    dying.backends.redis!.destroy();

    const answerer = scriptedAnswerer([{ text: 'Refunds take 5 days.' }]);
    const first = await createTestEngine({ answerer, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const second = await createTestEngine({ answerer, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const recoveredInto: Array<{ handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> = [];
    const sinkFor = (_message: unknown, handle: ReplyHandle | undefined) => {
      const sink = recordingSink();
      recoveredInto.push({ handle, sink });
      return sink;
    };
    try {
      // Sweep until the dead holder's lock has expired and someone picked the turn up.
      await expect
        .poll(async () => {
          await Promise.all([first.engine.recoverOrphanedTurns('slack', sinkFor), second.engine.recoverOrphanedTurns('slack', sinkFor)]);
          return recoveredInto.length;
        }, { timeout: 10_000, interval: 100 })
        .toBe(1);
      expect(recoveredInto[0]!.handle).toEqual({ channel: 'C1', placeholderTs: '111.222' });
      expect(recoveredInto[0]!.sink.events.at(-1)).toMatchObject({ type: 'answer-completed' });
      expect(answerer.requests[0]!.message.text).toBe('what is the refund policy?');
      const state = (await first.backends.store.load(threadKey)).state!;
      expect(state.inFlight).toBeUndefined();
      expect(state.messages.map((message) => [message.role, message.content])).toEqual([
        ['user', 'what is the refund policy?'],
        ['assistant', 'Refunds take 5 days.'],
      ]);
      // Later sweeps find nothing more to do.
      expect(await first.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
      expect(recoveredInto).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
      await dying.engine.close(100).catch(() => {});
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });

  it('posts a stored answer whose process died while the platform was still taking the post, without asking the model again', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('crash-post');
    const answered = scriptedAnswerer([{ text: 'Refunds take 5 days.' }]);
    const dying = await createTestEngine({ answerer: answered, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    let postStarted!: () => void;
    const posting = new Promise<void>((resolve) => (postStarted = resolve));
    const slowPlatform: ReplySink = {
      async emit(event) {
        // The final post never completes: the platform is slow and then the process dies.
        if (event.type === 'answer-completed') {
          postStarted();
          await new Promise(() => {});
        }
      },
      replyHandle: () => ({ channel: 'C1', placeholderTs: '222.333' }),
    };
    const threadKey = 'slack:T1:C1:750.000';
    void dying.engine.handle(incomingMessage(threadKey, 'how long do refunds take?', { platform: 'slack' }), slowPlatform).catch(() => {});
    await posting;
    dying.backends.redis!.destroy();

    const neverAsked = scriptedAnswerer([{ text: 'the model must not be asked again' }]);
    const survivor = await createTestEngine({ answerer: neverAsked, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const recovered: Array<{ handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> = [];
    try {
      await expect
        .poll(async () => {
          await survivor.engine.recoverOrphanedTurns('slack', (_message, handle) => {
            const sink = recordingSink();
            recovered.push({ handle, sink });
            return sink;
          });
          return recovered.length;
        }, { timeout: 10_000, interval: 100 })
        .toBe(1);
      expect(recovered[0]!.handle).toEqual({ channel: 'C1', placeholderTs: '222.333' });
      const posted = recovered[0]!.sink.events.find((event) => event.type === 'answer-completed');
      expect(posted?.type === 'answer-completed' && posted.answer.parts).toEqual([{ type: 'text', text: 'Refunds take 5 days.' }]);
      expect(neverAsked.requests).toHaveLength(0);
      const state = (await survivor.backends.store.load(threadKey)).state!;
      expect(state.inFlight).toBeUndefined();
      expect(state.messages.map((message) => message.content)).toEqual(['how long do refunds take?', 'Refunds take 5 days.']);
    } finally {
      await survivor.close();
      await dying.engine.close(100).catch(() => {});
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });

  /** The thread as a turn leaves it when it stops between saving the question and saving the answer. */
  async function leftInFlight(fixture: TestEngine, message: IncomingMessage, replyHandle?: ReplyHandle): Promise<void> {
    const now = Date.now();
    const question: StoredMessage = { id: message.messageId, role: 'user', content: message.text, createdAt: message.receivedAt, authorId: message.author.id };
    await fixture.backends.coordinator.markInFlight(message.threadKey);
    await fixture.backends.store.save({ ...emptyThreadState(message.threadKey, now), messages: [question], inFlight: inFlightRecord(message, 'a-stopped-process', now, replyHandle) });
  }

  it('are finished by the next turn in the thread, into their own reply and before its message, when it comes before any sweep', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const fixture = await createTestEngine({ answerer });
    const recovered: Array<{ text: string; handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> = [];
    const sinkFor: RecoverySinkFactory = (message, handle) => {
      const sink = recordingSink();
      recovered.push({ text: message.text, handle, sink });
      return sink;
    };
    try {
      // The adapter's startup sweep hands the engine its recovery sinks (nothing is in flight yet).
      expect(await fixture.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
      const threadKey = 'slack:T1:C1:780.000';
      const earlier = incomingMessage(threadKey, 'what is the refund policy?', { platform: 'slack' });
      const placeholder = { channel: 'C1', placeholderTs: '780.100' };
      await leftInFlight(fixture, earlier, placeholder);

      const sink = recordingSink();
      expect((await fixture.engine.handle(incomingMessage(threadKey, 'hello?', { platform: 'slack' }), sink)).kind).toBe('answered');
      expect(recovered.map((entry) => [entry.text, entry.handle, entry.sink.events.at(-1)?.type])).toEqual([[earlier.text, placeholder, 'answer-completed']]);
      expect(sink.events.filter((event) => event.type === 'answer-completed')).toHaveLength(1);
      expect(answerer.requests.map((request) => request.message.text)).toEqual([earlier.text, 'hello?']);
      const state = (await fixture.backends.store.load(threadKey)).state!;
      expect(state.inFlight).toBeUndefined();
      expect(state.messages.map((message) => [message.role, message.content, message.status])).toEqual([
        ['user', earlier.text, 'answered'],
        ['assistant', `Answer to: ${earlier.text}`, undefined],
        ['user', 'hello?', 'answered'],
        ['assistant', 'Answer to: hello?', undefined],
      ]);
      expect(await fixture.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
      expect(recovered).toHaveLength(1);
    } finally {
      await fixture.close();
    }
  });

  it('leave their message marked unanswered, not silently written over, when the next turn has no way to post to their platform', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const fixture = await createTestEngine({ answerer });
    try {
      // No sweep ran in this process (the console has none), so it has no recovery sink to reply with.
      const threadKey = 'console:left-in-flight';
      const earlier = incomingMessage(threadKey, 'first question');
      await leftInFlight(fixture, earlier);
      expect((await fixture.engine.handle(incomingMessage(threadKey, 'second question'), recordingSink())).kind).toBe('answered');
      expect(answerer.requests.map((request) => request.message.text)).toEqual(['second question']);
      const state = (await fixture.backends.store.load(threadKey)).state!;
      expect(state.inFlight).toBeUndefined();
      expect(state.messages.map((message) => [message.role, message.content, message.status])).toEqual([
        ['user', 'first question', 'failed'],
        ['user', 'second question', 'answered'],
        ['assistant', 'Answer to: second question', undefined],
      ]);
    } finally {
      await fixture.close();
    }
  });

  it('leaves turns of live processes alone', async () => {
    const answerer = scriptedAnswerer([{ text: 'slow but alive', delayMs: 400 }]);
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('alive');
    const live = await createTestEngine({ answerer, redisUrl: url, keyPrefix });
    const sweeper = await createTestEngine({ answerer, redisUrl: url, keyPrefix });
    try {
      const running = live.engine.handle(incomingMessage('slack:T1:C1:800.000', 'question', { platform: 'slack' }), recordingSink());
      await expect.poll(() => answerer.requests.length).toBe(1);
      let sinksBuilt = 0;
      expect(await sweeper.engine.recoverOrphanedTurns('slack', () => (sinksBuilt++, recordingSink()))).toBe(0);
      expect(sinksBuilt).toBe(0);
      expect((await running).kind).toBe('answered');
    } finally {
      await live.close();
      await sweeper.close();
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });
});

describe('messages that waited for their thread when their process died', () => {
  it('are answered once by a survivor, after the turn they waited behind and into the placeholder they showed, even with two replicas sweeping', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('crash-queued');
    // Short lock and waiter expiry (the waiting message's lease follows the waiter's): recovery within a second.
    const tuning = { redisUrl: url, keyPrefix, lockTtlMs: 300, waiterTtlMs: 600 };
    const hanging = scriptedAnswerer([{ text: 'never finished', delayMs: 60_000 }]);
    const dying = await createTestEngine({ answerer: hanging, ...tuning });
    const threadKey = 'slack:T1:C1:900.000';
    const first = incomingMessage(threadKey, 'what is the refund policy?', { platform: 'slack' });
    const second = incomingMessage(threadKey, 'and for digital goods?', { platform: 'slack' });
    void dying.engine.handle(first, recordingSink()).catch(() => {});
    await expect.poll(() => hanging.requests.length).toBe(1);
    // The second message waits behind the first, showing a "waiting…" placeholder, when the process dies.
    const queuedSink = recordingSink();
    const placeholder = { channelId: 'C1', threadTs: '900.000', messageTs: '900.100' };
    const waitingSink: ReplySink = { emit: (event) => queuedSink.emit(event), replyHandle: () => (queuedSink.events.length > 0 ? placeholder : undefined) };
    void dying.engine.handle(second, waitingSink).catch(() => {});
    await expect.poll(async () => (await dying.backends.coordinator.listPending(threadKey)).map((entry) => JSON.parse(entry.payload) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ messageId: second.messageId, text: second.text, replyHandle: placeholder }),
    ]);
    dying.backends.redis!.destroy();

    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const survivors = [await createTestEngine({ answerer, ...tuning }), await createTestEngine({ answerer, ...tuning })];
    const recovered: Array<{ messageId: string; handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> = [];
    const sinkFor: RecoverySinkFactory = (message, handle) => {
      const sink = recordingSink();
      recovered.push({ messageId: message.messageId, handle, sink });
      return sink;
    };
    try {
      await expect
        .poll(async () => {
          await Promise.all(survivors.map((survivor) => survivor.engine.recoverOrphanedTurns('slack', sinkFor)));
          return recovered.length;
        }, { timeout: 15_000, interval: 100 })
        .toBe(2);
      expect(recovered.map((entry) => [entry.messageId, entry.sink.events.at(-1)?.type])).toEqual([
        [first.messageId, 'answer-completed'],
        [second.messageId, 'answer-completed'],
      ]);
      expect(recovered[1]!.handle).toEqual(placeholder);
      expect(answerer.requests.map((request) => request.message.text)).toEqual([first.text, second.text]);
      const state = (await survivors[0]!.backends.store.load(threadKey)).state!;
      expect(state.messages.map((message) => [message.role, message.content, message.status])).toEqual([
        ['user', first.text, 'answered'],
        ['assistant', `Answer to: ${first.text}`, undefined],
        ['user', second.text, 'answered'],
        ['assistant', `Answer to: ${second.text}`, undefined],
      ]);
      // Nothing is left for later sweeps.
      expect(await survivors[0]!.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
      expect(recovered).toHaveLength(2);
      expect(await survivors[0]!.backends.coordinator.listPending(threadKey)).toEqual([]);
      expect(await survivors[0]!.backends.coordinator.listInFlight()).toEqual([]);
    } finally {
      await Promise.all(survivors.map((survivor) => survivor.close()));
      await dying.engine.close(100).catch(() => {});
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });

  it('are answered by the live turn that gets the thread next, before its own message, so the thread keeps its order', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('crash-queued-live');
    const tuning = { redisUrl: url, keyPrefix, lockTtlMs: 2_000, waiterTtlMs: 600 };
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));
    const answered: string[] = [];
    const scripted = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const answerer: Answerer = {
      reservedTokens: 0,
      async answer(request) {
        if (request.message.text === 'first') await firstMayFinish;
        answered.push(request.message.text);
        return scripted.answer(request);
      },
    };
    const live = await createTestEngine({ answerer, ...tuning });
    const dying = await createTestEngine({ answerer, ...tuning });
    const recovered: string[] = [];
    const recoveredSinks: Array<ReturnType<typeof recordingSink>> = [];
    // The adapter's startup sweep hands the engine its recovery sinks (nothing is in flight yet).
    expect(
      await live.engine.recoverOrphanedTurns('slack', (message) => {
        recovered.push(message.text);
        const sink = recordingSink();
        recoveredSinks.push(sink);
        return sink;
      }),
    ).toBe(0);
    const threadKey = 'slack:T1:C1:950.000';
    const message = (text: string) => incomingMessage(threadKey, text, { platform: 'slack' });
    try {
      const firstTurn = live.engine.handle(message('first'), recordingSink());
      await expect.poll(async () => (await live.backends.store.load(threadKey)).state?.inFlight).toBeTruthy();
      void dying.engine.handle(message('second'), recordingSink()).catch(() => {});
      await expect.poll(async () => (await live.backends.coordinator.listPending(threadKey)).length).toBe(1);
      const thirdTurn = live.engine.handle(message('third'), recordingSink());
      await expect.poll(async () => (await live.backends.coordinator.listPending(threadKey)).length).toBe(2);
      dying.backends.redis!.destroy();
      releaseFirst();

      expect((await firstTurn).kind).toBe('answered');
      expect((await thirdTurn).kind).toBe('answered');
      expect(answered).toEqual(['first', 'second', 'third']);
      expect(recovered).toEqual(['second']);
      expect(recoveredSinks[0]!.events.at(-1)).toMatchObject({ type: 'answer-completed' });
      const state = (await live.backends.store.load(threadKey)).state!;
      expect(state.messages.map((stored) => [stored.role, stored.content])).toEqual([
        ['user', 'first'],
        ['assistant', 'Answer to: first'],
        ['user', 'second'],
        ['assistant', 'Answer to: second'],
        ['user', 'third'],
        ['assistant', 'Answer to: third'],
      ]);
      expect(await live.backends.coordinator.listPending(threadKey)).toEqual([]);
      expect(await live.backends.coordinator.listInFlight()).toEqual([]);
    } finally {
      releaseFirst();
      await live.close();
      await dying.engine.close(100).catch(() => {});
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });

  /**
   * A process that dies while answering `texts[0]`, the rest of `texts` waiting behind it in that order.
   * Short lock and waiter expiry (the waiting messages' leases follow the waiter's): recovery within a second.
   */
  async function diedWithMessagesWaiting(keyPrefix: string, threadKey: string, texts: string[]): Promise<{ tuning: { redisUrl: string; keyPrefix: string; lockTtlMs: number; waiterTtlMs: number }; close(): Promise<void> }> {
    const tuning = { redisUrl: requireRedisUrl(), keyPrefix, lockTtlMs: 300, waiterTtlMs: 600 };
    const hanging = scriptedAnswerer([{ text: 'never finished', delayMs: 60_000 }]);
    const dying = await createTestEngine({ answerer: hanging, ...tuning });
    void dying.engine.handle(incomingMessage(threadKey, texts[0]!, { platform: 'slack' }), recordingSink()).catch(() => {});
    await expect.poll(() => hanging.requests.length).toBe(1);
    for (const [index, text] of texts.slice(1).entries()) {
      void dying.engine.handle(incomingMessage(threadKey, text, { platform: 'slack' }), recordingSink()).catch(() => {});
      await expect.poll(async () => (await dying.backends.coordinator.listPending(threadKey)).length).toBe(index + 1);
    }
    dying.backends.redis!.destroy();
    return { tuning, close: () => dying.engine.close(100).catch(() => {}) };
  }

  /** Recovery sinks that record, in order, which replica answered which message and how the reply ended. */
  function recoveryLog() {
    const recovered: Array<{ by: string; text: string; ended: () => string | undefined }> = [];
    const sinksFor = (by: string): RecoverySinkFactory => (message) => {
      const sink = recordingSink();
      recovered.push({ by, text: message.text, ended: () => sink.events.at(-1)?.type });
      return sink;
    };
    return { recovered, sinksFor };
  }

  it('are all answered, once each and in order, when a failed load stops the survivor halfway: the rest stay recorded for the next sweep', async () => {
    const keyPrefix = uniquePrefix('crash-queued-blip');
    const threadKey = 'slack:T1:C1:960.000';
    const texts = ['first', 'second', 'third', 'fourth'];
    const dead = await diedWithMessagesWaiting(keyPrefix, threadKey, texts);
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const survivor = await createTestEngine({ answerer, ...dead.tuning });
    // A Redis blip between two recovered messages: the second is answered, the third not yet begun.
    const store = survivor.backends.store;
    const load = store.load.bind(store);
    let blipped = false;
    store.load = async (key) => {
      const loaded = await load(key);
      if (!blipped && loaded.state?.messages.some((message) => message.content === 'Answer to: second')) {
        blipped = true;
        throw new ThreadStoreError('load', key, new Error('connection lost'));
      }
      return loaded;
    };
    const { recovered, sinksFor } = recoveryLog();
    try {
      await expect
        .poll(async () => {
          await survivor.engine.recoverOrphanedTurns('slack', sinksFor('survivor'));
          return recovered.length;
        }, { timeout: 15_000, interval: 100 })
        .toBe(4);
      expect(blipped).toBe(true);
      expect(recovered.map((entry) => [entry.text, entry.ended()])).toEqual(texts.map((text) => [text, 'answer-completed']));
      expect(answerer.requests.map((request) => request.message.text)).toEqual(texts);
      const state = (await store.load(threadKey)).state!;
      expect(state.messages.map((message) => [message.role, message.content, message.status])).toEqual(
        texts.flatMap((text) => [['user', text, 'answered'], ['assistant', `Answer to: ${text}`, undefined]]),
      );
      expect(await survivor.engine.recoverOrphanedTurns('slack', sinksFor('survivor'))).toBe(0);
      expect(await survivor.backends.coordinator.listPending(threadKey)).toEqual([]);
      expect(await survivor.backends.coordinator.listInFlight()).toEqual([]);
    } finally {
      await survivor.close();
      await dead.close();
      await deleteKeysWithPrefix(requireRedisUrl(), keyPrefix);
    }
  });

  it('are left to the next replica, once each and in order, by a survivor that starts shutting down halfway', async () => {
    const keyPrefix = uniquePrefix('crash-queued-close');
    const threadKey = 'slack:T1:C1:970.000';
    const texts = ['first', 'second', 'third'];
    const dead = await diedWithMessagesWaiting(keyPrefix, threadKey, texts);
    let releaseSecond!: () => void;
    const secondMayFinish = new Promise<void>((resolve) => (releaseSecond = resolve));
    const asked: string[] = [];
    const scripted = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const answerer: Answerer = {
      reservedTokens: 0,
      async answer(request) {
        asked.push(request.message.text);
        if (request.message.text === 'second') await secondMayFinish;
        return scripted.answer(request);
      },
    };
    const stopping = await createTestEngine({ answerer, ...dead.tuning });
    const next = await createTestEngine({ answerer, ...dead.tuning });
    const { recovered, sinksFor } = recoveryLog();
    try {
      // Sweeps until the dead holder's lock and the waiting messages' leases have run out.
      const sweeping = (async () => {
        while (!asked.includes('second')) {
          await stopping.engine.recoverOrphanedTurns('slack', sinksFor('stopping'));
          await delay(100);
        }
      })();
      await expect.poll(() => asked, { timeout: 15_000 }).toContain('second');
      // SIGTERM while the second message is being answered: that answer is finished, the third is not begun.
      const closed = stopping.engine.close(5_000);
      releaseSecond();
      await closed;
      await sweeping;
      expect(recovered.map((entry) => [entry.by, entry.text])).toEqual([['stopping', 'first'], ['stopping', 'second']]);

      await expect
        .poll(async () => {
          await next.engine.recoverOrphanedTurns('slack', sinksFor('next'));
          return recovered.length;
        }, { timeout: 15_000, interval: 100 })
        .toBe(3);
      expect(recovered.map((entry) => [entry.by, entry.text, entry.ended()])).toEqual([
        ['stopping', 'first', 'answer-completed'],
        ['stopping', 'second', 'answer-completed'],
        ['next', 'third', 'answer-completed'],
      ]);
      expect(asked).toEqual(texts);
      const state = (await next.backends.store.load(threadKey)).state!;
      expect(state.messages.map((message) => [message.role, message.content, message.status])).toEqual(
        texts.flatMap((text) => [['user', text, 'answered'], ['assistant', `Answer to: ${text}`, undefined]]),
      );
      expect(await next.backends.coordinator.listPending(threadKey)).toEqual([]);
      expect(await next.backends.coordinator.listInFlight()).toEqual([]);
    } finally {
      releaseSecond();
      await stopping.close();
      await next.close();
      await dead.close();
      await deleteKeysWithPrefix(requireRedisUrl(), keyPrefix);
    }
  });

  it('are refused plainly, with the event claim given back, when the waiting record cannot be written', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('pending-write-fails');
    const answerer = scriptedAnswerer([{ text: 'must not be reached' }]);
    const fixture = await createTestEngine({ answerer, redisUrl: url, keyPrefix });
    const threadKey = 'slack:T1:C1:990.000';
    // A key of the wrong type where the thread's arrival counter belongs: Redis refuses the write.
    await withRedisClient(url, (client) => client.hSet(`${keyPrefix}:pending-arrivals:{${threadKey}}`, 'not', 'a counter'));
    const message = incomingMessage(threadKey, 'is anyone there?', { platform: 'slack' });
    const sink = recordingSink();
    try {
      const outcome = await fixture.engine.handle(message, sink);
      expect(outcome).toMatchObject({ kind: 'failed', code: 'redis_unavailable' });
      expect(sink.events).toEqual([
        { type: 'turn-failed', code: 'redis_unavailable', userMessage: 'I cannot reach my conversation memory right now, so I could not take your message. Please send it again in a minute.' },
      ]);
      expect(answerer.requests).toHaveLength(0);
      // Given back: a platform retry of the same event is taken.
      expect(await fixture.engine.claimEvent(message.eventId)).toBe(true);
      expect(await fixture.backends.coordinator.listPending(threadKey)).toEqual([]);
      // The thread was listed before the write was tried (so that a crash between the two loses nothing);
      // the next sweep finds nothing there and unlists it.
      expect(await fixture.engine.recoverOrphanedTurns('slack', () => recordingSink())).toBe(0);
      expect(await fixture.backends.coordinator.listInFlight()).toEqual([]);
    } finally {
      await fixture.close();
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });
});

describe('reply handles', () => {
  it('never write the in-flight state over a finished turn, even when the handle changes with the final answer', async () => {
    const answerer = scriptedAnswerer([{ text: 'final answer' }]);
    const fixture = await createTestEngine({ answerer });
    let handle = { message: 'placeholder-1' };
    const sink: ReplySink = {
      async emit(event) {
        // The final answer is posted as a new message, so the handle changes during this emit.
        if (event.type === 'answer-completed') handle = { message: 'final-2' };
      },
      replyHandle: () => handle,
    };
    try {
      await fixture.engine.handle(incomingMessage('console:handles', 'question'), sink);
      const state = (await fixture.backends.store.load('console:handles')).state!;
      expect(state.inFlight).toBeUndefined();
      expect(state.messages.map((message) => message.content)).toEqual(['question', 'final answer']);
    } finally {
      await fixture.close();
    }
  });
});
