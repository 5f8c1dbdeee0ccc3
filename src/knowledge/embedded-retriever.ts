import type { Logger } from '../observability/logger.js';
import type { Embedder, Retriever, ScoredDoc } from '../providers/types.js';
import { DenseIndex } from './dense-index.js';
import { LexicalIndex, type LexicalWeights } from './lexical-index.js';
import { fuseByRank } from './rank-fusion.js';
import type { KnowledgeChunk } from './source-document.js';

/** Queries longer than this are cut: user text is untrusted and scoring cost grows with its length. */
const MAX_QUERY_CHARACTERS = 2_000;
/** How deep each list goes before fusion; deeper than any topK asked of us so fusion has material. */
const FUSION_DEPTH = 50;

export interface EmbeddedRetrieverOptions {
  chunks: readonly KnowledgeChunk[];
  /** One vector per chunk (same order), when an embedding model is configured; enables hybrid retrieval. */
  vectors?: readonly (readonly number[])[];
  embedder?: Embedder;
  lexicalWeights?: LexicalWeights;
  logger?: Logger;
}

/** The embedded retriever, with what it was built from (for operators and the eval). */
export interface EmbeddedRetriever extends Retriever {
  readonly chunkCount: number;
  /** Whether searches fuse lexical and dense results; false until vectors are in place. */
  readonly hybrid: boolean;
  /**
   * Switches to hybrid retrieval with one vector per chunk (same order), e.g. once they were built
   * in the background. Needs the `embedder` the retriever was created with, to embed queries.
   */
  useVectors(vectors: readonly (readonly number[])[]): void;
}

/**
 * Searches the in-process index: BM25 over words and Hangul n-grams, fused by rank with cosine
 * similarity of embeddings when vectors and an embedder are present. If the embedder fails at query
 * time the search degrades to lexical results instead of failing the turn.
 */
export function createEmbeddedRetriever(options: EmbeddedRetrieverOptions): EmbeddedRetriever {
  const chunks = options.chunks;
  const lexical = new LexicalIndex(chunks, options.lexicalWeights);
  const embedder = options.embedder;
  let dense: DenseIndex | undefined;
  let dimensions = 0;
  const useVectors = (vectors: readonly (readonly number[])[]): void => {
    if (!embedder) throw new Error('hybrid retrieval needs an embedder for the queries');
    if (vectors.length !== chunks.length) throw new Error(`the index has ${chunks.length} chunks but ${vectors.length} vectors`);
    dimensions = vectors[0]?.length ?? 0;
    dense = new DenseIndex(vectors);
  };
  if (options.vectors && embedder) useVectors(options.vectors);

  const toScoredDoc = (position: number, score: number): ScoredDoc => {
    const chunk = chunks[position]!;
    return {
      doc: { id: chunk.id, content: chunk.text, title: chunk.title, source: chunk.source, ...(chunk.url ? { url: chunk.url } : {}) },
      score,
    };
  };

  return {
    chunkCount: chunks.length,
    get hybrid() {
      return dense !== undefined;
    },
    useVectors,
    async search(query: string, topK: number, signal?: AbortSignal): Promise<ScoredDoc[]> {
      signal?.throwIfAborted();
      const boundedQuery = query.slice(0, MAX_QUERY_CHARACTERS);
      if (boundedQuery.trim() === '' || topK <= 0) return [];
      if (!dense || !embedder) {
        return lexical.search(boundedQuery, topK).map((hit) => toScoredDoc(hit.position, hit.score));
      }
      // A switch to new vectors during the await below must not mix old and new.
      const searched = dense;
      const searchedDimensions = dimensions;
      const lexicalHits = lexical.search(boundedQuery, Math.max(FUSION_DEPTH, topK));
      let denseHits: { position: number }[] = [];
      try {
        const [queryVector] = await embedder.embed([boundedQuery], signal);
        if (queryVector && queryVector.length !== searchedDimensions) {
          // Cosine over vectors of unequal length would rank garbage without any error.
          options.logger?.warn({ queryDimensions: queryVector.length, indexDimensions: searchedDimensions }, 'the query embedding does not match the index vectors; using lexical results only');
        } else if (queryVector) {
          denseHits = searched.search(queryVector, Math.max(FUSION_DEPTH, topK));
        }
      } catch (error) {
        signal?.throwIfAborted();
        options.logger?.warn({ err: error }, 'query embedding failed; using lexical results only');
      }
      return fuseByRank([lexicalHits.map((hit) => hit.position), denseHits.map((hit) => hit.position)])
        .slice(0, topK)
        .map((hit) => toScoredDoc(hit.position, hit.score));
    },
  };
}
