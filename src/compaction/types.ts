import type { ChatMessage } from '../providers/types.js';
import type { ThreadState } from '../history/thread-state.js';

/** What one request may spend: prompt A + output reserve B ≤ window X. */
export interface TokenBudget {
  /** X: the model's context window, or a lower configured history budget. */
  windowTokens: number;
  /** B: the output reserve sent as `maxTokens`. */
  maxOutputTokens: number;
  /** Tokens the answer step adds on top of the history: system prompt, tool schemas, retrieved documents. */
  reservedTokens: number;
}

export type CompactionKind = 'none' | 'sliding' | 'summary';

export interface CompactionResult {
  /** The conversation to send, oldest first, without the answerer's own system prompt. */
  messages: ChatMessage[];
  /** The thread state to persist with the answer (a new summary, refreshed token counts). */
  state: ThreadState;
  kind: CompactionKind;
  /** One short line for the reply when history was dropped or summarised. */
  notice?: string;
  /** What went into `messages`, so `correctFromUsage` can attribute the reported usage to stored messages. */
  sent?: SentHistory;
}

/** The stored parts of a fitted conversation. */
export interface SentHistory {
  /** Ids of the stored messages in `messages`, oldest first. */
  messageIds: string[];
  /** Whether the thread summary leads `messages` as a system message. */
  summaryIncluded: boolean;
  /** Whether that summary was written by this fit (its token count is still an estimate). */
  summaryFresh: boolean;
}

/**
 * One model call's reported prompt size beside our own count of what that call carried besides the
 * fitted history, so the history's share of the report can be told apart. It must describe one call
 * whose prompt was exactly the fitted history plus those additions; usage summed over several calls,
 * or a call carrying text we did not count, cannot correct anything.
 *
 * @example { reportedTokens: completion.usage.inputTokens, addedTokens: systemMessageTokens + toolSchemaTokens }
 */
export interface PromptTokenReport {
  /** Prompt tokens the API reported for that one call (`promptTokens`, `inputLength`, `prompt_tokens`). */
  reportedTokens: number;
  /** Our count, in the units of the history counts, of that call's system prompt, persona, tool schemas and documents. */
  addedTokens: number;
}

/**
 * Fits a thread's history to a budget. Implementations never return a conversation that overflows
 * and never drop the newest user message; when even that cannot fit they throw a `BotError` whose
 * `userMessage` says what to shorten.
 */
export interface HistoryCompactor {
  fit(state: ThreadState, budget: TokenBudget, signal?: AbortSignal): Promise<CompactionResult>;
  /**
   * Learns from the prompt size the API reported for one call built from `fitted` plus
   * `report.addedTokens`, so the cached counts of the history get closer to the model's own.
   */
  correctFromUsage(state: ThreadState, fitted: CompactionResult, report: PromptTokenReport): ThreadState;
}
