import type { Answer } from './answer.js';
import type { ReplyEvent, IncomingMessage } from './types.js';
import type { ChatMessage } from '../providers/types.js';
import type { TokenBudget } from '../compaction/types.js';

export interface AnswerRequest {
  message: IncomingMessage;
  /** The compacted conversation, oldest first, ending with the newest user message. */
  history: ChatMessage[];
  /** The budget the history was fitted to; the answerer must keep its additions within `reservedTokens`. */
  budget: TokenBudget;
  signal: AbortSignal;
  /** This channel's persona (per-channel settings); replaces the answerer's default one, never its rules. */
  persona?: string;
  /** Progress for the reply sink: statuses and preview text. */
  progress: (event: Extract<ReplyEvent, { type: 'status-changed' | 'text-delta' }>) => Promise<void>;
}

/**
 * The answer seam: given a fitted conversation, produce one `Answer`. RAG, plain chat and the offline
 * extractive answerer implement it; the engine neither knows nor cares which one runs.
 */
export interface Answerer {
  /** Tokens this answerer adds to every request (system prompt, tool schemas, document budget). */
  readonly reservedTokens: number;
  answer(request: AnswerRequest): Promise<Answer>;
}
