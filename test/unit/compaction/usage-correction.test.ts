import { describe, expect, it } from 'vitest';
import { createCompactor } from '../../../src/compaction/compactor.js';
import type { TokenBudget } from '../../../src/compaction/types.js';
import type { StoredMessage } from '../../../src/history/thread-state.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Summarizer, TokenCounter } from '../../../src/providers/types.js';
import { HistoryBuilder } from './history-builder.js';

/** Every message estimated at 100 tokens, so the arithmetic below is plain. */
const hundredEach: TokenCounter = {
  source: 'estimate',
  countText: () => 100,
  countMessages: async (messages) => messages.map(() => 100),
};

const BUDGET: TokenBudget = { windowTokens: 10_000, maxOutputTokens: 500, reservedTokens: 300 };

function counts(messages: StoredMessage[]): Array<[number | undefined, string | undefined]> {
  return messages.map((message) => [message.tokens?.count, message.tokens?.source]);
}

describe('correctFromUsage', () => {
  const compactor = createCompactor({ strategy: 'sliding', estimator: hundredEach, logger: silentLogger() });

  it('spreads the reported history tokens over the estimated messages it sent and marks them as api counts', async () => {
    const state = new HistoryBuilder().user('a').assistant('b').user('c').state();
    const fitted = await compactor.fit(state, BUDGET);
    // The API saw 300 reserved + 240 of history: the estimates (300) were 25% high.
    const corrected = compactor.correctFromUsage(fitted.state, fitted, 540, 300);
    expect(counts(corrected.messages)).toEqual([
      [80, 'api'],
      [80, 'api'],
      [80, 'api'],
    ]);
  });

  it('keeps confirmed counts and attributes the rest of a later report to the new messages only', async () => {
    const builder = new HistoryBuilder().user('a').assistant('b').user('c');
    const first = await compactor.fit(builder.state(), BUDGET);
    const afterFirst = compactor.correctFromUsage(first.state, first, 540, 300);
    builder.assistant('d').user('e');
    const next = { ...afterFirst, messages: [...afterFirst.messages, ...builder.messages.slice(3)] };
    const second = await compactor.fit(next, BUDGET);
    // History 240 confirmed + 300 for the two new ones (estimated 200): they were under-estimated.
    const corrected = compactor.correctFromUsage(second.state, second, 300 + 240 + 300, 300);
    expect(counts(corrected.messages)).toEqual([
      [80, 'api'],
      [80, 'api'],
      [80, 'api'],
      [150, 'api'],
      [150, 'api'],
    ]);
  });

  it('ignores a report that cannot describe this prompt and never shrinks a count below 40% of its estimate', async () => {
    const state = new HistoryBuilder().user('a').assistant('b').state();
    const fitted = await compactor.fit(state, BUDGET);
    expect(compactor.correctFromUsage(fitted.state, fitted, 300 + 5_000, 300)).toBe(fitted.state);
    expect(compactor.correctFromUsage(fitted.state, fitted, 250, 300)).toBe(fitted.state);
    const shrunk = compactor.correctFromUsage(fitted.state, fitted, 300 + 20, 300);
    expect(counts(shrunk.messages)).toEqual([
      [40, 'api'],
      [40, 'api'],
    ]);
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
    const corrected = summaryCompactor.correctFromUsage(fitted.state, fitted, sentTokens / 2, 0);
    expect(corrected.summary?.tokens).toBe(50);

    const again = await summaryCompactor.fit(corrected, budget);
    expect(again.kind).toBe('none');
    expect(again.sent).toMatchObject({ summaryIncluded: true, summaryFresh: false });
    const unchangedSummary = summaryCompactor.correctFromUsage(again.state, again, 50 + 1_000, 0);
    expect(unchangedSummary.summary?.tokens).toBe(50);
  });

  it('leaves state alone for a result it did not produce', async () => {
    const state = new HistoryBuilder().user('a').state();
    expect(compactor.correctFromUsage(state, { messages: [], state, kind: 'none' }, 1_000, 0)).toBe(state);
  });
});
