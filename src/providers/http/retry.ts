import { setTimeout as delay } from 'node:timers/promises';

/** How often and how long to retry a failed call. */
export interface RetryPolicy {
  /** Attempts in total, the first included. Default 4. */
  maxAttempts: number;
  /** Backoff before the first retry; doubles each time. Default 500 ms. */
  initialDelayMs: number;
  /** Cap of one backoff. Default 8 s. */
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt. Default 45 s. */
  maxTotalMs: number;
  /** A `Retry-After` longer than this is not waited for; the error goes to the caller. Default 30 s. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  maxTotalMs: 45_000,
  maxRetryAfterMs: 30_000,
};

/** Waits `ms` unless `signal` aborts first (then rejects with its reason). Injected in tests to record waits. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal ? { signal } : undefined);
};

/**
 * Milliseconds a `Retry-After` header asks for: delta-seconds or an HTTP date. `undefined` when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const header = Array.isArray(value) ? value[0] : value;
  if (header === undefined || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries from many callers spread out. */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A failure as the retry loop sees it. */
export interface RetryVerdict {
  retryable: boolean;
  retryAfterMs?: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  classify: (error: unknown) => RetryVerdict;
  signal?: AbortSignal;
  sleep?: Sleep;
  random?: () => number;
  /** Called before each wait, for logs and metrics. */
  onRetry?: (details: { error: unknown; attempt: number; delayMs: number; fromRetryAfter: boolean }) => void;
}

/**
 * Runs `operation` until it succeeds, fails for good, or the policy is spent. A server's
 * `Retry-After` replaces the backoff; one beyond `maxRetryAfterMs` or past the total budget ends
 * the retries and the last error is thrown.
 */
export async function withRetries<Result>(operation: (attempt: number) => Promise<Result>, options: RetryOptions): Promise<Result> {
  const sleep = options.sleep ?? realSleep;
  const startedAt = Date.now();
  let waitedMs = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.signal?.aborted || attempt >= options.policy.maxAttempts) throw error;
      const verdict = options.classify(error);
      if (!verdict.retryable) throw error;
      const fromRetryAfter = verdict.retryAfterMs !== undefined;
      if (fromRetryAfter && (verdict.retryAfterMs ?? 0) > options.policy.maxRetryAfterMs) throw error;
      const delayMs = fromRetryAfter ? (verdict.retryAfterMs ?? 0) : backoffDelay(attempt, options.policy, options.random);
      // Planned waits count even if a sleep returns early, so the budget holds whatever the clock says.
      const elapsedMs = Math.max(Date.now() - startedAt, waitedMs);
      if (elapsedMs + delayMs > options.policy.maxTotalMs) throw error;
      options.onRetry?.({ error, attempt, delayMs, fromRetryAfter });
      waitedMs += delayMs;
      await sleep(delayMs, options.signal);
    }
  }
}
