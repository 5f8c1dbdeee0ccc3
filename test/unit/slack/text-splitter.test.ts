import { describe, expect, it } from 'vitest';
import { hardWrap, splitMrkdwn } from '../../../adapters/slack/text-splitter.js';

function fenceCount(text: string): number {
  return (text.match(/^\s*```/gm) ?? []).length;
}

describe('splitMrkdwn', () => {
  it('keeps short text in one piece', () => {
    expect(splitMrkdwn('one\n\ntwo', 100)).toEqual(['one\n\ntwo']);
  });

  it('splits on paragraph boundaries and respects the limit', () => {
    const paragraphs = Array.from({ length: 10 }, (_, index) => `Paragraph ${index} ${'word '.repeat(20).trim()}`);
    const pieces = splitMrkdwn(paragraphs.join('\n\n'), 300);
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(300);
    expect(pieces.join('\n\n')).toBe(paragraphs.join('\n\n'));
  });

  it('never cuts inside a code fence that fits, even with blank lines inside it', () => {
    const code = '```ts\nconst a = 1;\n\nconst b = 2;\n```';
    const text = `${'intro '.repeat(30).trim()}\n\n${code}\n\n${'outro '.repeat(30).trim()}`;
    const pieces = splitMrkdwn(text, 200);
    expect(pieces.some((piece) => piece.includes(code))).toBe(true);
    for (const piece of pieces) expect(fenceCount(piece) % 2).toBe(0);
  });

  it('closes and reopens an oversized fence so every piece renders as code', () => {
    const lines = Array.from({ length: 80 }, (_, index) => `line ${index}: ${'x'.repeat(20)}`);
    const text = `\`\`\`python\n${lines.join('\n')}\n\`\`\``;
    const pieces = splitMrkdwn(text, 500);
    expect(pieces.length).toBeGreaterThan(2);
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(500);
      expect(piece.startsWith('```python\n')).toBe(true);
      expect(piece.endsWith('\n```')).toBe(true);
    }
    const body = pieces.map((piece) => piece.slice('```python\n'.length, -'\n```'.length)).join('\n');
    expect(body).toBe(lines.join('\n'));
  });

  it('closes a fence the model forgot to close', () => {
    const pieces = splitMrkdwn('text\n\n```\ncode without end', 100);
    expect(fenceCount(pieces.join('\n\n')) % 2).toBe(0);
  });

  it('splits a long paragraph on sentences, then words', () => {
    const paragraph = Array.from({ length: 40 }, (_, index) => `Sentence number ${index} ends here.`).join(' ');
    const pieces = splitMrkdwn(paragraph, 120);
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(120);
      expect(piece.endsWith('.')).toBe(true);
    }
  });
});

describe('hardWrap', () => {
  it('never cuts inside an entity or a link token', () => {
    const text = `${'a'.repeat(8)}&amp;${'b'.repeat(8)}<https://kb.example.com/x|[1]>`;
    const pieces = hardWrap(text, 10);
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) {
      expect(piece).not.toMatch(/&[a-z]{0,3}$/);
    }
    expect(pieces.some((piece) => piece.includes('&amp;'))).toBe(true);
  });

  it('keeps surrogate pairs whole', () => {
    const pieces = hardWrap('😀'.repeat(10), 5);
    for (const piece of pieces) expect(() => encodeURIComponent(piece)).not.toThrow();
  });
});
