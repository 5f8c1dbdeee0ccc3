import { describe, expect, it } from 'vitest';
import { createCompactor } from '../../../src/compaction/compactor.js';
import type { TokenBudget } from '../../../src/compaction/types.js';
import type { StoredMessage, ThreadState } from '../../../src/history/thread-state.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Summarizer, TokenCounter } from '../../../src/providers/types.js';
import { HistoryBuilder } from './history-builder.js';

/** Every message estimated at 100 tokens, so the arithmetic below is plain. */
const hundredEach: TokenCounter = {
  source: 'estimate',
  countText: () => 100,
  countMessages: async (messages) => messages.map(() => 100),
};

const BUDGET: TokenBudget = { windowTokens: 10_000, maxOutputTokens: 500, reservedTokens: 3_000 };
/** What the answerer says its call added around the history (system prompt and tool schema): less than it reserves. */
const ADDED = 300;

function counts(messages: StoredMessage[]): Array<[number | undefined, string | undefined]> {
  return messages.map((message) => [message.tokens?.count, message.tokens?.source]);
}

function withNewMessages(state: ThreadState, builder: HistoryBuilder): ThreadState {
  return { ...state, messages: [...state.messages, ...builder.messages.slice(state.messages.length)] };
}

describe('correctFromUsage', () => {
  const compactor = createCompactor({ strategy: 'sliding', estimator: hundredEach, logger: silentLogger() });

  it('leaves counts as they are, now confirmed, when the model counts what we counted', async () => {
    const state = new HistoryBuilder().user('a').assistant('b').user('c').state();
    const fitted = await compactor.fit(state, BUDGET);
    const corrected = compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: ADDED + 300, addedTokens: ADDED });
    expect(counts(corrected.messages)).toEqual([
      [100, 'api'],
      [100, 'api'],
      [100, 'api'],
    ]);
  });

  it('scales the estimated history by the factor the report puts on everything we estimated, the additions included', async () => {
    const state = new HistoryBuilder().user('a').assistant('b').user('c').state();
    const fitted = await compactor.fit(state, BUDGET);
    // We estimated 300 added + 300 of history; the model counted 0.8 of that.
    const corrected = compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: 480, addedTokens: ADDED });
    expect(counts(corrected.messages)).toEqual([
      [80, 'api'],
      [80, 'api'],
      [80, 'api'],
    ]);
  });

  it('keeps confirmed counts and corrects only the new messages from a later report', async () => {
    const builder = new HistoryBuilder().user('a').assistant('b').user('c');
    const first = await compactor.fit(builder.state(), BUDGET);
    const afterFirst = compactor.correctFromUsage(first.state, first, { reportedTokens: 480, addedTokens: ADDED });
    builder.assistant('d').user('e');
    const second = await compactor.fit(withNewMessages(afterFirst, builder), BUDGET);
    // 240 confirmed, then 1.5 × (300 added + 200 new): the new messages were under-estimated.
    const corrected = compactor.correctFromUsage(second.state, second, { reportedTokens: 240 + 750, addedTokens: ADDED });
    expect(counts(corrected.messages)).toEqual([
      [80, 'api'],
      [80, 'api'],
      [80, 'api'],
      [150, 'api'],
      [150, 'api'],
    ]);
  });

  it('never shrinks a count below half its estimate, nor more than doubles it, from one report', async () => {
    const state = new HistoryBuilder().user('a').assistant('b').state();
    const fitted = await compactor.fit(state, BUDGET);
    // Ten times what we estimated: followed only to twice.
    expect(counts(compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: 5_000, addedTokens: ADDED }).messages)).toEqual([
      [200, 'api'],
      [200, 'api'],
    ]);
    // Less than half of what we estimated: not a full count of this prompt (a cached prefix left out, say).
    expect(compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: 240, addedTokens: ADDED })).toBe(fitted.state);
    // Exactly half is believable.
    expect(counts(compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: 250, addedTokens: ADDED }).messages)).toEqual([
      [50, 'api'],
      [50, 'api'],
    ]);
  });

  it('forgets confirmed counts a clean report contradicts, so the next fit counts them afresh and the next report corrects them all', async () => {
    const builder = new HistoryBuilder();
    for (let turn = 0; turn < 5; turn += 1) builder.user(`q${turn}`).assistant(`a${turn}`);
    const first = await compactor.fit(builder.state(), BUDGET);
    // Confirmed at 40% of the estimate, as an earlier release did from summed usage.
    const stale = { ...first.state, messages: first.state.messages.map((message) => ({ ...message, tokens: { count: 40, source: 'api' as const } })) };
    builder.user('q5');
    const second = await compactor.fit(withNewMessages(stale, builder), BUDGET);
    // The model counts exactly what we estimate: 300 added + 1,100 of history. Explaining that with the
    // confirmed 400 would need the additions and the new message to be 2.5 times their estimate.
    const forgotten = compactor.correctFromUsage(second.state, second, { reportedTokens: 1_400, addedTokens: ADDED });
    expect(counts(forgotten.messages)).toEqual([...Array.from({ length: 10 }, () => [undefined, undefined]), [100, 'estimate']]);

    const third = await compactor.fit(forgotten, BUDGET);
    expect(counts(third.state.messages)).toEqual(Array.from({ length: 11 }, () => [100, 'estimate']));
    const corrected = compactor.correctFromUsage(third.state, third, { reportedTokens: 1.1 * 1_400, addedTokens: ADDED });
    expect(counts(corrected.messages)).toEqual(Array.from({ length: 11 }, () => [110, 'api']));
  });

  it('lets a later report work off a small error in the confirmed counts through the new messages', async () => {
    const builder = new HistoryBuilder().user('a').assistant('b').user('c');
    const first = await compactor.fit(builder.state(), BUDGET);
    // Confirmed 20 tokens short each: 60 short in all, within what the next report can explain.
    const short = { ...first.state, messages: first.state.messages.map((message) => ({ ...message, tokens: { count: 80, source: 'api' as const } })) };
    builder.assistant('d').user('e');
    const second = await compactor.fit(withNewMessages(short, builder), BUDGET);
    const corrected = compactor.correctFromUsage(second.state, second, { reportedTokens: ADDED + 500, addedTokens: ADDED });
    // (800 − 240) ÷ (300 + 200) = 1.12: the new messages take their share of the 60.
    expect(counts(corrected.messages)).toEqual([
      [80, 'api'],
      [80, 'api'],
      [80, 'api'],
      [112, 'api'],
      [112, 'api'],
    ]);
  });

  it('forgets confirmed counts larger than the whole report', async () => {
    const builder = new HistoryBuilder().user('a').assistant('b').user('c');
    const first = await compactor.fit(builder.state(), BUDGET);
    const doubled = { ...first.state, messages: first.state.messages.map((message) => ({ ...message, tokens: { count: 200, source: 'api' as const } })) };
    builder.assistant('d');
    const second = await compactor.fit(withNewMessages(doubled, builder), BUDGET);
    const forgotten = compactor.correctFromUsage(second.state, second, { reportedTokens: 500, addedTokens: ADDED });
    expect(counts(forgotten.messages).slice(0, 3)).toEqual(Array.from({ length: 3 }, () => [undefined, undefined]));
  });

  it('corrects a summary on the request that introduced it and treats it as confirmed afterwards', async () => {
    const summarizer: Summarizer = { summarize: async () => '- 요약' };
    const summaryCompactor = createCompactor({ strategy: 'summary', estimator: hundredEach, summarizer, logger: silentLogger(), recentTurnsToKeep: 1 });
    const builder = new HistoryBuilder();
    for (let turn = 0; turn < 10; turn += 1) builder.user(`q${turn}`).assistant(`a${turn}`);
    builder.user('newest');
    const budget = { windowTokens: 1_600, maxOutputTokens: 100, reservedTokens: 0 };
    const fitted = await summaryCompactor.fit(builder.state(), budget);
    expect(fitted.kind).toBe('summary');
    expect(fitted.sent).toMatchObject({ summaryIncluded: true, summaryFresh: true });
    const sentTokens = 100 * (1 + (fitted.sent?.messageIds.length ?? 0));
    const corrected = summaryCompactor.correctFromUsage(fitted.state, fitted, { reportedTokens: ADDED / 2 + sentTokens / 2, addedTokens: ADDED });
    expect(corrected.summary?.tokens).toBe(50);

    builder.assistant('answer').user('next question');
    const again = await summaryCompactor.fit(withNewMessages(corrected, builder), budget);
    expect(again.kind).toBe('none');
    expect(again.sent).toMatchObject({ summaryIncluded: true, summaryFresh: false });
    const confirmed = 50 * (1 + (fitted.sent?.messageIds.length ?? 0));
    // The new messages are counted as estimated; the summary keeps its confirmed count.
    const next = summaryCompactor.correctFromUsage(again.state, again, { reportedTokens: confirmed + ADDED + 200, addedTokens: ADDED });
    expect(next.summary?.tokens).toBe(50);
    expect(counts(next.messages.slice(-2))).toEqual([
      [100, 'api'],
      [100, 'api'],
    ]);
  });

  it('leaves state alone for a result it did not produce, or a report without a prompt size', async () => {
    const state = new HistoryBuilder().user('a').state();
    expect(compactor.correctFromUsage(state, { messages: [], state, kind: 'none' }, { reportedTokens: 1_000, addedTokens: 0 })).toBe(state);
    const fitted = await compactor.fit(state, BUDGET);
    expect(compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: 0, addedTokens: ADDED })).toBe(fitted.state);
    expect(compactor.correctFromUsage(fitted.state, fitted, { reportedTokens: Number.NaN, addedTokens: ADDED })).toBe(fitted.state);
  });
});
