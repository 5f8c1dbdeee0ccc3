import { describe, expect, it } from 'vitest';
import { DISCORD_MESSAGE_LIMIT, splitMessage } from '../../../adapters/discord/message-splitter.js';

/** Fence lines of a chunk: every chunk must open and close the same number of fences. */
function fenceLines(chunk: string): string[] {
  return chunk.split('\n').filter((line) => /^ {0,3}(`{3,}|~{3,})/.test(line));
}

function codeBlock(lines: number, language = 'ts'): string {
  return ['```' + language, ...Array.from({ length: lines }, (_, index) => `const value${index} = compute(${index}); // step ${index}`), '```'].join('\n');
}

describe('splitMessage', () => {
  it('returns short text unchanged as one message', () => {
    expect(splitMessage('Hello **world**')).toEqual(['Hello **world**']);
  });

  it('cuts at the last paragraph boundary that fits', () => {
    const first = 'a'.repeat(1_200);
    const second = 'b'.repeat(700);
    const third = 'c'.repeat(900);
    const chunks = splitMessage(`${first}\n\n${second}\n\n${third}`);
    expect(chunks).toEqual([`${first}\n\n${second}`, third]);
  });

  it('never leaves a code fence open in any message and keeps every code line', () => {
    const text = `${'Intro paragraph. '.repeat(60)}\n\n${codeBlock(150)}\n\nAfter the code.`;
    const chunks = splitMessage(text);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(fenceLines(chunk).length % 2).toBe(0);
    }
    const allCode = chunks.join('\n');
    for (let index = 0; index < 150; index += 1) expect(allCode).toContain(`const value${index} = compute(${index}); // step ${index}`);
    // A block continued in the next message reopens with the same language.
    const continued = chunks.filter((chunk) => chunk.startsWith('```ts\n'));
    expect(continued.length).toBeGreaterThan(1);
  });

  it('moves a code block that fits whole into the next message instead of cutting it', () => {
    const block = codeBlock(30);
    const text = `${'x'.repeat(1_500)}\n\n${block}`;
    const chunks = splitMessage(text);
    expect(chunks).toEqual(['x'.repeat(1_500), block]);
  });

  it('closes an unterminated fence at the end', () => {
    const chunks = splitMessage('```py\nprint(1)');
    expect(chunks).toEqual(['```py\nprint(1)\n```']);
  });

  it('cuts one enormous word hard, without splitting an emoji', () => {
    const text = '😀'.repeat(1_500);
    const chunks = splitMessage(text);
    expect(chunks.join('')).toBe(text);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(chunk.charCodeAt(chunk.length - 1)).not.toBe(0xd83d);
    }
  });

  it('loses no words when splitting long prose', () => {
    const words = Array.from({ length: 2_000 }, (_, index) => `word${index}`);
    const chunks = splitMessage(words.join(' '), 500);
    expect(chunks.join(' ').split(/\s+/)).toEqual(words);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(500);
  });
});
