/** Compaction: token budgets, the sliding window and the rolling summary. */
export type { CompactionKind, CompactionResult, HistoryCompactor, PromptTokenReport, SentHistory, TokenBudget } from './types.js';
export { createCompactor, SLIDING_NOTICE, SUMMARY_NOTICE, SUMMARY_AND_SLIDING_NOTICE, type CompactorOptions, type RemoteSlidingWindow } from './compactor.js';
export { createTokenEstimator, estimateMessageTokens, estimateTextTokens, MESSAGE_OVERHEAD_TOKENS, type TokenEstimatorOptions } from './token-estimator.js';
export { createExtractiveSummarizer, type ExtractiveSummarizerOptions } from './extractive-summarizer.js';
export { createChatSummarizer, SUMMARY_INSTRUCTIONS, type ChatSummarizerOptions } from './chat-summarizer.js';
export { extractKeyFacts, formatKeyFacts, mergeKeyFacts, parseKeyFacts, type KeyFact } from './key-facts.js';
export { MessageTooLongError, SummaryFailedError } from './errors.js';
