import type { ModelInfo } from '../model-catalogue.js';

/** RAG Reasoning API limits from the CLOVA Studio guide: 128k input, 1,024 ≤ maxTokens < 4,096. */
const RAG_REASONING = { contextWindow: 128_000, minOutputTokens: 1_024, maxOutputTokens: 4_095 };

/** What the answering model allows, for the budget A + B ≤ X and for choosing how compaction counts. */
export interface ClovaAnsweringLimits {
  /** X when no lower budget is configured: under the per-minute token allowance too, since a larger request could never be served. */
  defaultWindowTokens: number;
  /** The hard ceiling of X. */
  maxWindowTokens: number;
  /** B, clamped to what the answering API accepts. */
  maxOutputTokens: number;
  /** The chat tokenizer counts what is sent (false for RAG Reasoning, which has no tokenizer of its own). */
  exactCountsAvailable: boolean;
  /** CLOVA's sliding-window API serves this model (chat models of the v1 API). */
  remoteSlidingSupported: boolean;
}

/**
 * The limits of whichever CLOVA API writes the answers: RAG Reasoning, or the chat model (whose
 * input cap can be below its window minus the output, e.g. HCX-DASH-001 takes 3,500 of 4,096).
 */
export function clovaAnsweringLimits(chatModel: ModelInfo, viaRagReasoning: boolean, requestedOutputTokens: number): ClovaAnsweringLimits {
  if (viaRagReasoning) {
    const maxOutputTokens = Math.min(RAG_REASONING.maxOutputTokens, Math.max(RAG_REASONING.minOutputTokens, requestedOutputTokens));
    return {
      defaultWindowTokens: Math.min(RAG_REASONING.contextWindow, chatModel.tokensPerMinute ?? RAG_REASONING.contextWindow),
      maxWindowTokens: RAG_REASONING.contextWindow,
      maxOutputTokens,
      exactCountsAvailable: false,
      remoteSlidingSupported: false,
    };
  }
  const maxOutputTokens = Math.min(requestedOutputTokens, chatModel.maxOutputTokens);
  const window = Math.min(chatModel.contextWindow, chatModel.maxInputTokens + maxOutputTokens);
  return {
    defaultWindowTokens: Math.min(window, chatModel.tokensPerMinute ?? window),
    maxWindowTokens: window,
    maxOutputTokens,
    exactCountsAvailable: true,
    remoteSlidingSupported: chatModel.apiVersion === 'v1',
  };
}
