import { answerPlainText, type Answer } from './answer.js';
import type { IncomingMessage } from './types.js';
import type { StoredMessage, ThreadState } from '../history/thread-state.js';

/** Blank even when it holds only zero-width characters (what an empty mention often leaves behind). */
export function isBlank(text: string): boolean {
  return text.replace(/[\s\u200B-\u200D\u2060\uFEFF]/g, '') === '';
}

export function withAssistantMessage(state: ThreadState, userMessageId: string, answer: Answer, now: number): ThreadState {
  const messages = state.messages.map((stored) =>
    stored.id === userMessageId && stored.role === 'user' ? { ...stored, status: 'answered' as const } : stored,
  );
  const assistant: StoredMessage = {
    id: `answer-${answer.id}`,
    role: 'assistant',
    content: answerPlainText(answer),
    createdAt: now,
    answerId: answer.id,
  };
  return {
    ...state,
    messages: [...messages, assistant],
    updatedAt: now,
    usage: {
      inputTokens: state.usage.inputTokens + (answer.usage?.inputTokens ?? 0),
      outputTokens: state.usage.outputTokens + (answer.usage?.outputTokens ?? 0),
      turns: state.usage.turns + 1,
    },
  };
}

/** The state after a turn that produced no answer: the user's message stays, marked failed. */
export function withUnansweredMessage(state: ThreadState, userMessageId: string, now: number): ThreadState {
  const messages = state.messages.map((stored) =>
    stored.id === userMessageId && stored.role === 'user' ? { ...stored, status: 'failed' as const } : stored,
  );
  return { ...state, messages, inFlight: undefined, updatedAt: now };
}

/** What a turn records about itself while it runs, so another process can finish it after a crash. */
export function inFlightRecord(message: IncomingMessage, processId: string, now: number, replyHandle: Record<string, string> | undefined): NonNullable<ThreadState['inFlight']> {
  return {
    messageId: message.messageId,
    eventId: message.eventId,
    platform: message.platform,
    scope: message.scope,
    authorId: message.author.id,
    ...(message.author.name ? { authorName: message.author.name } : {}),
    receivedAt: message.receivedAt,
    startedAt: now,
    processId,
    ...(replyHandle ? { replyHandle } : {}),
  };
}

/** The message cut to `limit` characters, never leaving half of a surrogate pair (an emoji) at the cut. */
export function boundMessage(text: string, limit: number): { text: string; truncated: boolean } {
  if (text.length <= limit) return { text, truncated: false };
  return { text: text.slice(0, limit).replace(/[\uD800-\uDBFF]$/, ''), truncated: true };
}
