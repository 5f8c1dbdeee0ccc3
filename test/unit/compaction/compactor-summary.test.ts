import { describe, expect, it } from 'vitest';
import { createCompactor, SLIDING_NOTICE, SUMMARY_NOTICE, type CompactorOptions } from '../../../src/compaction/compactor.js';
import { createExtractiveSummarizer } from '../../../src/compaction/extractive-summarizer.js';
import { parseKeyFacts } from '../../../src/compaction/key-facts.js';
import { SUMMARY_MESSAGE_PREFIX } from '../../../src/compaction/rolling-summary.js';
import { createTokenEstimator } from '../../../src/compaction/token-estimator.js';
import type { CompactionResult, TokenBudget } from '../../../src/compaction/types.js';
import type { ThreadState } from '../../../src/history/thread-state.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { SummarizeOptions, Summarizer } from '../../../src/providers/types.js';
import { HistoryBuilder, randomThread, seededRandom } from './history-builder.js';

/** A summariser that records what it was asked and answers from a script: text, an error, or never. */
class RecordingSummarizer implements Summarizer {
  readonly calls: Array<{ texts: string[]; priorSummary: string | undefined }> = [];
  constructor(private readonly behave: (call: number, texts: string[]) => string | Error | 'hang' = (call, texts) => `- 요약 ${call}: ${texts.length}개 메시지`) {}

  async summarize(texts: string[], options: SummarizeOptions = {}): Promise<string> {
    this.calls.push({ texts, priorSummary: options.priorSummary });
    const outcome = this.behave(this.calls.length, texts);
    if (outcome === 'hang') return new Promise<string>(() => {});
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }
}

const BUDGET: TokenBudget = { windowTokens: 2_000, maxOutputTokens: 300, reservedTokens: 200 };

function summaryCompactor(summarizer: Summarizer, extra: Partial<CompactorOptions> = {}) {
  return createCompactor({ strategy: 'summary', estimator: createTokenEstimator(), summarizer, logger: silentLogger(), summaryTimeoutMs: 2_000, ...extra });
}

/** A support thread: the order number at turn 2, then chatter, then the newest question. */
function supportThread(turns: number): HistoryBuilder {
  const builder = new HistoryBuilder().user('배송이 너무 늦어요. 확인 부탁드립니다.').assistant('불편을 드려 죄송합니다. 주문번호를 알려주시겠어요?');
  builder.user('주문번호는 2024-0815-7731입니다.').assistant('확인했습니다. 물류센터에 문의 후 연락드리겠습니다.');
  for (let turn = 3; turn < turns; turn += 1) {
    builder.user(`추가 문의 ${turn}번: 배송 조회 페이지에서 상태가 바뀌지 않고 계속 준비중으로만 나옵니다.`);
    builder.assistant(`답변 ${turn}번: 물류센터 확인 결과를 기다리는 중이며, 조회 화면은 하루에 한 번 갱신됩니다.`);
  }
  return builder.user('제 주문번호가 뭐였죠?');
}

function sentText(result: CompactionResult): string {
  return result.messages.map((message) => message.content).join('\n');
}

describe('summary compactor', () => {
  it('summarises before the history would overflow, keeps recent turns verbatim and carries the summary as a system message', async () => {
    const summarizer = new RecordingSummarizer();
    const state = supportThread(20).state();
    const result = await summaryCompactor(summarizer).fit(state, BUDGET);
    expect(result.kind).toBe('summary');
    expect(result.notice).toBe(SUMMARY_NOTICE);
    expect(result.messages[0]?.role).toBe('system');
    expect(result.messages[0]?.content.startsWith(SUMMARY_MESSAGE_PREFIX)).toBe(true);
    expect(result.messages.at(-1)).toEqual({ role: 'user', content: '제 주문번호가 뭐였죠?' });
    expect(result.messages.slice(1).every((message) => message.role !== 'system')).toBe(true);
    // The order number was folded away, yet it is in the prompt: the key facts carry it.
    expect(sentText(result)).toContain('2024-0815-7731');
    expect(parseKeyFacts(result.state.summary?.text ?? '')).toContainEqual({ label: '주문번호', value: '2024-0815-7731' });
    // Folded texts name their speakers, oldest first.
    expect(summarizer.calls).toHaveLength(1);
    expect(summarizer.calls[0]?.texts[0]).toBe('User: 배송이 너무 늦어요. 확인 부탁드립니다.');
    const covered = result.state.messages.findIndex((message) => message.id === result.state.summary?.coversUpToMessageId);
    const firstKept = result.state.messages.findIndex((message) => message.id === result.sent?.messageIds[0]);
    expect(firstKept).toBe(covered + 1);
    expect(result.state.messages[firstKept]?.role).toBe('user');
    expect(result.state.compaction).toMatchObject({ lastKind: 'summary', summaryRetryPending: false });
    // Nothing is pruned from a short thread: the store keeps everything.
    expect(result.state.messages).toHaveLength(state.messages.length);
  });

  it('does not summarise while the history is under the trigger ratio', async () => {
    const summarizer = new RecordingSummarizer();
    const result = await summaryCompactor(summarizer).fit(supportThread(3).state(), BUDGET);
    expect(result.kind).toBe('none');
    expect(summarizer.calls).toHaveLength(0);
    expect(result.state.summary).toBeUndefined();
  });

  it('rolls the summary forward: each new summary gets the previous one, and the key facts survive every round', async () => {
    // A summariser that forgets everything it is given: only the explicit facts block can keep the order number.
    const summarizer = new RecordingSummarizer((call) => `- 라운드 ${call}`);
    const compactor = summaryCompactor(summarizer);
    const builder = supportThread(20);
    let state: ThreadState = builder.state();
    for (let round = 0; round < 6; round += 1) {
      const result = await compactor.fit(state, BUDGET);
      expect(sentText(result)).toContain('2024-0815-7731');
      state = result.state;
      for (let turn = 0; turn < 12; turn += 1) {
        builder.assistant(`라운드 ${round}의 답변 ${turn}: 아직 물류센터 답변을 기다리고 있습니다. 조금만 더 기다려 주세요.`);
        builder.user(`라운드 ${round}의 질문 ${turn}: 언제쯤 받을 수 있을까요? 정말 급합니다.`);
      }
      state = { ...state, messages: [...state.messages, ...builder.messages.slice(state.messages.length)] };
    }
    expect(summarizer.calls.length).toBeGreaterThanOrEqual(5);
    for (let call = 1; call < summarizer.calls.length; call += 1) {
      expect(summarizer.calls[call]?.priorSummary).toContain(`라운드 ${call}`);
    }
  });

  it('falls back to sliding when the summariser fails, loses nothing, and summarises on a later turn', async () => {
    const metrics = new Metrics();
    let failing = true;
    const summarizer = new RecordingSummarizer((call, texts) => (failing ? new Error('summarizer down') : `- 요약: ${texts.length}개`));
    const compactor = summaryCompactor(summarizer, { metrics });
    const state = supportThread(20).state();

    const failed = await compactor.fit(state, BUDGET);
    expect(failed.kind).toBe('sliding');
    expect(failed.notice).toBe(SLIDING_NOTICE);
    expect(failed.state.summary).toBeUndefined();
    expect(failed.state.compaction?.summaryRetryPending).toBe(true);
    expect(failed.state.messages.map((message) => message.id)).toEqual(state.messages.map((message) => message.id));
    expect(failed.messages.at(-1)?.content).toBe('제 주문번호가 뭐였죠?');
    expect((await metrics.compactions.get()).values).toContainEqual(expect.objectContaining({ labels: { kind: 'summary_failed' }, value: 1 }));

    failing = false;
    const retried = await compactor.fit(failed.state, BUDGET);
    expect(retried.kind).toBe('summary');
    expect(retried.state.compaction?.summaryRetryPending).toBe(false);
    // The retry folds from the very first message: the failed turn dropped nothing for good.
    expect(summarizer.calls.at(-1)?.texts[0]).toBe('User: 배송이 너무 늦어요. 확인 부탁드립니다.');
    expect(sentText(retried)).toContain('2024-0815-7731');
  });

  it('stops waiting for a summariser that hangs after the timeout and slides instead', async () => {
    const summarizer = new RecordingSummarizer(() => 'hang');
    const result = await summaryCompactor(summarizer, { summaryTimeoutMs: 50 }).fit(supportThread(20).state(), BUDGET);
    expect(result.kind).toBe('sliding');
    expect(result.state.compaction?.summaryRetryPending).toBe(true);
  });

  it('passes an abort of the turn through instead of falling back', async () => {
    const summarizer = new RecordingSummarizer(() => 'hang');
    const controller = new AbortController();
    const fitting = summaryCompactor(summarizer).fit(supportThread(20).state(), BUDGET, controller.signal);
    setTimeout(() => controller.abort(new Error('turn over')), 20);
    await expect(fitting).rejects.toThrow('turn over');
  });

  it('treats an empty summary as a failure', async () => {
    const result = await summaryCompactor(new RecordingSummarizer(() => '   ')).fit(supportThread(20).state(), BUDGET);
    expect(result.kind).toBe('sliding');
    expect(result.state.summary).toBeUndefined();
  });

  it('bounds a long summary to its share of the budget', async () => {
    const summarizer = new RecordingSummarizer(() => '요약 문장입니다. '.repeat(2_000));
    const result = await summaryCompactor(summarizer).fit(supportThread(20).state(), BUDGET);
    const historyBudget = BUDGET.windowTokens - BUDGET.maxOutputTokens - BUDGET.reservedTokens;
    expect(result.state.summary?.tokens).toBeLessThanOrEqual(Math.ceil(historyBudget * 0.8 * 0.3) + 8);
    expect(result.state.summary?.text).toContain('2024-0815-7731');
  });

  it('prunes messages already folded into the summary once the thread is very long, never unfolded ones', async () => {
    const summarizer = new RecordingSummarizer();
    const state = supportThread(40).state();
    const result = await summaryCompactor(summarizer, { pruneAboveMessages: 30 }).fit(state, BUDGET);
    expect(result.kind).toBe('summary');
    expect(result.state.messages.length).toBeLessThan(state.messages.length);
    expect(result.state.messages.length).toBeGreaterThanOrEqual(30);
    const sentIds = new Set(result.sent?.messageIds);
    expect(result.state.messages.filter((message) => sentIds.has(message.id))).toHaveLength(sentIds.size);
    // The next fit starts after the (possibly pruned) anchor and sends the same turns.
    const again = await summaryCompactor(summarizer, { pruneAboveMessages: 30 }).fit(result.state, BUDGET);
    expect(again.messages.at(-1)?.content).toBe('제 주문번호가 뭐였죠?');
  });

  it('keeps A + B ≤ X and the newest user message over random histories, with the offline summariser', async () => {
    const compactor = createCompactor({ strategy: 'summary', estimator: createTokenEstimator(), summarizer: createExtractiveSummarizer(), logger: silentLogger() });
    let summarized = 0;
    for (let seed = 1; seed <= 150; seed += 1) {
      const random = seededRandom(seed);
      const state = randomThread(random, 2 + Math.floor(random() * 60), 25).state();
      const budget = { windowTokens: 1_500 + Math.floor(random() * 3_000), maxOutputTokens: 256, reservedTokens: Math.floor(random() * 300) };
      const result = await compactor.fit(state, budget);
      if (result.kind === 'summary') summarized += 1;
      const byId = new Map(result.state.messages.map((message) => [message.id, message]));
      let prompt = budget.reservedTokens + (result.sent?.summaryIncluded ? (result.state.summary?.tokens ?? 0) : 0);
      for (const id of result.sent?.messageIds ?? []) prompt += byId.get(id)?.tokens?.count ?? Number.NaN;
      expect(prompt + budget.maxOutputTokens, `seed ${seed}`).toBeLessThanOrEqual(budget.windowTokens);
      expect(result.messages.at(-1)?.content, `seed ${seed}`).toBe(state.messages.at(-1)?.content);
    }
    expect(summarized).toBeGreaterThan(30);
  });
});
