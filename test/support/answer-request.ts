import type { AnswerRequest } from '../../src/engine/answerer.js';
import type { ReplyEvent } from '../../src/engine/types.js';
import type { ChatMessage } from '../../src/providers/types.js';

export interface AnswerRequestOptions {
  /** The window the history was fitted to (default 32,000 tokens) and the output reserve within it (default 1,024). */
  windowTokens?: number;
  maxOutputTokens?: number;
  /** Where the answerer's progress (statuses, preview text) is recorded. */
  events?: ReplyEvent[];
}

/** What the engine hands an answerer for one console message: the last entry of `history` is the question. */
export function answerRequest(history: ChatMessage[], options: AnswerRequestOptions = {}): AnswerRequest {
  const { windowTokens = 32_000, maxOutputTokens = 1024, events } = options;
  return {
    message: { platform: 'console', threadKey: 'console:test', eventId: 'e', messageId: 'm', scope: { workspaceId: 'local', channelId: 'c' }, author: { id: 'u' }, text: history.at(-1)!.content, receivedAt: 0 },
    history,
    budget: { windowTokens, maxOutputTokens, reservedTokens: 0 },
    signal: new AbortController().signal,
    progress: async (event) => void events?.push(event),
  };
}
