import type { Logger } from '../../observability/logger.js';
import type { Doc, Reranker, RerankResult, ScoredDoc } from '../types.js';
import type { ClovaClient } from './clova-client.js';

/** The text the reranker reads for a document: its title (when any) and content. */
function documentText(doc: Doc): string {
  return doc.title ? `${doc.title}\n${doc.content}` : doc.content;
}

/**
 * The CLOVA reranker as our `Reranker`: the cited documents, mapped back to the caller's own `Doc`
 * objects by id, best first (the order the API cites them), with its re-search suggestions.
 */
export class ClovaReranker implements Reranker {
  constructor(
    private readonly client: ClovaClient,
    private readonly logger: Logger,
    private readonly maxTokens = 1_024,
  ) {}

  async rerank(query: string, docs: Doc[], signal?: AbortSignal): Promise<RerankResult> {
    if (docs.length === 0) return { ranked: [], suggestedQueries: [] };
    const byId = new Map(docs.map((doc) => [doc.id, doc]));
    const response = await this.client.rerank(
      { query, documents: [...byId.values()].map((doc) => ({ id: doc.id, doc: documentText(doc) })), maxTokens: this.maxTokens },
      signal ? { signal } : {},
    );
    const ranked: ScoredDoc[] = [];
    const seen = new Set<string>();
    for (const cited of response.result.citedDocuments) {
      const doc = byId.get(cited.id);
      if (!doc) {
        this.logger.warn({ requestId: response.requestId, citedId: cited.id }, 'reranker cited a document id that was not sent; ignored');
        continue;
      }
      if (seen.has(cited.id)) continue;
      seen.add(cited.id);
      ranked.push({ doc, score: 0 });
    }
    // The API gives no scores, only an order: spread them evenly from 1 down.
    ranked.forEach((entry, index) => {
      entry.score = 1 - index / ranked.length;
    });
    return { ranked, suggestedQueries: response.result.suggestedQueries ?? [] };
  }
}
