import type { ChatMessage, TokenCounter } from '../providers/types.js';

/**
 * A local, conservative token estimator for Korean, English and mixed text.
 *
 * It sums a weight per character and rounds up, so it never needs a vocabulary and runs in O(length).
 * The weights are chosen to stay at or above two references:
 *
 * 1. The counts the CLOVA Studio docs quote for the HyperCLOVA X chat tokenizer:
 *    "안녕하세요, 이름이 무엇입니까?" = 10, "저는 HyperCLOVA X 입니다." = 9 (v1 tokenizer, content only),
 *    "내일 서울 날씨 어때?" = 12 (v3 tokenizer), and the operators' rule of thumb "1 token ≈ 1–2 Korean
 *    characters".
 * 2. A deliberately pessimistic byte rule (each Hangul syllable one token; anything else at most four
 *    UTF-8 bytes per token), which is what our fake CLOVA server enforces and a fair worst case for a
 *    byte-level BPE vocabulary.
 *
 * Weights: Hangul syllable or jamo 1 (the "1 character" end of the rule of thumb); ASCII letter 0.3;
 * digit 1 (many tokenizers split numbers into single digits); ASCII punctuation 1; space 0.25 and
 * newline or tab 1; CJK ideograph 2; other characters in the Basic Multilingual Plane 1; characters
 * beyond it (emoji) 3. A run of ASCII characters costs at least one token per four of its bytes (so a
 * space between two Korean words, or "ID" in "ID를", costs a whole token). Each message adds
 * `MESSAGE_OVERHEAD_TOKENS` for its role marker and end-of-turn token, plus one spare token for the
 * reply primer of the request.
 *
 * Measured error (see test/unit/compaction/token-estimator.test.ts): on the documented HyperCLOVA X
 * examples it over-estimates by 1.2–1.7× (17 for 10 on the Korean question, 11 for 9 on the mixed
 * Korean/English answer, 16 for 12 on the v3 message including overhead); on 500 SmartStore FAQ
 * answers it is never below the pessimistic byte rule and 9% above it in total, about 0.97 tokens
 * per character of Korean support text. Over-estimating costs budget utilisation until the first API
 * usage report corrects the cached count of each message (see `correctFromUsage`), while
 * under-estimating would cost a failed request (`40003`), hence the bias.
 */
export const MESSAGE_OVERHEAD_TOKENS = 4;

const ASCII_LETTER_WEIGHT = 0.3;
const SPACE_WEIGHT = 0.25;

/** Options of the local estimator. */
export interface TokenEstimatorOptions {
  /** Tokens added per message for role and end-of-turn markers. Default `MESSAGE_OVERHEAD_TOKENS`. */
  messageOverheadTokens?: number;
}

/** A `TokenCounter` that estimates locally (source `estimate`); see the module comment for its error. */
export function createTokenEstimator(options: TokenEstimatorOptions = {}): TokenCounter {
  const overhead = options.messageOverheadTokens ?? MESSAGE_OVERHEAD_TOKENS;
  const countMessage = (message: ChatMessage): number => estimateMessageTokens(message, overhead);
  return {
    source: 'estimate',
    countText: estimateTextTokens,
    countMessages: async (messages: ChatMessage[]) => messages.map(countMessage),
  };
}

/** Estimated tokens of one chat message as sent: content, tool calls, tool call id and overhead. */
export function estimateMessageTokens(message: ChatMessage, overhead = MESSAGE_OVERHEAD_TOKENS): number {
  let tokens = overhead + estimateTextTokens(message.content);
  if (message.toolCalls && message.toolCalls.length > 0) tokens += estimateTextTokens(JSON.stringify(message.toolCalls));
  if (message.toolCallId) tokens += estimateTextTokens(message.toolCallId);
  return tokens;
}

/** Estimated tokens of a plain text, without any per-message overhead. */
export function estimateTextTokens(text: string): number {
  let total = 0;
  // The current run of ASCII characters: its summed weight and its length in bytes.
  let runWeight = 0;
  let runLength = 0;
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint <= 0x7f) {
      runWeight += asciiWeight(codePoint);
      runLength += 1;
      continue;
    }
    if (runLength > 0) {
      total += asciiRunTokens(runWeight, runLength);
      runWeight = 0;
      runLength = 0;
    }
    total += nonAsciiWeight(codePoint);
  }
  if (runLength > 0) total += asciiRunTokens(runWeight, runLength);
  return total === 0 ? 0 : Math.ceil(total - 1e-9);
}

// A byte-level vocabulary needs at least one token per four bytes of an ASCII run, and a run wedged
// between Hangul (a space between two words, "ID" in "ID를") cannot merge into its neighbours.
function asciiRunTokens(weight: number, length: number): number {
  return Math.max(weight, Math.ceil(length / 4));
}

function asciiWeight(codePoint: number): number {
  if ((codePoint >= 0x41 && codePoint <= 0x5a) || (codePoint >= 0x61 && codePoint <= 0x7a)) return ASCII_LETTER_WEIGHT;
  if (codePoint === 0x20) return SPACE_WEIGHT;
  // Digits, punctuation, newlines and tabs: one token each at worst.
  return 1;
}

function nonAsciiWeight(codePoint: number): number {
  const hangul =
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) || (codePoint >= 0x1100 && codePoint <= 0x11ff) || (codePoint >= 0x3130 && codePoint <= 0x318f);
  if (hangul) return 1;
  const ideograph =
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) || (codePoint >= 0x3400 && codePoint <= 0x4dbf) || (codePoint >= 0xf900 && codePoint <= 0xfaff);
  if (ideograph) return 2;
  // Emoji and other supplementary characters often fall back to one token per UTF-8 byte.
  if (codePoint >= 0x1f000) return 3;
  if (codePoint > 0xffff) return 2;
  return 1;
}
