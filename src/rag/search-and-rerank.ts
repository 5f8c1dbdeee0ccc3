import { isUsableText } from '../knowledge/usable-text.js';
import type { Metrics } from '../observability/metrics.js';
import type { Reranker, Retriever, RerankResult } from '../providers/types.js';

export interface SearchAndRerankInput {
  query: string;
  retriever: Retriever;
  reranker: Reranker;
  topK: number;
  signal?: AbortSignal;
  metrics?: Metrics;
}

/**
 * One search followed by one rerank of its own results. Documents without usable text are removed
 * between the two (whatever the retriever let through), and an empty search skips the reranker.
 */
export async function searchAndRerank(input: SearchAndRerankInput): Promise<RerankResult & { retrieved: number }> {
  const timed = <T>(histogram: 'retrieval' | 'rerank', work: () => Promise<T>) => (input.metrics ? input.metrics.time(input.metrics[histogram], work) : work());
  const results = await timed('retrieval', () => input.retriever.search(input.query, input.topK, input.signal));
  const seen = new Set<string>();
  const docs = results
    .map((result) => result.doc)
    .filter((doc) => {
      if (!isUsableText(doc.content) || seen.has(doc.id)) return false;
      seen.add(doc.id);
      return true;
    });
  if (docs.length === 0) return { ranked: [], suggestedQueries: [], retrieved: 0 };
  const reranked = await timed('rerank', () => input.reranker.rerank(input.query, docs, input.signal));
  return { ...reranked, retrieved: docs.length };
}
