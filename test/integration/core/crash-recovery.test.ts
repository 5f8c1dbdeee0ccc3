import { describe, expect, it } from 'vitest';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import type { ReplyHandle, ReplySink } from '../../../src/engine/types.js';

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
