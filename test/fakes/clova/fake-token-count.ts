/**
 * The fake CLOVA server's one tokenizer. Deterministic and documented so tests can predict every
 * count the fake reports:
 *
 * - each Hangul syllable (U+AC00–U+D7A3) is one token;
 * - any other run of characters is cut into pieces of at most 4 UTF-8 bytes (never inside a code
 *   point), one token each;
 * - a chat message costs its content tokens plus `FAKE_MESSAGE_OVERHEAD_TOKENS` special tokens
 *   (role marker and end-of-turn), which the chat APIs report in `inputLength`/`promptTokens` but
 *   the chat tokenizer does not include in its per-message `count` — as with the real service.
 */

/** Special tokens every chat message adds to a prompt (role marker, end of turn). */
export const FAKE_MESSAGE_OVERHEAD_TOKENS = 3;

const encoder = new TextEncoder();

function isHangulSyllable(codePoint: number): boolean {
  return codePoint >= 0xac00 && codePoint <= 0xd7a3;
}

/** Splits `text` into the pieces the fake counts as tokens; the fake also streams replies in these pieces. */
export function fakeTokenPieces(text: string): string[] {
  const pieces: string[] = [];
  let current = '';
  let currentBytes = 0;
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (isHangulSyllable(codePoint)) {
      if (current) pieces.push(current);
      current = '';
      currentBytes = 0;
      pieces.push(character);
      continue;
    }
    const bytes = encoder.encode(character).length;
    if (currentBytes + bytes > 4) {
      pieces.push(current);
      current = '';
      currentBytes = 0;
    }
    current += character;
    currentBytes += bytes;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** Tokens of a plain text under the fake's rule. */
export function fakeTokenCount(text: string): number {
  return fakeTokenPieces(text).length;
}

/** The parts of a chat message that cost prompt tokens. */
export interface FakeCountableMessage {
  role: string;
  content?: unknown;
  toolCalls?: unknown;
}

/** Content tokens of one message (what the chat tokenizer reports as `count`). */
export function fakeContentTokens(message: FakeCountableMessage): number {
  let tokens = 0;
  if (typeof message.content === 'string') tokens += fakeTokenCount(message.content);
  else if (Array.isArray(message.content)) {
    for (const part of message.content as Array<{ type?: string; text?: string }>) {
      // An image costs a fixed amount, as the documented tokenizer example (1,478) suggests.
      tokens += part.type === 'text' && typeof part.text === 'string' ? fakeTokenCount(part.text) : 1_478;
    }
  }
  if (message.toolCalls !== undefined) tokens += fakeTokenCount(JSON.stringify(message.toolCalls));
  return tokens;
}

/** Prompt tokens of a chat request: content plus per-message overhead plus tool schemas. */
export function fakePromptTokens(messages: readonly FakeCountableMessage[], tools?: unknown): number {
  let tokens = 0;
  for (const message of messages) tokens += fakeContentTokens(message) + FAKE_MESSAGE_OVERHEAD_TOKENS;
  if (tools !== undefined) tokens += fakeTokenCount(JSON.stringify(tools));
  return tokens;
}
