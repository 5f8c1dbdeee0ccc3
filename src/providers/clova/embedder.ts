import type { Embedder } from '../types.js';
import type { ClovaClient } from './clova-client.js';

/** Dimensions of embedding v2 (bge-m3). */
export const CLOVA_EMBEDDING_DIMENSIONS = 1_024;

/** Runs `work` over `items` with at most `concurrency` in flight, keeping order. */
export async function mapWithConcurrency<Item, Result>(items: Item[], concurrency: number, work: (item: Item, index: number) => Promise<Result>): Promise<Result[]> {
  const results = new Array<Result>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as Item, index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Embedding v2 as our `Embedder`: one text per call (the API has no batching), a few calls at a time. */
export class ClovaEmbedder implements Embedder {
  readonly dimensions = CLOVA_EMBEDDING_DIMENSIONS;

  constructor(
    private readonly client: ClovaClient,
    private readonly concurrency = 4,
  ) {}

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    return mapWithConcurrency(texts, this.concurrency, async (text) => {
      // The API rejects empty text; an empty text has no meaning to embed.
      if (text.trim() === '') return new Array<number>(this.dimensions).fill(0);
      const response = await this.client.embed(text, signal ? { signal } : {});
      return response.result.embedding;
    });
  }
}
