import type { Summarizer, SummarizeOptions } from '../types.js';
import type { ClovaClient } from './clova-client.js';

/** Characters the summarization API accepts in one call (Korean basis, spaces included). */
export const SUMMARIZATION_MAX_CHARACTERS = 35_000;

/** Splits texts into batches under the character limit; a single overlong text is cut into pieces. */
export function batchTexts(texts: string[], maxCharacters = SUMMARIZATION_MAX_CHARACTERS): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const text of texts) {
    const pieces: string[] = [];
    for (let offset = 0; offset < text.length; offset += maxCharacters) pieces.push(text.slice(offset, offset + maxCharacters));
    for (const piece of pieces) {
      if (size + piece.length > maxCharacters && current.length > 0) {
        batches.push(current);
        current = [];
        size = 0;
      }
      current.push(piece);
      size += piece.length;
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The summarization API as a rolling `Summarizer`: the prior summary is sent first among the texts
 * so it is carried forward, never dropped; input over the API limit is summarised in batches and
 * the partial summaries summarised again.
 */
export class ClovaSummarizer implements Summarizer {
  constructor(private readonly client: ClovaClient) {}

  async summarize(texts: string[], options: SummarizeOptions = {}): Promise<string> {
    const inputs = [options.priorSummary, ...texts].filter((text): text is string => typeof text === 'string' && text.trim() !== '');
    if (inputs.length === 0) return '';
    const call = options.signal ? { signal: options.signal } : {};
    let batches = batchTexts(inputs);
    for (;;) {
      const summaries: string[] = [];
      for (const batch of batches) {
        const response = await this.client.summarize({ texts: batch, autoSentenceSplitter: true, segCount: -1 }, call);
        summaries.push(response.result.text);
      }
      if (summaries.length === 1) return summaries[0] ?? '';
      batches = batchTexts(summaries);
    }
  }
}
