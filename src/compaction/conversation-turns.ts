import type { ChatMessage } from '../providers/types.js';
import type { StoredMessage } from '../history/thread-state.js';

/**
 * One turn of a conversation: a user message and everything that answers it (assistant messages,
 * tool calls and their results), up to the next user message. A thread that begins with the bot
 * speaking has a first turn without a user message.
 *
 * Turns are the unit the sliding window drops. CLOVA's sliding API drops single messages; dropping a
 * question while keeping its answer would leave an orphaned assistant message at the front, so we
 * drop the answer with its question.
 */
export interface ConversationTurn {
  /** The messages to send, oldest first, with incomplete tool exchanges removed. */
  messages: StoredMessage[];
  /** Sum of the cached token counts of `messages`. */
  tokens: number;
}

/**
 * Groups `messages` (oldest first) into turns and removes what an API would reject: tool results
 * whose call is not in the same turn, and tool calls whose results are missing (the call is stripped;
 * an assistant message left with no text goes too).
 */
export function groupIntoTurns(messages: readonly StoredMessage[], tokensOf: (message: StoredMessage) => number): ConversationTurn[] {
  const turns: ConversationTurn[] = [];
  let current: StoredMessage[] = [];
  for (const message of messages) {
    if (message.role === 'user' && current.length > 0) {
      turns.push(finishTurn(current, tokensOf));
      current = [];
    }
    current.push(message);
  }
  if (current.length > 0) turns.push(finishTurn(current, tokensOf));
  return turns.filter((turn) => turn.messages.length > 0);
}

/**
 * The turns of `messages[from…]`, newest first, built one at a time (the same turns as
 * `groupIntoTurns`, in reverse). A sliding window stops after the first turn that does not fit, so
 * it pays only for the turns it keeps, however long the thread.
 */
export function* turnsNewestFirst(messages: readonly StoredMessage[], from: number, tokensOf: (message: StoredMessage) => number): Generator<ConversationTurn> {
  let end = messages.length;
  while (end > from) {
    let start = end - 1;
    while (start > from && messages[start]?.role !== 'user') start -= 1;
    const turn = finishTurn(messages.slice(start, end), tokensOf);
    if (turn.messages.length > 0) yield turn;
    end = start;
  }
}

function finishTurn(messages: StoredMessage[], tokensOf: (message: StoredMessage) => number): ConversationTurn {
  const kept = completeToolExchanges(messages);
  let tokens = 0;
  for (const message of kept) tokens += tokensOf(message);
  return { messages: kept, tokens };
}

/** Keeps an assistant tool call only together with a result for each of its call ids, and results only with their call. */
function completeToolExchanges(messages: StoredMessage[]): StoredMessage[] {
  const hasTools = messages.some((message) => message.role === 'tool' || (message.toolCalls?.length ?? 0) > 0);
  if (!hasTools) return messages;
  const kept: StoredMessage[] = [];
  const claimedResults = new Set<number>();
  messages.forEach((message, index) => {
    if (message.role === 'tool') {
      if (claimedResults.has(index)) kept.push(message);
      return;
    }
    const calls = message.toolCalls ?? [];
    if (message.role !== 'assistant' || calls.length === 0) {
      kept.push(message);
      return;
    }
    const resultIndexes = new Map<string, number>();
    for (let later = index + 1; later < messages.length; later += 1) {
      const candidate = messages[later];
      if (candidate?.role !== 'tool' || candidate.toolCallId === undefined) continue;
      if (calls.some((call) => call.id === candidate.toolCallId) && !resultIndexes.has(candidate.toolCallId) && !claimedResults.has(later)) {
        resultIndexes.set(candidate.toolCallId, later);
      }
    }
    if (resultIndexes.size === calls.length) {
      kept.push(message);
      for (const resultIndex of resultIndexes.values()) claimedResults.add(resultIndex);
      return;
    }
    // An interrupted tool exchange: keep what the assistant said, without the unanswered calls.
    if (message.content.trim() !== '') {
      const { toolCalls: _dropped, ...withoutCalls } = message;
      kept.push(withoutCalls);
    }
  });
  return kept;
}

/** The wire-neutral chat message for a stored one. */
export function toChatMessage(message: StoredMessage): ChatMessage {
  const chat: ChatMessage = { role: message.role, content: message.content };
  if (message.toolCalls && message.toolCalls.length > 0) chat.toolCalls = message.toolCalls;
  if (message.toolCallId !== undefined) chat.toolCallId = message.toolCallId;
  return chat;
}

/** The messages of `turns`, in order. */
export function messagesOfTurns(turns: readonly ConversationTurn[]): StoredMessage[] {
  return turns.flatMap((turn) => turn.messages);
}
