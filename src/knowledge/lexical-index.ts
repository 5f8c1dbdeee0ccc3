import { analyzeText, type AnalyzedTerms } from './text-analysis.js';

/** How much each kind of term and each field counts. Tuned on the welfare QA set (see bench/eval-retrieval.ts). */
export interface LexicalWeights {
  words: number;
  bigrams: number;
  trigrams: number;
  /** Multiplier for matches in the title over matches in the body. */
  title: number;
  /** BM25 term-frequency saturation. */
  k1: number;
  /** BM25 length normalisation. */
  b: number;
}

/**
 * Defaults measured on the welfare QA set: Hangul bigrams carry most of the signal, stemmed words
 * add to it, and trigrams (matched by bigrams already) added nothing there, so they start switched off.
 */
export const DEFAULT_LEXICAL_WEIGHTS: LexicalWeights = { words: 0.4, bigrams: 1, trigrams: 0, title: 0.7, k1: 1.4, b: 0.7 };

/** What the lexical index needs of a chunk. */
export interface IndexableText {
  title: string;
  text: string;
}

type TermKind = keyof AnalyzedTerms;
const TERM_KINDS: readonly TermKind[] = ['words', 'bigrams', 'trigrams'];
const FIELDS = ['title', 'body'] as const;
type Field = (typeof FIELDS)[number];

interface Posting {
  entries: number[];
  frequencies: number[];
}

interface FieldStatistics {
  postings: Map<string, Posting>;
  lengths: Float64Array;
  averageLength: number;
}

/** A hit of the lexical index: the position of the entry as given to the constructor, and its score. */
export interface LexicalHit {
  position: number;
  score: number;
}

/**
 * BM25 over two fields (title, body) and three term kinds (stemmed words, Hangul bigrams, Hangul
 * trigrams). Built in memory from the chunks at startup; only the chunks are persisted, because
 * rebuilding postings takes milliseconds and keeps the index file format simple.
 */
export class LexicalIndex {
  private readonly fields = new Map<`${Field}:${TermKind}`, FieldStatistics>();
  readonly size: number;

  constructor(
    entries: readonly IndexableText[],
    private readonly weights: LexicalWeights = DEFAULT_LEXICAL_WEIGHTS,
  ) {
    this.size = entries.length;
    const analyzed = entries.map((entry) => ({ title: analyzeText(entry.title), body: analyzeText(entry.text) }));
    for (const field of FIELDS) {
      for (const kind of TERM_KINDS) {
        if (weights[kind] === 0) continue;
        const postings = new Map<string, Posting>();
        const lengths = new Float64Array(entries.length);
        analyzed.forEach((terms, position) => {
          const list = terms[field][kind];
          lengths[position] = list.length;
          const counts = new Map<string, number>();
          for (const term of list) counts.set(term, (counts.get(term) ?? 0) + 1);
          for (const [term, count] of counts) {
            let posting = postings.get(term);
            if (!posting) postings.set(term, (posting = { entries: [], frequencies: [] }));
            posting.entries.push(position);
            posting.frequencies.push(count);
          }
        });
        const total = lengths.reduce((sum, length) => sum + length, 0);
        this.fields.set(`${field}:${kind}`, { postings, lengths, averageLength: entries.length > 0 ? total / entries.length : 0 });
      }
    }
  }

  /** The best `limit` entries for `query`, best first; entries that match nothing are left out. */
  search(query: string, limit: number): LexicalHit[] {
    if (this.size === 0 || limit <= 0) return [];
    const scores = this.score(query);
    const hits: LexicalHit[] = [];
    scores.forEach((score, position) => {
      if (score > 0) hits.push({ position, score });
    });
    hits.sort((left, right) => right.score - left.score || left.position - right.position);
    return hits.slice(0, limit);
  }

  /** Scores every entry for `query` (zero where nothing matches). */
  score(query: string): Float64Array {
    const scores = new Float64Array(this.size);
    const queryTerms = analyzeText(query);
    const { k1, b } = this.weights;
    for (const kind of TERM_KINDS) {
      const kindWeight = this.weights[kind];
      if (kindWeight === 0) continue;
      const distinctTerms = new Set(queryTerms[kind]);
      for (const field of FIELDS) {
        const statistics = this.fields.get(`${field}:${kind}`);
        if (!statistics || statistics.averageLength === 0) continue;
        const fieldWeight = kindWeight * (field === 'title' ? this.weights.title : 1);
        for (const term of distinctTerms) {
          const posting = statistics.postings.get(term);
          if (!posting) continue;
          const documentFrequency = posting.entries.length;
          const inverseFrequency = Math.log(1 + (this.size - documentFrequency + 0.5) / (documentFrequency + 0.5));
          for (let index = 0; index < posting.entries.length; index += 1) {
            const position = posting.entries[index]!;
            const frequency = posting.frequencies[index]!;
            const lengthRatio = statistics.lengths[position]! / statistics.averageLength;
            const saturation = (frequency * (k1 + 1)) / (frequency + k1 * (1 - b + b * lengthRatio));
            scores[position]! += fieldWeight * inverseFrequency * saturation;
          }
        }
      }
    }
    return scores;
  }
}
