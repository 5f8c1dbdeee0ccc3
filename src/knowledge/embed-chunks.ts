import { ProviderError } from '../providers/http/provider-error.js';
import { realSleep, type Sleep } from '../providers/http/retry.js';
import type { Embedder } from '../providers/types.js';
import { KnowledgeEmbeddingError } from './errors.js';

/** Texts per `embed` call: providers that batch take several at once; CLOVA's embedder splits them itself. */
const EMBEDDING_BATCH = 16;
/** A `Retry-After` longer than this is capped: a bulk job should keep probing rather than sleep for an hour. */
const MAX_WAIT_MS = 5 * 60_000;
/** Backoff after a transient failure that came without `Retry-After`; doubles up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 2_000;
/** CLOVA counts requests per minute, so waiting longer than a window is never needed to get room again. */
const MAX_BACKOFF_MS = 60_000;

/** Failure kinds that may pass if the same batch is sent again later. */
const TRANSIENT_KINDS = new Set(['rate_limit', 'server', 'timeout', 'connection']);

export interface EmbedTextsOptions {
  /** Batches in flight at once (each may be several calls). Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Each finished batch, by the position of its first text, so a caller can save progress as it goes. */
  onBatch?: (start: number, vectors: number[][]) => void;
  /** Texts embedded so far. */
  onProgress?: (done: number) => void;
  /** Before each wait that a rate limit or a transient failure causes. */
  onWait?: (wait: { delayMs: number; error: unknown }) => void;
  /** Attempts per batch before the run fails. Default 8 (about three minutes of waiting without `Retry-After`). */
  maxAttemptsPerBatch?: number;
  /** Vector length the caller expects (an existing index's); default the embedder's, else the first vector's. */
  dimensions?: number;
  /** Replaces the real wait (tests record the waits). */
  sleep?: Sleep;
}

/**
 * Embeds texts in order, a few batches at a time. The provider client paces itself with its own
 * rate limiter and retries briefly; on top of that, a batch that still fails with a rate limit or a
 * transient error is sent again after the `Retry-After` the provider gave (or a backoff), and every
 * worker pauses meanwhile, so a long job rides out a busy minute instead of failing. A permanent
 * failure (a refused key, a bad request) throws `KnowledgeEmbeddingError` at once; batches already
 * delivered through `onBatch` are kept by the caller.
 */
export async function embedTexts(embedder: Embedder, texts: readonly string[], options: EmbedTextsOptions = {}): Promise<number[][]> {
  const sleep = options.sleep ?? realSleep;
  const maxAttempts = options.maxAttemptsPerBatch ?? 8;
  const vectors: number[][] = new Array<number[]>(texts.length);
  const batches: number[] = [];
  for (let start = 0; start < texts.length; start += EMBEDDING_BATCH) batches.push(start);
  let dimensions = options.dimensions ?? (embedder.dimensions > 0 ? embedder.dimensions : undefined);
  let next = 0;
  let done = 0;
  let failure: unknown;
  // One worker's rate limit holds them all: the limit is per key, not per worker.
  let pause: Promise<void> = Promise.resolve();

  const embedBatch = async (batch: string[]): Promise<number[][]> => {
    for (let attempt = 1; ; attempt += 1) {
      await pause;
      if (failure !== undefined) throw failure;
      try {
        return await embedder.embed(batch, options.signal);
      } catch (error) {
        options.signal?.throwIfAborted();
        if (!isTransient(error) || attempt >= maxAttempts) throw error;
        const delayMs = Math.min(MAX_WAIT_MS, error.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1)));
        options.onWait?.({ delayMs, error });
        pause = Promise.all([pause, sleep(delayMs, options.signal)]).then(() => undefined);
        // Awaited by this worker on its next attempt; the handled copy keeps an abort during the wait from counting as unhandled.
        pause.catch(() => undefined);
      }
    }
  };

  const worker = async () => {
    while (next < batches.length && failure === undefined) {
      options.signal?.throwIfAborted();
      const start = batches[next++]!;
      const batch = texts.slice(start, start + EMBEDDING_BATCH);
      const embedded = await embedBatch(batch);
      if (embedded.length !== batch.length) throw new Error(`the embedder returned ${embedded.length} vectors for ${batch.length} texts`);
      for (const vector of embedded) {
        dimensions ??= vector.length;
        if (vector.length !== dimensions) throw new Error(`the embedder returned a vector of ${vector.length} dimensions, expected ${dimensions}`);
      }
      embedded.forEach((vector, offset) => (vectors[start + offset] = vector));
      done += batch.length;
      options.onBatch?.(start, embedded);
      options.onProgress?.(done);
    }
  };

  const workers = Array.from({ length: Math.min(options.concurrency ?? 4, batches.length) }, () =>
    worker().catch((error: unknown) => {
      failure ??= error;
    }),
  );
  await Promise.all(workers);
  if (failure !== undefined) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new KnowledgeEmbeddingError({ done, total: texts.length, cause: failure });
  }
  return vectors;
}

function isTransient(error: unknown): error is ProviderError {
  return error instanceof ProviderError && TRANSIENT_KINDS.has(error.kind);
}
