import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { BotError } from '../../../src/errors.js';
import type { Answerer } from '../../../src/engine/answerer.js';
import type { RecoverySinkFactory, ReplyEvent, ReplyHandle, ReplySink, TurnOutcome } from '../../../src/engine/types.js';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';

/**
 * A message waiting for its thread is kept by its record alone until its turn stores it. Whatever
 * ends the wait — a failure, an outage that leaves the record's removal in doubt, a shutdown — the
 * user sees one final line or one answer, and the message is never answered after its user was told
 * to send it again.
 */

/** How long a waiting message stays leased without a renewal here (it follows the waiter expiry). */
const LEASE_MS = 600;

const engines: TestEngine[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((bed) => bed.close().catch(() => {})));
  for (const prefix of prefixes.splice(0)) await deleteKeysWithPrefix(requireRedisUrl(), prefix);
});

async function replica(answerer: Answerer, keyPrefix: string, options: { turnTimeoutMs?: number; answerSaveGraceMs?: number } = {}): Promise<TestEngine> {
  const bed = await createTestEngine({ answerer, redisUrl: requireRedisUrl(), keyPrefix, lockTtlMs: 2_000, waiterTtlMs: LEASE_MS, ...options });
  engines.push(bed);
  return bed;
}

function freshPrefix(label: string): string {
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  return prefix;
}

/** An answerer whose answer to `slowText` waits until `finish` is called; every other message is answered at once. */
function gatedAnswerer(slowText: string): Answerer & { asked: string[]; finish: () => void } {
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  const scripted = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
  const asked: string[] = [];
  return {
    reservedTokens: 0,
    asked,
    finish,
    async answer(request) {
      asked.push(request.message.text);
      if (request.message.text === slowText) await gate;
      return scripted.answer(request);
    },
  };
}

/** A sink that shows a placeholder once anything was emitted, as the Slack and Discord sinks do. */
function placeholderSink(handle: ReplyHandle): ReplySink & { events: ReplyEvent[] } {
  const events: ReplyEvent[] = [];
  return {
    events,
    async emit(event) {
      events.push(event);
    },
    replyHandle: () => (events.length > 0 ? handle : undefined),
  };
}

/** Every script call that removes a waiting message's record (the coordinator's REMOVE_PENDING). */
const removesWaitingRecord = (script: string) => script.includes("redis.call('ZREM', KEYS[2], ARGV[1]) == 0");

/**
 * Makes the next `times` removals of a waiting record on this replica's connection fail as a dropped
 * connection does: after Redis applied them (`applied`: the reply was lost) or before.
 */
function failRecordRemovals(bed: TestEngine, times: number, applied: boolean): { failed: () => number } {
  const client = bed.backends.redis! as unknown as { eval: (script: string, options: unknown) => Promise<unknown> };
  const evaluate = client.eval.bind(client);
  let failed = 0;
  client.eval = async (script, options) => {
    if (!removesWaitingRecord(script) || failed >= times) return evaluate(script, options);
    failed += 1;
    if (applied) await evaluate(script, options);
    throw new Error('Socket closed unexpectedly');
  };
  return { failed: () => failed };
}

const finalEvents = (events: ReplyEvent[]) => events.filter((event) => event.type === 'answer-completed' || event.type === 'turn-failed' || event.type === 'handoff-requested');

function recoverySinks(): { sinkFor: RecoverySinkFactory; recovered: Array<{ text: string; handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> } {
  const recovered: Array<{ text: string; handle: ReplyHandle | undefined; sink: ReturnType<typeof recordingSink> }> = [];
  return {
    recovered,
    sinkFor: (message, handle) => {
      const sink = recordingSink();
      recovered.push({ text: message.text, handle, sink });
      return sink;
    },
  };
}

/**
 * Sweeps on `bed` until the one waiting message left behind is recovered, and checks it was answered
 * into `placeholder`, the reply its user was shown, and that a further sweep finds nothing to do.
 */
async function expectRecoveredOnceInto(bed: TestEngine, placeholder: ReplyHandle): Promise<void> {
  const { sinkFor, recovered } = recoverySinks();
  await expect
    .poll(async () => {
      await bed.engine.recoverOrphanedTurns('slack', sinkFor);
      return recovered.length;
    }, { timeout: 10_000, interval: 100 })
    .toBe(1);
  expect(recovered[0]!.handle).toEqual(placeholder);
  expect(finalEvents(recovered[0]!.sink.events)).toEqual([expect.objectContaining({ type: 'answer-completed' })]);
  expect(await bed.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
  expect(recovered).toHaveLength(1);
}

/** A slow first turn on `holder` keeps thread `threadKey` busy; returns it once the model is asked. */
async function busyThread(holder: TestEngine, answerer: ReturnType<typeof gatedAnswerer>, threadKey: string): Promise<{ turn: Promise<TurnOutcome> }> {
  const turn = holder.engine.handle(incomingMessage(threadKey, 'first', { platform: 'slack' }), recordingSink());
  await expect.poll(() => [...answerer.asked]).toEqual(['first']);
  return { turn };
}

async function storedThread(bed: TestEngine, threadKey: string): Promise<string[][]> {
  const state = (await bed.backends.store.load(threadKey)).state;
  return (state?.messages ?? []).map((message) => [message.role, message.content]);
}

describe('a waiting message whose wait for the thread fails', () => {
  it.each([
    ['applied by Redis, its reply lost', true],
    ['not applied', false],
  ])('with the first removal of its record %s: the user is told once, and nothing answers it later', async (_case, applied) => {
    const keyPrefix = freshPrefix('wait-fails');
    const answerer = gatedAnswerer('first');
    const holder = await replica(answerer, keyPrefix);
    // Waits for the thread no longer than this, so the wait fails behind the slow first turn.
    const waiter = await replica(answerer, keyPrefix, { turnTimeoutMs: 400 });
    const threadKey = 'slack:T1:C1:100.000';
    const first = await busyThread(holder, answerer, threadKey);
    const injected = failRecordRemovals(waiter, 1, applied);
    const sink = recordingSink();

    const outcome = await waiter.engine.handle(incomingMessage(threadKey, 'second', { platform: 'slack' }), sink);

    expect(injected.failed()).toBe(1);
    expect(outcome).toMatchObject({ kind: 'failed', code: 'lock_wait_timeout' });
    expect(finalEvents(sink.events)).toEqual([{ type: 'turn-failed', code: 'lock_wait_timeout', userMessage: expect.stringMatching(/send it again/) }]);
    answerer.finish();
    expect((await first.turn).kind).toBe('answered');
    // Well past the record's lease: a record left behind would be answered by now.
    await delay(3 * LEASE_MS);
    const { sinkFor, recovered } = recoverySinks();
    expect(await holder.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
    expect(recovered).toEqual([]);
    expect(answerer.asked).toEqual(['first']);
    expect(await holder.backends.coordinator.listPending(threadKey)).toEqual([]);
    expect(await storedThread(holder, threadKey)).toEqual([
      ['user', 'first'],
      ['assistant', 'Answer to: first'],
    ]);
  });

  it('while its record cannot be removed: the user is told it is kept (not to send it again), and recovery answers it once, in order, where it showed', async () => {
    const keyPrefix = freshPrefix('wait-fails-kept');
    const answerer = gatedAnswerer('first');
    const holder = await replica(answerer, keyPrefix);
    const waiter = await replica(answerer, keyPrefix, { turnTimeoutMs: 400, answerSaveGraceMs: 500 });
    const threadKey = 'slack:T1:C1:200.000';
    const first = await busyThread(holder, answerer, threadKey);
    failRecordRemovals(waiter, Number.POSITIVE_INFINITY, false);
    const placeholder = { channelId: 'C1', threadTs: '200.000', messageTs: '200.100' };
    const sink = placeholderSink(placeholder);

    const outcome = await waiter.engine.handle(incomingMessage(threadKey, 'second', { platform: 'slack' }), sink);

    expect(outcome).toMatchObject({ kind: 'failed', code: 'message_kept' });
    expect(finalEvents(sink.events)).toEqual([{ type: 'turn-failed', code: 'message_kept', userMessage: expect.stringMatching(/Your message is saved, and I will answer it here/) }]);
    expect(outcome.kind === 'failed' && outcome.userMessage).not.toMatch(/again/i);

    answerer.finish();
    expect((await first.turn).kind).toBe('answered');
    // The waiter stopped renewing the record, so its lease runs out and a sweep takes it over.
    await expectRecoveredOnceInto(holder, placeholder);
    expect(answerer.asked).toEqual(['first', 'second']);
    expect(await storedThread(holder, threadKey)).toEqual([
      ['user', 'first'],
      ['assistant', 'Answer to: first'],
      ['user', 'second'],
      ['assistant', 'Answer to: second'],
    ]);
    expect(await holder.backends.coordinator.listPending(threadKey)).toEqual([]);
  });
});

describe('a turn that fails after its message was stored', () => {
  it('tells the user its own failure once, even when the removal of the waiting record was applied but reported failed', async () => {
    const keyPrefix = freshPrefix('stored-then-failed');
    const failure = new BotError({ code: 'model_unavailable', message: 'upstream 500', userMessage: 'The model is not answering right now. Please try again in a minute.' });
    const answerer = scriptedAnswerer([{ error: failure }]);
    const bed = await replica(answerer, keyPrefix);
    const injected = failRecordRemovals(bed, 1, true);
    const threadKey = 'slack:T1:C1:300.000';
    const sink = recordingSink();

    const outcome = await bed.engine.handle(incomingMessage(threadKey, 'what changed?', { platform: 'slack' }), sink);

    expect(injected.failed()).toBe(1);
    expect(outcome).toEqual({ kind: 'failed', code: 'model_unavailable', userMessage: failure.userMessage });
    expect(finalEvents(sink.events)).toEqual([{ type: 'turn-failed', code: 'model_unavailable', userMessage: failure.userMessage }]);
    await delay(3 * LEASE_MS);
    const { sinkFor, recovered } = recoverySinks();
    expect(await bed.engine.recoverOrphanedTurns('slack', sinkFor)).toBe(0);
    expect(recovered).toEqual([]);
    expect(answerer.requests).toHaveLength(1);
    expect(await bed.backends.coordinator.listPending(threadKey)).toEqual([]);
  });
});

describe('a message waiting for its thread when its process shuts down', () => {
  it('is left to another process without a word from this one, and answered once, after the turn ahead of it, in the reply it showed', async () => {
    const keyPrefix = freshPrefix('handed-over');
    const answerer = gatedAnswerer('first');
    const holder = await replica(answerer, keyPrefix);
    const stopping = await replica(answerer, keyPrefix);
    const threadKey = 'slack:T1:C1:400.000';
    const first = await busyThread(holder, answerer, threadKey);
    const placeholder = { channelId: 'C1', threadTs: '400.000', messageTs: '400.100' };
    const sink = placeholderSink(placeholder);
    const second = stopping.engine.handle(incomingMessage(threadKey, 'second', { platform: 'slack' }), sink);
    // Queued, with its placeholder recorded.
    await expect.poll(async () => (await holder.backends.coordinator.listPending(threadKey)).map((entry) => (JSON.parse(entry.payload) as { replyHandle?: unknown }).replyHandle)).toEqual([placeholder]);

    // The shutdown does not wait for the thread's slow turn on the other process.
    await stopping.close();
    expect(await second).toEqual({ kind: 'handed-over' });
    expect(sink.events).toEqual([{ type: 'turn-queued' }]);
    expect(answerer.asked).toEqual(['first']);

    answerer.finish();
    expect((await first.turn).kind).toBe('answered');
    await expectRecoveredOnceInto(holder, placeholder);
    expect(sink.events).toEqual([{ type: 'turn-queued' }]);
    expect(answerer.asked).toEqual(['first', 'second']);
    expect(await storedThread(holder, threadKey)).toEqual([
      ['user', 'first'],
      ['assistant', 'Answer to: first'],
      ['user', 'second'],
      ['assistant', 'Answer to: second'],
    ]);
    expect(await holder.backends.coordinator.listPending(threadKey)).toEqual([]);
    expect(await holder.backends.coordinator.listInFlight()).toEqual([]);
  });

  it('is left to another process, with where its reply shows, when it gets the thread just as the shutdown begins', async () => {
    const keyPrefix = freshPrefix('handed-over-at-grant');
    const answerer = gatedAnswerer('never slow');
    const survivor = await replica(answerer, keyPrefix);
    const stopping = await replica(answerer, keyPrefix);
    const coordinator = stopping.backends.coordinator;
    const withThreadLock = coordinator.withThreadLock.bind(coordinator);
    let closing: Promise<void> | undefined;
    coordinator.withThreadLock = (threadKey, work, options) =>
      withThreadLock(threadKey, async (lock) => {
        closing ??= stopping.engine.close(5_000);
        return work(lock);
      }, options);
    const threadKey = 'slack:T1:C1:500.000';
    const placeholder = { channelId: 'C1', threadTs: '500.000', messageTs: '500.100' };
    const sink = placeholderSink(placeholder);

    expect(await stopping.engine.handle(incomingMessage(threadKey, 'question', { platform: 'slack' }), sink)).toEqual({ kind: 'handed-over' });
    await closing;
    expect(sink.events).toEqual([{ type: 'turn-queued' }]);
    expect(answerer.asked).toEqual([]);

    await expectRecoveredOnceInto(survivor, placeholder);
    expect(answerer.asked).toEqual(['question']);
    expect(await storedThread(survivor, threadKey)).toEqual([
      ['user', 'question'],
      ['assistant', 'Answer to: question'],
    ]);
  });

  it('without shared state (nobody to leave it to), waits on through the drain and is answered there', async () => {
    const answerer = gatedAnswerer('first');
    const bed = await createTestEngine({ answerer });
    engines.push(bed);
    const threadKey = 'console:drain';
    const first = bed.engine.handle(incomingMessage(threadKey, 'first'), recordingSink());
    await expect.poll(() => [...answerer.asked]).toEqual(['first']);
    const sink = recordingSink();
    const second = bed.engine.handle(incomingMessage(threadKey, 'second'), sink);
    await sink.firstEvent;

    const closed = bed.engine.close(10_000);
    answerer.finish();
    await closed;
    expect((await first).kind).toBe('answered');
    expect((await second).kind).toBe('answered');
    expect(finalEvents(sink.events)).toEqual([expect.objectContaining({ type: 'answer-completed' })]);
    expect(answerer.asked).toEqual(['first', 'second']);
  });
});
