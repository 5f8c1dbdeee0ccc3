import { splitSentences } from './sentences.js';
import type { KnowledgeChunk, SourceDocument } from './source-document.js';
import { estimateTokens } from './token-estimate.js';

/** Chunk sizes in estimated tokens. */
export interface ChunkingOptions {
  maxTokens: number;
  /** Tokens of trailing sentences repeated at the start of the next chunk of the same section. */
  overlapTokens: number;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { maxTokens: 320, overlapTokens: 48 };

/**
 * Splits documents into chunks of whole sentences, at most `maxTokens` each, never across a section
 * boundary (a heading starts a new chunk, so a citation points at one topic). Consecutive chunks of a
 * section share up to `overlapTokens` of sentences, so a fact split across the seam is found whole.
 */
export function chunkDocuments(source: string, documents: readonly SourceDocument[], options: ChunkingOptions = DEFAULT_CHUNKING): KnowledgeChunk[] {
  const chunks: KnowledgeChunk[] = [];
  for (const document of documents) {
    let ordinal = 0;
    for (const section of document.sections) {
      const headingTrail = section.headings.filter((heading) => heading !== document.title);
      const title = headingTrail.length > 0 ? `${document.title} › ${headingTrail.join(' › ')}` : document.title;
      for (const text of packSentences(splitSentences(section.text).flatMap((sentence) => splitLongSentence(sentence, options.maxTokens)), options)) {
        const idPrefix = document.documentId === '' ? source : `${source}#${document.documentId}`;
        chunks.push({
          id: `${idPrefix}#${ordinal}`,
          source,
          documentId: document.documentId,
          title,
          ...(document.url ? { url: document.url } : {}),
          text,
        });
        ordinal += 1;
      }
    }
  }
  return chunks;
}

function packSentences(sentences: string[], options: ChunkingOptions): string[] {
  const chunks: string[] = [];
  let current: { sentence: string; tokens: number }[] = [];
  let currentTokens = 0;
  let freshSentences = 0;
  for (const sentence of sentences) {
    const tokens = estimateTokens(sentence) + 1;
    if (currentTokens + tokens > options.maxTokens && freshSentences > 0) {
      chunks.push(current.map((entry) => entry.sentence).join('\n'));
      const overlap: typeof current = [];
      let overlapTokens = 0;
      for (let index = current.length - 1; index >= 0; index -= 1) {
        const entry = current[index]!;
        if (overlapTokens + entry.tokens > options.overlapTokens || overlapTokens + entry.tokens + tokens > options.maxTokens) break;
        overlap.unshift(entry);
        overlapTokens += entry.tokens;
      }
      current = overlap;
      currentTokens = overlapTokens;
      freshSentences = 0;
    }
    current.push({ sentence, tokens });
    currentTokens += tokens;
    freshSentences += 1;
  }
  if (freshSentences > 0) chunks.push(current.map((entry) => entry.sentence).join('\n'));
  return chunks;
}

/** A sentence longer than a whole chunk (a table row, a run-on line) is cut at spaces into pieces that fit. */
function splitLongSentence(sentence: string, maxTokens: number): string[] {
  if (estimateTokens(sentence) <= maxTokens) return [sentence];
  const pieces: string[] = [];
  let current = '';
  for (const word of sentence.split(/(\s+)/)) {
    if (current !== '' && estimateTokens(current + word) > maxTokens) {
      pieces.push(current.trim());
      current = '';
    }
    current += word;
    while (estimateTokens(current) > maxTokens) {
      // A single unbroken run (no spaces) longer than a chunk: cut by characters.
      const characters = [...current];
      let low = 1;
      let high = characters.length - 1;
      while (low < high) {
        const middle = Math.ceil((low + high) / 2);
        if (estimateTokens(characters.slice(0, middle).join('')) <= maxTokens) low = middle;
        else high = middle - 1;
      }
      pieces.push(characters.slice(0, low).join('').trim());
      current = characters.slice(low).join('');
    }
  }
  if (current.trim() !== '') pieces.push(current.trim());
  return pieces;
}
