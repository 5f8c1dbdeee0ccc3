import { describe, expect, it } from 'vitest';
import { createLocalReranker } from '../../../src/rag/local-reranker.js';

const docs = [
  { id: 'weather', content: 'The forecast service is not part of this product.', title: 'Other' },
  { id: 'redis', content: 'Set REDIS_URL to keep thread memory in Redis.', title: 'Memory and Redis' },
  { id: 'ko', content: '환불은 구매일로부터 30일 이내에 신청할 수 있습니다.', title: '환불 안내' },
];

describe('local reranker', () => {
  it('keeps the relevant documents, best first', async () => {
    const result = await createLocalReranker().rerank('How do I keep thread memory in Redis?', docs);
    expect(result.ranked.map((entry) => entry.doc.id)).toEqual(['redis']);
    expect(result.suggestedQueries).toEqual([]);
    const korean = await createLocalReranker().rerank('환불 신청은 며칠 안에 해야 하나요?', docs);
    expect(korean.ranked[0]?.doc.id).toBe('ko');
  });

  it('finds nothing relevant for an unrelated question and suggests a shorter query', async () => {
    const result = await createLocalReranker().rerank('Please tell me about the penguin migration in Antarctica', docs);
    expect(result.ranked).toEqual([]);
    expect(result.suggestedQueries).toEqual(['penguin migration antarctica']);
  });

  it('never scores empty, None or NaN texts', async () => {
    const result = await createLocalReranker().rerank('NaN None', [
      { id: 'a', content: 'NaN' },
      { id: 'b', content: 'None' },
      { id: 'c', content: '' },
    ]);
    expect(result).toEqual({ ranked: [], suggestedQueries: [] });
  });
});
