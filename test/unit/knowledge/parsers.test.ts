import { describe, expect, it } from 'vitest';
import { parseKnowledgeFile } from '../../../src/knowledge/parsers/parse-file.js';

describe('Markdown parser', () => {
  it('takes title and URL from front matter and splits sections at headings, ignoring # inside code fences', () => {
    const parsed = parseKnowledgeFile(
      'docs/redis.md',
      ['---', 'title: Running with Redis', 'url: https://example.com/redis', '---', '# Redis', 'Intro text.', '## Connection', 'Set REDIS_URL.', '```sh', '# not a heading', '```', '### TLS', 'Use rediss://.'].join('\n'),
    );
    const [document] = parsed.documents;
    expect(document).toMatchObject({ title: 'Running with Redis', url: 'https://example.com/redis' });
    expect(document!.sections.map((section) => section.headings)).toEqual([['Redis'], ['Redis', 'Connection'], ['Redis', 'Connection', 'TLS']]);
    expect(document!.sections[1]!.text).toContain('# not a heading');
  });

  it('falls back to the first top heading, then to the file name, for the title', () => {
    expect(parseKnowledgeFile('a.md', '# First\n\ntext').documents[0]!.title).toBe('First');
    expect(parseKnowledgeFile('setup_guide.md', 'just text').documents[0]!.title).toBe('setup guide');
  });

  it('rejects front matter with an invalid URL', () => {
    expect(() => parseKnowledgeFile('a.md', '---\nurl: not a url\n---\ntext')).toThrow(/front matter/);
  });
});

describe('CSV parser', () => {
  it('reads quoted fields with commas and newlines, and skips rows without usable text', () => {
    const csv = 'ID,question,answer\n7,"How, exactly?","Line one\nline two"\n8,Empty,NaN\n9,Blank,\n10,Also,None\n';
    const parsed = parseKnowledgeFile('faq.csv', csv);
    expect(parsed.documents).toEqual([{ documentId: '7', title: 'How, exactly?', sections: [{ headings: [], text: 'Line one\nline two' }] }]);
    expect(parsed.skipped.map((entry) => entry.row)).toEqual([2, 3, 4]);
  });

  it('uses the configured columns, and row numbers when there is no id column (the seed CSV shape)', () => {
    const csv = 'text,embedding,link\nFirst document,"[0.1, 0.2]",https://example.com/1\nSecond,"[0.3]",not-a-url\n';
    const parsed = parseKnowledgeFile('seed.csv', csv, { url: 'link' });
    expect(parsed.documents.map((document) => [document.documentId, document.url])).toEqual([['row-1', 'https://example.com/1'], ['row-2', undefined]]);
  });

  it('explains a missing text column, and a configured column that does not exist', () => {
    expect(() => parseKnowledgeFile('x.csv', 'a,b\n1,2\n')).toThrow(/no text column.*found: a, b/);
    expect(() => parseKnowledgeFile('x.csv', 'text\nhello\n', { title: 'heading' })).toThrow(/title column "heading" does not exist/);
  });
});

describe('JSONL parser', () => {
  it('reads objects, reports lines that are not objects, and rejects duplicate ids', () => {
    const jsonl = ['{"id":"a","title":"A","text":"alpha"}', 'not json', '[1,2]', '{"id":"a","title":"A2","text":"again"}', '{"id":"b","question":"Q?","answer":"B"}'].join('\n');
    const parsed = parseKnowledgeFile('kb.jsonl', jsonl);
    expect(parsed.documents.map((document) => [document.documentId, document.title])).toEqual([['a', 'A'], ['b', 'Q?']]);
    expect(parsed.skipped.map((entry) => entry.reason)).toEqual([expect.stringContaining('line 2'), expect.stringContaining('line 3'), 'duplicate id "a"']);
  });

  it('refuses an unsupported file type by name', () => {
    expect(() => parseKnowledgeFile('slides.pdf', '')).toThrow(/unsupported file type ".pdf"/);
  });
});
