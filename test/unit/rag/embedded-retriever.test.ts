import { describe, expect, it } from 'vitest';
import { createEmbeddedRetriever } from '../../../src/knowledge/embedded-retriever.js';
import type { Embedder } from '../../../src/providers/types.js';
import { CONTRACT_CORPUS, describeRetrieverContract } from './support/retriever-contract.js';

const chunks = CONTRACT_CORPUS.map((entry) => ({ id: entry.id, source: 'contract', documentId: entry.id, title: entry.title, text: entry.content }));

describeRetrieverContract('embedded index (lexical)', async () => ({ retriever: createEmbeddedRetriever({ chunks }) }));

/** A tiny deterministic embedder: one dimension per topic word, so dense similarity is meaningful and checkable. */
function topicEmbedder(failing = false): Embedder & { calls: string[][] } {
  const topics = [['refund', '환불', 'money back'], ['ship', '배송', 'parcel', 'deliver'], ['password', '비밀번호', 'log in']];
  const calls: string[][] = [];
  return {
    dimensions: topics.length,
    calls,
    async embed(texts) {
      calls.push([...texts]);
      if (failing) throw new Error('embedding service down');
      return texts.map((text) => topics.map((words) => (words.some((word) => text.toLowerCase().includes(word)) ? 1 : 0.01)));
    },
  };
}

describeRetrieverContract('embedded index (hybrid)', async () => {
  const embedder = topicEmbedder();
  const vectors = await embedder.embed(chunks.map((chunk) => `${chunk.title}\n${chunk.text}`));
  return { retriever: createEmbeddedRetriever({ chunks, vectors, embedder }) };
});

describe('embedded index', () => {
  it('finds a document by meaning when no word matches, once embeddings are fused in', async () => {
    const embedder = topicEmbedder();
    const vectors = await embedder.embed(chunks.map((chunk) => `${chunk.title}\n${chunk.text}`));
    const hybrid = createEmbeddedRetriever({ chunks, vectors, embedder });
    const lexical = createEmbeddedRetriever({ chunks });
    const query = 'I want my money back';
    expect((await lexical.search(query, 3)).map((result) => result.doc.id)).not.toContain('refunds');
    const hybridIds = (await hybrid.search(query, 3)).map((result) => result.doc.id);
    expect(hybridIds.slice(0, 2)).toEqual(expect.arrayContaining(['refunds']));
    expect(embedder.calls.at(-1)).toEqual([query]);
    expect(hybrid.hybrid).toBe(true);
  });

  it('falls back to lexical results when the query cannot be embedded', async () => {
    const working = topicEmbedder();
    const vectors = await working.embed(chunks.map((chunk) => chunk.text));
    const retriever = createEmbeddedRetriever({ chunks, vectors, embedder: topicEmbedder(true) });
    const results = await retriever.search('reset my password', 2);
    expect(results[0]?.doc.id).toBe('password');
  });

  it('refuses vectors that do not line up with the chunks', () => {
    expect(() => createEmbeddedRetriever({ chunks, vectors: [[1, 0, 0]], embedder: topicEmbedder() })).toThrow(/6 chunks but 1 vectors/);
  });
});
