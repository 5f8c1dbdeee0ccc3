import type { ChatMessage } from '../providers/types.js';

/** The newest user message of a conversation. */
export function latestUserText(history: readonly ChatMessage[]): string | undefined {
  for (let index = history.length - 1; index >= 0; index -= 1) if (history[index]!.role === 'user') return history[index]!.content;
  return undefined;
}

/** The user message before the newest one, for follow-ups like "and how do I undo that?". */
export function previousUserText(history: readonly ChatMessage[]): string | undefined {
  let seenLatest = false;
  for (let index = history.length - 1; index >= 0; index -= 1) {
    if (history[index]!.role !== 'user') continue;
    if (seenLatest) return history[index]!.content;
    seenLatest = true;
  }
  return undefined;
}
