import { describe, expect, it } from 'vitest';
import { answerPlainText } from '../../../src/engine/answer.js';
import { parseCitationMarkup } from '../../../src/rag/citation-markup.js';
import { buildCitedAnswer } from '../../../src/rag/cited-answer.js';
import { DocumentRegistry } from '../../../src/rag/document-registry.js';
import { isSpanSupported } from '../../../src/rag/span-support.js';

const refunds = { id: 'kb/refunds.md#0', title: 'Refunds', url: 'https://example.com/refunds', content: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.' };
const shipping = { id: 'kb/shipping.md#0', title: 'Shipping', content: 'Orders ship from Seoul within two business days.' };

function registryOf(...docs: (typeof refunds | typeof shipping)[]) {
  const registry = new DocumentRegistry();
  for (const doc of docs) registry.register(doc);
  return registry;
}

describe('citation markup', () => {
  it('parses RAG Reasoning <doc-ID> spans and reranker <docN> spans, leaving no tag in the text', () => {
    expect(parseCitationMarkup('Yes. <doc-2>Refunds take 30 days.</doc-2> And <doc1>ships fast</doc1>.')).toEqual([
      { type: 'text', text: 'Yes. ' },
      { type: 'span', tagId: 'doc-2', text: 'Refunds take 30 days.' },
      { type: 'text', text: ' And ' },
      { type: 'span', tagId: 'doc1', text: 'ships fast' },
      { type: 'text', text: '.' },
    ]);
  });

  it('tolerates mismatched, unclosed, stray and self-closing tags', () => {
    expect(parseCitationMarkup('a <doc-1>b</doc-2> c </doc-3>d <doc-4/> e <doc-5>f')).toEqual([
      { type: 'text', text: 'a ' },
      { type: 'span', tagId: 'doc-1', text: 'b' },
      { type: 'text', text: ' c d  e ' },
      { type: 'span', tagId: 'doc-5', text: 'f' },
    ]);
  });
});

describe('cited answer', () => {
  it('numbers sources in order of first use and turns spans into citation parts', () => {
    const registry = registryOf(refunds, shipping);
    const answer = buildCitedAnswer({
      id: 'a1',
      segments: parseCitationMarkup('<doc-2>Orders ship within two business days.</doc-2> <doc-1>Refunds are issued within 30 days.</doc-1> <doc-2>They ship from Seoul.</doc-2>'),
      resolve: (tagId) => registry.resolve(tagId),
      mode: 'generated',
    });
    expect(answer.parts).toEqual([
      { type: 'text', text: 'Orders ship within two business days.' },
      { type: 'citation', source: 1 },
      { type: 'text', text: ' Refunds are issued within 30 days.' },
      { type: 'citation', source: 2 },
      { type: 'text', text: ' They ship from Seoul.' },
      { type: 'citation', source: 1 },
    ]);
    expect(answer.sources).toEqual([
      { docId: shipping.id, title: 'Shipping', snippet: 'Orders ship from Seoul within two business days.' },
      { docId: refunds.id, title: 'Refunds', url: refunds.url, snippet: 'Refunds are issued within 30 days of purchase.' },
    ]);
    expect(answer.citationIssues).toBeUndefined();
    expect(JSON.stringify(answer.parts)).not.toMatch(/<\/?doc/);
  });

  it('keeps the text of a span citing an id the model was never given, without the citation, and counts it', () => {
    const registry = registryOf(refunds);
    const answer = buildCitedAnswer({
      id: 'a2',
      segments: parseCitationMarkup('<doc-1>Refunds are issued within 30 days.</doc-1> <doc-9>Gift cards are refundable too.</doc-9>'),
      resolve: (tagId) => registry.resolve(tagId),
      mode: 'generated',
    });
    expect(answerPlainText(answer)).toBe('Refunds are issued within 30 days.[1] Gift cards are refundable too.');
    expect(answer.sources).toHaveLength(1);
    expect(answer.citationIssues).toEqual({ unknownIds: 1, unsupportedSpans: 0 });
  });

  it('leaves out a span its document does not support, and counts it', () => {
    const registry = registryOf(refunds, shipping);
    const answer = buildCitedAnswer({
      id: 'a3',
      segments: parseCitationMarkup('<doc-1>Refunds are issued within 90 days.</doc-1> <doc-2>Orders ship from Seoul.</doc-2> <doc-1>Our CEO loves penguins and jazz.</doc-1>'),
      resolve: (tagId) => registry.resolve(tagId),
      mode: 'generated',
    });
    expect(answerPlainText(answer)).toBe('Orders ship from Seoul.[1]');
    expect(answer.sources.map((source) => source.docId)).toEqual([shipping.id]);
    expect(answer.citationIssues).toEqual({ unknownIds: 0, unsupportedSpans: 2 });
  });
});

describe('span support', () => {
  it('accepts a faithful Korean paraphrase and rejects a changed figure or an unrelated claim', () => {
    const document = '환불은 구매일로부터 30일 이내에 신청할 수 있습니다. 기프트 카드는 환불되지 않습니다.';
    expect(isSpanSupported('구매일로부터 30일 이내에 환불을 신청할 수 있어요', document)).toBe(true);
    expect(isSpanSupported('구매일로부터 60일 이내에 환불을 신청할 수 있어요', document)).toBe(false);
    expect(isSpanSupported('배송은 이틀 걸립니다', document)).toBe(false);
  });

  it('does not mistake list numbering for a claimed figure', () => {
    expect(isSpanSupported('1. Gift cards cannot be refunded', 'Gift cards cannot be refunded.')).toBe(true);
  });
});
