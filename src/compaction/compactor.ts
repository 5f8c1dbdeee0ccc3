import type { ChatMessage, Summarizer, TokenCounter } from '../providers/types.js';
import type { StoredMessage, ThreadState, ThreadSummary } from '../history/thread-state.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { groupIntoTurns, messagesOfTurns, toChatMessage, turnsNewestFirst, type ConversationTurn } from './conversation-turns.js';
import { MessageTooLongError, SummaryFailedError } from './errors.js';
import { createExtractiveSummarizer } from './extractive-summarizer.js';
import { composeSummary, foldTexts, summarizeWithDeadline, summaryMessage, summaryNarrative, turnsToFold } from './rolling-summary.js';
import { droppedPrefixLength } from './sliding-window.js';
import { cachedTokens, correctedFromUsage, withTokenCounts } from './token-counts.js';
import { MESSAGE_OVERHEAD_TOKENS } from './token-estimator.js';
import type { CompactionKind, CompactionResult, HistoryCompactor, PromptTokenReport, TokenBudget } from './types.js';

/** The CLOVA sliding-window API (or anything with its contract): drops the oldest messages after the system messages. */
export type RemoteSlidingWindow = (messages: ChatMessage[], maxTokens: number, signal?: AbortSignal) => Promise<ChatMessage[]>;

/** Options of `createCompactor`. */
export interface CompactorOptions {
  /** `sliding` drops the oldest turns; `summary` folds them into a rolling summary (sliding when that fails). */
  strategy: 'sliding' | 'summary';
  /** The local estimator; counts every message nothing better has counted. */
  estimator: TokenCounter;
  /** Exact counts for new messages (e.g. the CLOVA chat tokenizer); the estimator stands in when it fails. */
  tokenizer?: TokenCounter;
  /** Special tokens per message the tokenizer leaves out (role marker, end of turn), added to its counts. Default 4. */
  tokenizerOverheadTokens?: number;
  /** The CLOVA sliding API, asked only when the local estimate says the history overflows (its exact counts may keep more). */
  remoteSliding?: RemoteSlidingWindow;
  /** The window the remote sliding API enforces (the model's window); default: the budget's `windowTokens`. */
  remoteSlidingWindowTokens?: number;
  /** Largest `maxTokens` the remote sliding API accepts; a budget needing more slides locally. Default 4,096 (CLOVA's documented limit). */
  remoteSlidingMaxTokens?: number;
  /** Summariser for `summary`; default: the offline extractive summariser. */
  summarizer?: Summarizer;
  /** Longest a summary may take before the turn slides instead. Default 15,000 ms. */
  summaryTimeoutMs?: number;
  /** Summarise once the history passes this share of its budget (1 = only when it would overflow). Default 0.8. */
  triggerRatio?: number;
  /** Most recent turns kept verbatim when summarising. Default 4. */
  recentTurnsToKeep?: number;
  /** Messages already folded into the summary (or, with `sliding`, left behind by the window) are pruned once a thread stores more than this. Default 2,000. */
  pruneAboveMessages?: number;
  logger: Logger;
  /** Counts failed summaries (`summary_failed`); the engine counts the compactions it is handed by kind. */
  metrics?: Metrics;
  now?: () => number;
}

export const SLIDING_NOTICE = 'Earlier messages in this thread were left out to fit the model’s context; repeat anything important from them.';
export const SUMMARY_NOTICE = 'Earlier messages in this thread were summarised to fit the model’s context.';
export const SUMMARY_AND_SLIDING_NOTICE = 'Earlier messages in this thread were summarised, and some were left out, to fit the model’s context.';

/**
 * Creates the history compactor. It caches a token count on every message it looks at (estimate or
 * tokenizer first, corrected from reported usage later), keeps prompt + output reserve within the
 * window, never drops the newest user message, keeps tool calls with their results, and never
 * starts the kept history with an orphaned answer.
 *
 * @example createCompactor({ strategy: 'summary', estimator: createTokenEstimator(), summarizer, logger })
 */
export function createCompactor(options: CompactorOptions): HistoryCompactor {
  return new Compactor(options);
}

class Compactor implements HistoryCompactor {
  private readonly summarizer: Summarizer;
  private readonly summaryTimeoutMs: number;
  private readonly triggerRatio: number;
  private readonly recentTurnsToKeep: number;
  private readonly pruneAboveMessages: number;
  private readonly now: () => number;
  private readonly tokenizerOverheadTokens: number;

  constructor(private readonly options: CompactorOptions) {
    this.summarizer = options.summarizer ?? createExtractiveSummarizer();
    this.summaryTimeoutMs = options.summaryTimeoutMs ?? 15_000;
    this.triggerRatio = Math.min(1, Math.max(0.1, options.triggerRatio ?? 0.8));
    this.recentTurnsToKeep = Math.max(1, Math.floor(options.recentTurnsToKeep ?? 4));
    this.pruneAboveMessages = Math.max(10, options.pruneAboveMessages ?? 2_000);
    this.now = options.now ?? Date.now;
    this.tokenizerOverheadTokens = options.tokenizerOverheadTokens ?? MESSAGE_OVERHEAD_TOKENS;
  }

  async fit(state: ThreadState, budget: TokenBudget, signal?: AbortSignal): Promise<CompactionResult> {
    const historyBudget = budget.windowTokens - budget.maxOutputTokens - budget.reservedTokens;
    const liveStart = firstUnsummarized(state);
    const messages = await withTokenCounts(state.messages, liveStart, { ...this.options, tokenizerOverheadTokens: this.tokenizerOverheadTokens }, signal);
    let current: ThreadState = messages === state.messages ? state : { ...state, messages };
    let summarized = false;
    let candidates: { newestFirst: Iterable<ConversationTurn>; all: () => ConversationTurn[] } = {
      newestFirst: turnsNewestFirst(messages, liveStart, cachedTokens),
      all: () => groupIntoTurns(messages.slice(liveStart), cachedTokens),
    };

    if (this.options.strategy === 'summary') {
      let used = current.summary?.tokens ?? 0;
      for (let index = liveStart; index < messages.length; index += 1) used += cachedTokens(messages[index] as StoredMessage);
      if (used > this.triggerRatio * historyBudget) {
        const outcome = await this.summarize(current, groupIntoTurns(messages.slice(liveStart), cachedTokens), historyBudget, signal);
        current = outcome.state;
        summarized = outcome.summarized;
        const remaining = outcome.turns;
        candidates = { newestFirst: [...remaining].reverse(), all: () => remaining };
      }
    }

    const window = await this.slide(candidates, current.summary, historyBudget, budget, signal);
    const kind: CompactionKind = summarized ? 'summary' : window.dropped ? 'sliding' : 'none';
    const notice = summarized ? (window.dropped ? SUMMARY_AND_SLIDING_NOTICE : SUMMARY_NOTICE) : window.dropped ? SLIDING_NOTICE : undefined;
    current = { ...current, compaction: { ...current.compaction, lastKind: kind } };
    const keptMessages = messagesOfTurns(window.turns);
    if (this.options.strategy === 'sliding' && keptMessages[0]) {
      // The window only ever moves forward, so what it dropped is never sent again: a very long thread
      // sheds those messages rather than storing (and re-reading every turn) all of them forever.
      current = this.pruned(current, current.messages.indexOf(keptMessages[0]));
    }
    const result: CompactionResult = {
      messages: [...(window.summaryIncluded && current.summary ? [summaryMessage(current.summary.text)] : []), ...keptMessages.map(toChatMessage)],
      state: current,
      kind,
      ...(notice ? { notice } : {}),
      sent: {
        messageIds: keptMessages.map((message) => message.id),
        summaryIncluded: window.summaryIncluded,
        summaryFresh: summarized && window.summaryIncluded,
      },
    };
    return result;
  }

  correctFromUsage(state: ThreadState, fitted: CompactionResult, report: PromptTokenReport): ThreadState {
    if (!fitted.sent) return state;
    return correctedFromUsage(state, fitted.sent, report, this.options.logger);
  }

  /** Folds the oldest turns into the summary. The state changes only once the new summary is in hand. */
  private async summarize(
    state: ThreadState,
    turns: ConversationTurn[],
    historyBudget: number,
    signal?: AbortSignal,
  ): Promise<{ state: ThreadState; turns: ConversationTurn[]; summarized: boolean }> {
    const keepTokens = Math.floor(historyBudget * this.triggerRatio * 0.5);
    const summaryTokens = Math.floor(historyBudget * this.triggerRatio * 0.3);
    const fold = turnsToFold(turns, this.recentTurnsToKeep, keepTokens);
    if (fold <= 0) return { state, turns, summarized: false };
    const folded = messagesOfTurns(turns.slice(0, fold));
    const kept = turns.slice(fold);
    const log = this.options.logger.child({ threadKey: state.threadKey });
    try {
      const narrative = await summarizeWithDeadline(this.summarizer, foldTexts(folded), summaryNarrative(state.summary?.text), this.summaryTimeoutMs, signal);
      const text = composeSummary(state.summary?.text, folded, narrative, summaryTokens);
      const [tokens] = await this.options.estimator.countMessages([summaryMessage(text)]);
      const firstKept = kept[0]?.messages[0];
      const firstKeptIndex = firstKept ? state.messages.indexOf(firstKept) : state.messages.length;
      const coverage = state.messages[firstKeptIndex - 1];
      if (!coverage) return { state, turns, summarized: false };
      const summary: ThreadSummary = { text, coversUpToMessageId: coverage.id, tokens: tokens ?? 0, updatedAt: this.now() };
      log.info({ foldedMessages: folded.length, keptTurns: kept.length, summaryTokens: summary.tokens }, 'history summarised');
      const next: ThreadState = { ...state, summary, compaction: { ...state.compaction, summaryRetryPending: false } };
      return { state: this.pruned(next, firstKeptIndex), turns: kept, summarized: true };
    } catch (error) {
      if (!(error instanceof SummaryFailedError)) throw error;
      this.options.metrics?.compactions.inc({ kind: 'summary_failed' });
      log.warn({ code: error.code, reason: error.reason, cause: causeName(error.cause) }, 'summary failed; sliding this turn and retrying on a later one');
      return { state: { ...state, compaction: { ...state.compaction, summaryRetryPending: true } }, turns, summarized: false };
    }
  }

  /** Drops the oldest `coveredCount` messages at most (summarised or slid past) once the thread is long, so stored records stay bounded. */
  private pruned(state: ThreadState, coveredCount: number): ThreadState {
    const excess = state.messages.length - this.pruneAboveMessages;
    if (excess <= 0) return state;
    return { ...state, messages: state.messages.slice(Math.min(excess, coveredCount)) };
  }

  /**
   * The newest turns that fit, oldest first, and whether the summary goes along; throws when even the
   * newest turn cannot fit. Keeping the longest suffix that fits is the same as dropping the fewest
   * oldest turns, and walking from the newest end touches only what is kept.
   */
  private async slide(
    candidates: { newestFirst: Iterable<ConversationTurn>; all: () => ConversationTurn[] },
    summary: ThreadSummary | undefined,
    historyBudget: number,
    budget: TokenBudget,
    signal?: AbortSignal,
  ): Promise<{ turns: ConversationTurn[]; dropped: boolean; summaryIncluded: boolean }> {
    let summaryIncluded = summary !== undefined;
    let available = summary ? historyBudget - summary.tokens : historyBudget;
    const kept: ConversationTurn[] = [];
    let total = 0;
    let dropped = false;
    for (const turn of candidates.newestFirst) {
      if (kept.length === 0 && turn.tokens > available) {
        if (!summary || turn.tokens > historyBudget) throw new MessageTooLongError(turn.tokens, historyBudget);
        // The summary is worth less than the user's newest message: send the turns without it.
        summaryIncluded = false;
        available = historyBudget;
      }
      if (total + turn.tokens > available) {
        dropped = true;
        break;
      }
      kept.push(turn);
      total += turn.tokens;
    }
    kept.reverse();
    if (dropped && this.options.remoteSliding && summaryIncluded === (summary !== undefined)) {
      // The remote counts are exact where ours are conservative estimates: its choice stands, either way.
      const turns = candidates.all();
      const remoteFirst = await this.remoteFirstKept(turns, summaryIncluded ? summary : undefined, budget, signal);
      if (remoteFirst !== undefined) return { turns: turns.slice(remoteFirst), dropped: remoteFirst > 0, summaryIncluded };
    }
    return { turns: kept, dropped, summaryIncluded: summaryIncluded && summary !== undefined };
  }

  /** Asks the remote sliding API which turns to keep; `undefined` when it cannot be used or breaks the contract. */
  private async remoteFirstKept(turns: ConversationTurn[], summary: ThreadSummary | undefined, budget: TokenBudget, signal?: AbortSignal): Promise<number | undefined> {
    const remote = this.options.remoteSliding;
    const stored = messagesOfTurns(turns);
    // The documented sliding API knows system, user and assistant messages only.
    if (!remote || stored.some((message) => message.role === 'tool' || (message.toolCalls?.length ?? 0) > 0)) return undefined;
    const sent = [...(summary ? [summaryMessage(summary.text)] : []), ...stored.map(toChatMessage)];
    // The API reserves maxTokens inside its own window; ours also holds the answerer's additions and may be smaller.
    const remoteWindow = this.options.remoteSlidingWindowTokens ?? budget.windowTokens;
    const maxTokens = budget.maxOutputTokens + budget.reservedTokens + Math.max(0, remoteWindow - budget.windowTokens);
    // A clamped maxTokens would let the API keep more history than our budget allows.
    if (maxTokens > (this.options.remoteSlidingMaxTokens ?? 4_096)) return undefined;
    try {
      const returned = await remote(sent, maxTokens, signal);
      const dropped = droppedPrefixLength(sent, returned);
      if (dropped === undefined) {
        this.options.logger.warn({ sent: sent.length, returned: returned.length }, 'remote sliding window broke its contract; sliding locally');
        return undefined;
      }
      // Round up to a whole turn: a half-dropped turn would leave an orphaned answer first.
      let offset = 0;
      for (let index = 0; index < turns.length - 1; index += 1) {
        if (offset >= dropped) return index;
        offset += turns[index]?.messages.length ?? 0;
      }
      return offset >= dropped ? turns.length - 1 : undefined;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.options.logger.warn({ err: causeName(error) }, 'remote sliding window failed; sliding locally');
      return undefined;
    }
  }
}

/** Index of the first message not yet folded into the summary (0 without one, or when its anchor was pruned). */
function firstUnsummarized(state: ThreadState): number {
  const anchor = state.summary?.coversUpToMessageId;
  if (anchor === undefined) return 0;
  const index = state.messages.findIndex((message: StoredMessage) => message.id === anchor);
  return index + 1;
}

function causeName(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  return error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
}
