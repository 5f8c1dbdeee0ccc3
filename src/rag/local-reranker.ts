import { isUsableText } from '../knowledge/usable-text.js';
import { analyzeText, isHangulWord } from '../knowledge/text-analysis.js';
import type { Doc, Reranker, RerankResult } from '../providers/types.js';

export interface LocalRerankerOptions {
  /** Least weighted share of the query's terms a document must contain to count as relevant (0–1). */
  minimumCoverage?: number;
  /** Most documents returned. */
  maxResults?: number;
}

const WORD_WEIGHT = 2;
/** Korean words keep endings the stemmer does not know; their bigrams carry the match, so the word itself counts less. */
const HANGUL_WORD_WEIGHT = 1;
const BIGRAM_WEIGHT = 1;
const TITLE_BONUS = 0.15;
const RETRIEVAL_PRIOR = 0.2;

/**
 * A lexical reranker for offline and OpenAI-compatible modes: scores each candidate by the weighted
 * share of the query's words and Hangul bigrams it contains, with the retriever's order as a
 * tie-breaker, keeps those above a relevance floor, and, when none qualifies, suggests a re-search with
 * the query's content words only. Unusable texts (empty, `None`, `NaN`) are never scored.
 */
export function createLocalReranker(options: LocalRerankerOptions = {}): Reranker {
  const minimumCoverage = options.minimumCoverage ?? 0.35;
  const maxResults = options.maxResults ?? 5;
  return {
    async rerank(query: string, docs: Doc[], signal?: AbortSignal): Promise<RerankResult> {
      signal?.throwIfAborted();
      const candidates = docs.filter((doc) => isUsableText(doc.content));
      const queryTerms = weightedTerms(query);
      if (queryTerms.size === 0 || candidates.length === 0) return { ranked: [], suggestedQueries: [] };
      const candidateTerms = candidates.map((doc) => ({ body: termSet(doc.content), title: termSet(doc.title ?? '') }));
      let totalWeight = 0;
      for (const weight of queryTerms.values()) totalWeight += weight;

      const scored = candidates.map((doc, index) => {
        const terms = candidateTerms[index]!;
        let matched = 0;
        let titleMatched = 0;
        let hasWord = false;
        for (const [term, weight] of queryTerms) {
          const inTitle = terms.title.has(term);
          if (terms.body.has(term) || inTitle) {
            matched += weight;
            if (term.startsWith('w:')) hasWord = true;
          }
          if (inTitle) titleMatched += weight;
        }
        const coverage = hasWord || matched / totalWeight >= 0.5 ? matched / totalWeight : 0;
        // The retriever ranked with corpus-wide statistics this reranker cannot see; its order breaks ties.
        const retrievalPrior = RETRIEVAL_PRIOR * (1 - index / candidates.length);
        return { doc, coverage, score: coverage + TITLE_BONUS * (titleMatched / totalWeight) + retrievalPrior };
      });
      const ranked = scored
        .filter((entry) => entry.coverage >= minimumCoverage)
        .sort((left, right) => right.score - left.score)
        .slice(0, maxResults)
        .map(({ doc, score }) => ({ doc, score }));
      return { ranked, suggestedQueries: ranked.length === 0 ? suggestions(query) : [] };
    },
  };
}

function weightedTerms(text: string): Map<string, number> {
  const terms = analyzeText(text);
  const weighted = new Map<string, number>();
  for (const word of terms.words) weighted.set(`w:${word}`, isHangulWord(word) ? HANGUL_WORD_WEIGHT : WORD_WEIGHT);
  for (const gram of terms.bigrams) if (!weighted.has(`b:${gram}`)) weighted.set(`b:${gram}`, BIGRAM_WEIGHT);
  return weighted;
}

function termSet(text: string): Set<string> {
  const terms = analyzeText(text);
  return new Set([...terms.words.map((word) => `w:${word}`), ...terms.bigrams.map((gram) => `b:${gram}`)]);
}

/** A shorter query of the content words alone, which often matches where a full sentence did not. */
function suggestions(query: string): string[] {
  const words = analyzeText(query).words;
  const reduced = [...new Set(words)].join(' ');
  return reduced !== '' && reduced !== query.trim().toLowerCase() ? [reduced] : [];
}
