import type { TokenCounter } from '../providers/types.js';
import type { StoredMessage, ThreadState } from '../history/thread-state.js';
import type { Logger } from '../observability/logger.js';
import { toChatMessage } from './conversation-turns.js';
import type { PromptTokenReport, SentHistory } from './types.js';

/**
 * The believable range of "model count ÷ our count" for one clean report. The estimator is built to
 * over-estimate: on the documented HyperCLOVA X examples the model counts 0.59–0.85 of it. A report
 * implying less than half is not a full count of this prompt (a server that reports only the part it
 * did not have cached, say), and trusting it would shrink counts until the next request overflows
 * (`40003`); one implying more than twice is as unlikely and is followed only that far, so one odd
 * figure can neither shrink a count below half nor more than double it.
 */
const MIN_CORRECTION_RATIO = 0.5;
const MAX_CORRECTION_RATIO = 2;

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
 * `state` with the counts earlier usage reports confirmed (`api`) forgotten, for the messages `include`
 * picks, so the next fit counts them afresh. For when those counts were shown wrong: a report that
 * contradicts them, or a request built from them that the model refused as too long.
 */
export function withoutConfirmedCounts(state: ThreadState, include: (message: StoredMessage) => boolean = () => true): ThreadState {
  const messages = state.messages.map((message) => {
    if (message.tokens?.source !== 'api' || !include(message)) return message;
    const { tokens: _forgotten, ...uncounted } = message;
    return uncounted;
  });
  return { ...state, messages };
}

/**
 * Learns from one call's reported prompt size (see `PromptTokenReport`). Counts confirmed by earlier
 * reports (`api`) are taken as right; everything else in the prompt — the still-unconfirmed history
 * counts and the answerer's additions, all our own estimates — is assumed off by one common factor,
 * which the report fixes: (reported − confirmed) ÷ (added + unconfirmed). The unconfirmed counts are
 * scaled by it and become `api` counts. A small error in the confirmed counts lands on the new counts
 * in proportion to their share of the estimate, so it shrinks with every later report instead of
 * staying for the life of the thread.
 *
 * A factor outside the believable range means the report and the confirmed counts cannot both be
 * right: those counts are forgotten so the next fit counts them afresh (estimates err on the large
 * side) and the next clean report corrects them all at once. This is how counts confirmed under an
 * odd figure, another model or an older release get corrected again. With nothing confirmed the
 * factor is clamped instead, only ever toward larger counts.
 */
export function correctedFromUsage(state: ThreadState, sent: SentHistory, report: PromptTokenReport, logger: Logger): ThreadState {
  const { reportedTokens, addedTokens } = report;
  if (!Number.isFinite(reportedTokens) || reportedTokens <= 0 || !Number.isFinite(addedTokens) || addedTokens < 0) return state;
  const sentIds = new Set(sent.messageIds);
  let confirmedMessages = 0;
  let unconfirmed = 0;
  for (const message of state.messages) {
    if (!sentIds.has(message.id) || message.tokens === undefined) continue;
    if (message.tokens.source === 'api') confirmedMessages += message.tokens.count;
    else unconfirmed += message.tokens.count;
  }
  const summaryTokens = sent.summaryIncluded && state.summary ? state.summary.tokens : 0;
  const confirmed = confirmedMessages + (sent.summaryFresh ? 0 : summaryTokens);
  if (sent.summaryFresh) unconfirmed += summaryTokens;
  const estimated = addedTokens + unconfirmed;
  if (estimated <= 0) return state;
  const ratio = (reportedTokens - confirmed) / estimated;
  const details = { reportedTokens, addedTokens, confirmed, unconfirmed, ratio: Math.round(ratio * 1000) / 1000 };

  let applied = ratio;
  if (ratio < MIN_CORRECTION_RATIO || ratio > MAX_CORRECTION_RATIO) {
    if (confirmedMessages > 0) {
      logger.info(details, 'reported prompt size contradicts the confirmed token counts; counting the history afresh');
      return withoutConfirmedCounts(state, (message) => sentIds.has(message.id));
    }
    if (ratio < MIN_CORRECTION_RATIO) {
      logger.debug(details, 'reported prompt size is too small to be this prompt; counts left as they are');
      return state;
    }
    applied = MAX_CORRECTION_RATIO;
  }
  if (unconfirmed <= 0) return state;
  const scale = (count: number): number => Math.max(1, Math.round(count * applied));
  const messages = state.messages.map((message) =>
    sentIds.has(message.id) && message.tokens !== undefined && message.tokens.source !== 'api'
      ? { ...message, tokens: { count: scale(message.tokens.count), source: 'api' as const } }
      : message,
  );
  const summary = sent.summaryFresh && summaryTokens > 0 && state.summary ? { ...state.summary, tokens: scale(state.summary.tokens) } : state.summary;
  return { ...state, messages, ...(summary ? { summary } : {}) };
}
