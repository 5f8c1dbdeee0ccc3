import { describe, expect, it } from 'vitest';
import { createCompactor, SLIDING_NOTICE } from '../../../src/compaction/compactor.js';
import { MessageTooLongError } from '../../../src/compaction/errors.js';
import { createTokenEstimator } from '../../../src/compaction/token-estimator.js';
import { groupIntoTurns } from '../../../src/compaction/conversation-turns.js';
import { firstKeptTurn } from '../../../src/compaction/sliding-window.js';
import type { CompactionResult, TokenBudget } from '../../../src/compaction/types.js';
import type { StoredMessage, ThreadState } from '../../../src/history/thread-state.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { ChatMessage, TokenCounter } from '../../../src/providers/types.js';
import { HistoryBuilder, randomThread, seededRandom } from './history-builder.js';

/** Counts each message as the number in its content ("120" costs 120 tokens), so examples read like the guide. */
const contentIsCount: TokenCounter = {
  source: 'estimate',
  countText: (text) => Number(text) || 0,
  countMessages: async (messages) => messages.map((message) => Number(message.content) || 0),
};

function slidingCompactor(estimator: TokenCounter = createTokenEstimator()) {
  return createCompactor({ strategy: 'sliding', estimator, logger: silentLogger() });
}

/** Prompt tokens A of a fit result by the compactor's own cached counts (plus the summary, when sent). */
function promptTokens(result: CompactionResult, budget: TokenBudget): number {
  const byId = new Map(result.state.messages.map((message) => [message.id, message]));
  let total = budget.reservedTokens;
  for (const id of result.sent?.messageIds ?? []) total += byId.get(id)?.tokens?.count ?? Number.NaN;
  if (result.sent?.summaryIncluded) total += result.state.summary?.tokens ?? Number.NaN;
  return total;
}

describe('sliding compactor: documented worked example', () => {
  // Turns of 100 and 200 tokens first (user 50 + assistant 50, user 100 + assistant 100), then the newest question.
  const history = new HistoryBuilder().user('50').assistant('50').user('100').assistant('100').user('300').state();
  const total = 600;

  it('drops the two oldest turns when the excess is 200 tokens', async () => {
    const budget = { windowTokens: 1_000, maxOutputTokens: 400, reservedTokens: 200 };
    expect(total + budget.maxOutputTokens + budget.reservedTokens - budget.windowTokens).toBe(200);
    const result = await slidingCompactor(contentIsCount).fit(history, budget);
    expect(result.messages.map((message) => message.content)).toEqual(['300']);
    expect(result.kind).toBe('sliding');
    expect(result.notice).toBe(SLIDING_NOTICE);
  });

  it('drops only the oldest turn when the excess is 100 tokens or less', async () => {
    for (const excess of [1, 50, 100]) {
      const budget = { windowTokens: 1_000, maxOutputTokens: 400, reservedTokens: excess };
      expect(total + budget.maxOutputTokens + budget.reservedTokens - budget.windowTokens).toBe(excess);
      const result = await slidingCompactor(contentIsCount).fit(history, budget);
      expect(result.messages.map((message) => message.content)).toEqual(['100', '100', '300']);
    }
  });

  it('sends everything, with no notice, when the history fits', async () => {
    const result = await slidingCompactor(contentIsCount).fit(history, { windowTokens: 1_000, maxOutputTokens: 400, reservedTokens: 0 });
    expect(result.messages).toHaveLength(5);
    expect(result.kind).toBe('none');
    expect(result.notice).toBeUndefined();
  });
});

describe('sliding compactor: guarantees', () => {
  it('caches an estimate on every message and keeps cached counts as they are', async () => {
    const state = new HistoryBuilder().user('안녕하세요').assistant('네, 무엇을 도와드릴까요?').user('주문 확인').state();
    state.messages[0] = { ...state.messages[0]!, tokens: { count: 3, source: 'api' } };
    const result = await slidingCompactor().fit(state, { windowTokens: 4_096, maxOutputTokens: 512, reservedTokens: 0 });
    expect(result.state.messages.map((message) => message.tokens?.source)).toEqual(['api', 'estimate', 'estimate']);
    expect(result.state.messages[0]?.tokens?.count).toBe(3);
    expect(result.state.compaction?.lastKind).toBe('none');
  });

  it('tells the user what to shorten when even the newest message cannot fit', async () => {
    const state = new HistoryBuilder().user('short').assistant('ok').user('가'.repeat(3_000)).state();
    const error = await slidingCompactor()
      .fit(state, { windowTokens: 4_096, maxOutputTokens: 1_024, reservedTokens: 500 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MessageTooLongError);
    expect((error as MessageTooLongError).code).toBe('message_too_long');
    expect((error as MessageTooLongError).userMessage).toMatch(/too long.*shorten/);
    expect((error as MessageTooLongError).availableTokens).toBe(4_096 - 1_024 - 500);
  });

  it('uses the exact tokenizer for new messages and falls back to the estimator when it fails', async () => {
    const seen: ChatMessage[][] = [];
    const tokenizer: TokenCounter = {
      source: 'tokenizer',
      countText: () => 1,
      countMessages: async (messages) => {
        seen.push(messages);
        return messages.map(() => 7);
      },
    };
    const state = new HistoryBuilder().user('a').assistant('b').state();
    const compactor = createCompactor({ strategy: 'sliding', estimator: createTokenEstimator(), tokenizer, logger: silentLogger() });
    const result = await compactor.fit(state, { windowTokens: 100, maxOutputTokens: 10, reservedTokens: 0 });
    expect(result.state.messages.map((message) => message.tokens)).toEqual([
      { count: 11, source: 'tokenizer' },
      { count: 11, source: 'tokenizer' },
    ]);
    expect(seen).toEqual([[{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]]);

    const failing: TokenCounter = { ...tokenizer, countMessages: async () => Promise.reject(new Error('tokenizer down')) };
    const fallback = createCompactor({ strategy: 'sliding', estimator: createTokenEstimator(), tokenizer: failing, logger: silentLogger() });
    const estimated = await fallback.fit(state, { windowTokens: 100, maxOutputTokens: 10, reservedTokens: 0 });
    expect(estimated.state.messages.map((message) => message.tokens?.source)).toEqual(['estimate', 'estimate']);
  });
});

describe('sliding compactor: properties over random histories', () => {
  const SEEDS = 300;

  it('keeps A + B ≤ X, the newest user message, whole tool exchanges and a user message first; drops the fewest turns', async () => {
    const compactor = slidingCompactor();
    let compacted = 0;
    for (let seed = 1; seed <= SEEDS; seed += 1) {
      const random = seededRandom(seed);
      const thread = randomThread(random, 2 + Math.floor(random() * 40), 30);
      const state = thread.state();
      const budget = { windowTokens: 600 + Math.floor(random() * 4_000), maxOutputTokens: 50 + Math.floor(random() * 300), reservedTokens: Math.floor(random() * 200) };
      let result: CompactionResult;
      try {
        result = await compactor.fit(state, budget);
      } catch (error) {
        // Only allowed when the newest message alone cannot fit.
        expect(error).toBeInstanceOf(MessageTooLongError);
        continue;
      }
      const label = `seed ${seed}`;
      expect(promptTokens(result, budget) + budget.maxOutputTokens, label).toBeLessThanOrEqual(budget.windowTokens);
      const newestUser = state.messages[state.messages.length - 1]!;
      expect(result.messages.at(-1), label).toEqual({ role: 'user', content: newestUser.content });
      expectWholeToolExchanges(result.messages, label);
      // The compactor walks from the newest end; the documented rule walks from the oldest: same turns.
      const turns = groupIntoTurns(result.state.messages, (message) => message.tokens?.count ?? 0);
      const first = firstKeptTurn(
        turns.map((turn) => turn.tokens),
        budget.windowTokens - budget.maxOutputTokens - budget.reservedTokens,
      );
      expect(result.sent?.messageIds, label).toEqual(turns.slice(first).flatMap((turn) => turn.messages.map((message) => message.id)));
      if (result.kind === 'sliding') {
        compacted += 1;
        expect(result.messages[0]?.role, label).toBe('user');
        expectFewestTurnsDropped(result, budget, label);
      } else {
        expect(result.messages).toHaveLength(state.messages.length);
      }
    }
    // The generator must actually exercise the sliding path most of the time.
    expect(compacted).toBeGreaterThan(SEEDS / 3);
  });

  it('uses at least 90% of the budget whenever the history exceeds it and no turn is larger than a tenth of it', async () => {
    const compactor = slidingCompactor();
    let checked = 0;
    for (let seed = 1_000; seed < 1_000 + SEEDS; seed += 1) {
      const random = seededRandom(seed);
      const state = randomThread(random, 20 + Math.floor(random() * 80), 12).state();
      const budget = { windowTokens: 2_000 + Math.floor(random() * 2_000), maxOutputTokens: 256, reservedTokens: 300 };
      const result = await compactor.fit(state, budget);
      const largestTurn = Math.max(...turnTokens(result.state.messages));
      if (result.kind !== 'sliding' || largestTurn > budget.windowTokens / 10) continue;
      checked += 1;
      const used = promptTokens(result, budget) + budget.maxOutputTokens;
      expect(used / budget.windowTokens, `seed ${seed}`).toBeGreaterThanOrEqual(0.9);
    }
    expect(checked).toBeGreaterThan(SEEDS / 2);
  });
});

function expectWholeToolExchanges(messages: ChatMessage[], label: string): void {
  const open = new Set<string>();
  for (const message of messages) {
    if (message.role === 'tool') {
      expect(open.has(message.toolCallId ?? ''), `${label}: tool result without its call`).toBe(true);
      open.delete(message.toolCallId ?? '');
      continue;
    }
    expect(open.size, `${label}: tool call without all its results`).toBe(0);
    for (const call of message.toolCalls ?? []) open.add(call.id);
  }
  expect(open.size, `${label}: tool call without all its results`).toBe(0);
}

/** Adding back the newest dropped turn would overflow: no fewer turns could have been dropped. */
function expectFewestTurnsDropped(result: CompactionResult, budget: TokenBudget, label: string): void {
  const messages = result.state.messages;
  const firstSent = messages.findIndex((message) => message.id === result.sent?.messageIds[0]);
  expect(firstSent, label).toBeGreaterThan(0);
  let previousTurnStart = firstSent - 1;
  while (previousTurnStart > 0 && messages[previousTurnStart]?.role !== 'user') previousTurnStart -= 1;
  const previousTurn = messages.slice(previousTurnStart, firstSent).reduce((sum, message) => sum + (message.tokens?.count ?? 0), 0);
  expect(promptTokens(result, budget) + previousTurn + budget.maxOutputTokens, label).toBeGreaterThan(budget.windowTokens);
}

function turnTokens(messages: StoredMessage[]): number[] {
  const totals: number[] = [];
  for (const message of messages) {
    if (message.role === 'user' || totals.length === 0) totals.push(0);
    totals[totals.length - 1]! += message.tokens?.count ?? 0;
  }
  return totals;
}

export type { ThreadState };

describe('sliding compactor: stored history stays bounded', () => {
  it('sheds messages the window left behind once a thread stores more than pruneAboveMessages, never what it sends', async () => {
    const builder = new HistoryBuilder();
    for (let turn = 0; turn < 60; turn += 1) builder.user('10').assistant('10');
    const state = builder.user('10').state();
    const compactor = createCompactor({ strategy: 'sliding', estimator: contentIsCount, logger: silentLogger(), pruneAboveMessages: 40 });
    const result = await compactor.fit(state, { windowTokens: 300, maxOutputTokens: 50, reservedTokens: 0 });
    expect(state.messages).toHaveLength(121);
    expect(result.state.messages).toHaveLength(40);
    // Everything sent is still stored, newest question included.
    const stored = new Set(result.state.messages.map((message) => message.id));
    expect(result.sent?.messageIds.every((id) => stored.has(id))).toBe(true);
    expect(result.state.messages.at(-1)?.id).toBe(state.messages.at(-1)?.id);
  });
});
