import { describe, expect, it } from 'vitest';
import { chunkDocuments } from '../../../src/knowledge/chunker.js';
import { estimateTokens } from '../../../src/knowledge/token-estimate.js';
import { splitSentences } from '../../../src/knowledge/sentences.js';

const sentence = (index: number) => `Sentence number ${index} talks about topic ${index} in some detail here.`;

describe('chunker', () => {
  it('packs whole sentences up to the token limit and repeats the tail as overlap', () => {
    const text = Array.from({ length: 30 }, (_, index) => sentence(index)).join(' ');
    const chunks = chunkDocuments('docs/a.md', [{ documentId: '', title: 'A', sections: [{ headings: ['A'], text }] }], { maxTokens: 60, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(estimateTokens(chunk.text)).toBeLessThanOrEqual(60);
    for (let index = 1; index < chunks.length; index += 1) {
      const previousLast = chunks[index - 1]!.text.split('\n').at(-1)!;
      expect(chunks[index]!.text.startsWith(previousLast)).toBe(true);
    }
    const all = chunks.map((chunk) => chunk.text).join('\n');
    for (let index = 0; index < 30; index += 1) expect(all).toContain(sentence(index));
  });

  it('derives ids from the source path and position, identical on every run', () => {
    const documents = [{ documentId: '', title: 'Guide', sections: [{ headings: ['Guide'], text: 'One.' }, { headings: ['Guide', 'Setup'], text: 'Two.' }] }];
    const first = chunkDocuments('guide/setup.md', documents);
    expect(first.map((chunk) => [chunk.id, chunk.title])).toEqual([
      ['guide/setup.md#0', 'Guide'],
      ['guide/setup.md#1', 'Guide › Setup'],
    ]);
    expect(chunkDocuments('guide/setup.md', documents)).toEqual(first);
    const rows = chunkDocuments('faq.csv', [{ documentId: '42', title: 'Q', sections: [{ headings: [], text: 'A.' }] }]);
    expect(rows[0]!.id).toBe('faq.csv#42#0');
  });

  it('never lets one chunk span two sections, and cuts an unbroken run that is longer than a chunk', () => {
    const long = '가'.repeat(500);
    const chunks = chunkDocuments('k.txt', [{ documentId: '', title: 'K', sections: [{ headings: [], text: 'short.' }, { headings: ['Next'], text: long }] }], { maxTokens: 100, overlapTokens: 10 });
    expect(chunks[0]!.text).toBe('short.');
    expect(chunks.slice(1).map((chunk) => chunk.text).join('')).toBe(long);
    for (const chunk of chunks) expect(estimateTokens(chunk.text)).toBeLessThanOrEqual(100);
  });
});

describe('sentence splitter', () => {
  it('splits Korean and English sentences and keeps numbered list markers attached', () => {
    expect(splitSentences('환불은 가능합니다. 정말요? 네!\n1. 첫째 항목\nSee e.g. the guide. Done.')).toEqual([
      '환불은 가능합니다.',
      '정말요?',
      '네!',
      '1. 첫째 항목',
      'See e.g. the guide.',
      'Done.',
    ]);
  });
});
