import { extractKeyFacts, formatKeyFacts } from '../compaction/key-facts.js';
import type { ThreadState } from '../history/thread-state.js';

/**
 * Phrases that ask for a person rather than the bot (English and Korean). Deliberately specific:
 * "person" alone appears in ordinary questions ("how many persons per account?").
 */
const HANDOFF_REQUEST =
  /\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(real\s+)?(person|human|agent|someone)\b|\b(human|live)\s+(agent|support)\b|\bescalate\b|상담원|사람(과|이랑|하고)\s*(대화|연결|이야기|얘기|상담)|담당자\s*(연결|호출)|직원\s*연결/i;

/** Whether a message asks to be handed to a person. */
export function asksForPerson(text: string): boolean {
  return HANDOFF_REQUEST.test(text);
}

const RECENT_USER_MESSAGES = 3;
const MAX_QUOTE_CHARACTERS = 300;

/**
 * A short case summary for the people a thread is handed to: the rolling summary when there is one,
 * the key facts found in the thread (ids, order numbers, error codes, what was tried), and the
 * user's latest messages.
 */
export function caseSummary(state: ThreadState): string {
  const lines: string[] = [];
  if (state.summary) lines.push(state.summary.text.trim());
  else {
    const facts = formatKeyFacts(extractKeyFacts(state.messages.map((message) => ({ role: message.role, content: message.content }))));
    if (facts) lines.push(facts);
  }
  const recent = state.messages.filter((message) => message.role === 'user').slice(-RECENT_USER_MESSAGES);
  if (recent.length > 0) {
    lines.push('Latest from the user:');
    for (const message of recent) lines.push(`- ${clip(message.content.replace(/\s+/g, ' ').trim())}`);
  }
  return lines.join('\n');
}

function clip(text: string): string {
  // Cut before an emoji, not through it: half a surrogate pair corrupts the handoff message.
  return text.length > MAX_QUOTE_CHARACTERS ? `${text.slice(0, MAX_QUOTE_CHARACTERS - 1).replace(/[\uD800-\uDBFF]$/, '')}…` : text;
}
