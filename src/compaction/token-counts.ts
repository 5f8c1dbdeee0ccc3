import type { TokenCounter } from '../providers/types.js';
import type { StoredMessage, ThreadState } from '../history/thread-state.js';
import type { Logger } from '../observability/logger.js';
import { toChatMessage } from './conversation-turns.js';
import type { SentHistory } from './types.js';

/** Bounds of a believable correction: outside them the reported usage is not about this prompt (several calls summed, say). */
const MAX_CORRECTION_RATIO = 4;
/** Corrections never shrink a count below this share of its estimate, so one odd report cannot make counts wildly optimistic. */
const MIN_CORRECTION_RATIO = 0.4;

/** The cached token count of a stored message; callers count messages first with `withTokenCounts`. */
export function cachedTokens(message: StoredMessage): number {
  return message.tokens?.count ?? 0;
}

/**
 * Returns `messages` with a token count on every message (positions `from` onwards): counts already
 * cached are kept (messages never change), missing ones come from the tokenizer when one is
 * configured and answers (plus the per-message special tokens it leaves out), else from the local
 * estimator.
 */
export async function withTokenCounts(
  messages: readonly StoredMessage[],
  from: number,
  counters: { estimator: TokenCounter; tokenizer?: TokenCounter | undefined; tokenizerOverheadTokens: number; logger: Logger },
  signal?: AbortSignal,
): Promise<StoredMessage[]> {
  const missing: number[] = [];
  for (let index = from; index < messages.length; index += 1) {
    if (messages[index]?.tokens === undefined) missing.push(index);
  }
  if (missing.length === 0) return messages as StoredMessage[];
  const chatMessages = missing.map((index) => toChatMessage(messages[index] as StoredMessage));
  let counts: number[] | undefined;
  let source = counters.estimator.source;
  if (counters.tokenizer) {
    try {
      const counted = await counters.tokenizer.countMessages(chatMessages, signal);
      if (counted.length === chatMessages.length && counted.every((count) => Number.isInteger(count) && count >= 0)) {
        // Tokenizers count content only; the chat call adds role and end-of-turn tokens per message.
        counts = counted.map((count) => count + counters.tokenizerOverheadTokens);
        source = counters.tokenizer.source;
      } else {
        counters.logger.warn({ expected: chatMessages.length, received: counted.length }, 'tokenizer returned unusable counts; estimating locally');
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      counters.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'tokenizer failed; estimating locally');
    }
  }
  counts ??= await counters.estimator.countMessages(chatMessages, signal);
  const result = [...messages];
  missing.forEach((index, position) => {
    result[index] = { ...(messages[index] as StoredMessage), tokens: { count: counts[position] ?? 0, source } };
  });
  return result;
}


/**
 * Learns from the input tokens the API reported for a request. The part of the report that belongs to
 * the history (reported minus `reservedTokensUsed`), less the counts already confirmed by earlier
 * reports, is spread over the still-unconfirmed counts in proportion to their size; those become
 * `api` counts. Messages confirmed once keep their count, so each message is corrected on the first
 * request that carries it and the error of later reports lands only on new messages.
 *
 * When `reservedTokensUsed` over-states what the answer added (an unused document reserve), the
 * corrected counts come out low by that difference, which the same reserve covers on the next
 * request; a ratio floor keeps one odd report from shrinking counts below 40% of their estimate,
 * and reports more than 4× the estimate are ignored as not describing this prompt.
 */
export function correctedFromUsage(state: ThreadState, sent: SentHistory, reportedInputTokens: number, reservedTokensUsed: number, logger: Logger): ThreadState {
  const observedHistory = reportedInputTokens - reservedTokensUsed;
  const sentIds = new Set(sent.messageIds);
  let confirmed = 0;
  let unconfirmed = 0;
  for (const message of state.messages) {
    if (!sentIds.has(message.id) || message.tokens === undefined) continue;
    if (message.tokens.source === 'api') confirmed += message.tokens.count;
    else unconfirmed += message.tokens.count;
  }
  const summaryTokens = sent.summaryIncluded && state.summary ? state.summary.tokens : 0;
  if (sent.summaryFresh) unconfirmed += summaryTokens;
  else confirmed += summaryTokens;
  const residual = observedHistory - confirmed;
  if (unconfirmed <= 0 || residual <= 0) return state;
  const ratio = residual / unconfirmed;
  if (!Number.isFinite(ratio) || ratio > MAX_CORRECTION_RATIO) {
    logger.debug({ reportedInputTokens, reservedTokensUsed, unconfirmed, confirmed }, 'reported usage does not match this prompt; counts left as they are');
    return state;
  }
  const applied = Math.max(MIN_CORRECTION_RATIO, ratio);
  const scale = (count: number): number => Math.max(1, Math.ceil(count * applied));
  const messages = state.messages.map((message) =>
    sentIds.has(message.id) && message.tokens !== undefined && message.tokens.source !== 'api'
      ? { ...message, tokens: { count: scale(message.tokens.count), source: 'api' as const } }
      : message,
  );
  const summary = sent.summaryFresh && summaryTokens > 0 && state.summary ? { ...state.summary, tokens: scale(state.summary.tokens) } : state.summary;
  return { ...state, messages, ...(summary ? { summary } : {}) };
}
