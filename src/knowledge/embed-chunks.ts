import type { Embedder } from '../providers/types.js';

/** Parallel embedding calls; CLOVA embeds one text per call, and its client paces itself on 429s. */
const EMBEDDING_CONCURRENCY = 4;
/** Texts per call: providers that batch take several at once; CLOVA's client splits them itself. */
const EMBEDDING_BATCH = 16;

/**
 * Embeds texts in order, a few batches at a time. `onProgress` receives the number done so far.
 * Fails on the first error: a half-embedded index would silently mix lexical-only and hybrid chunks.
 */
export async function embedTexts(embedder: Embedder, texts: readonly string[], options: { signal?: AbortSignal; onProgress?: (done: number) => void } = {}): Promise<number[][]> {
  const vectors: number[][] = new Array<number[]>(texts.length);
  const batches: number[] = [];
  for (let start = 0; start < texts.length; start += EMBEDDING_BATCH) batches.push(start);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < batches.length) {
      const start = batches[next++]!;
      const batch = texts.slice(start, start + EMBEDDING_BATCH);
      const embedded = await embedder.embed(batch, options.signal);
      if (embedded.length !== batch.length) throw new Error(`the embedder returned ${embedded.length} vectors for ${batch.length} texts`);
      embedded.forEach((vector, offset) => {
        if (vector.length !== embedder.dimensions) throw new Error(`the embedder returned a vector of ${vector.length} dimensions, expected ${embedder.dimensions}`);
        vectors[start + offset] = vector;
      });
      done += batch.length;
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(EMBEDDING_CONCURRENCY, batches.length) }, worker));
  return vectors;
}
