/** Refill rate and size of every bucket of a `TokenBuckets`. */
export interface TokenBucketOptions {
  /** Tokens earned per minute. */
  perMinute: number;
  /** Most tokens a bucket holds (the burst allowed after a quiet spell). */
  burst: number;
}

/**
 * One token bucket per key (e.g. per Slack workspace) for calls that may be skipped: `tryTake` takes a
 * token if one is left, `take` counts a call that goes regardless and may leave the bucket in debt.
 * Neither ever throws; a shared implementation falls back to this process's buckets when it must.
 */
export interface TokenBuckets {
  /** Takes one token if `key` has one left; false means "skip this call". */
  tryTake(key: string): Promise<boolean>;
  /** Counts a call that must happen regardless; may leave the bucket in debt. */
  take(key: string): Promise<void>;
}

/** Token buckets in this process's memory: exact for one process, N× the budget for N replicas. */
export class MemoryTokenBuckets implements TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; refilledAt: number }>();
  private readonly now: () => number;

  constructor(
    private readonly options: TokenBucketOptions,
    clock: { now?: () => number } = {},
  ) {
    this.now = clock.now ?? Date.now;
  }

  async tryTake(key: string): Promise<boolean> {
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async take(key: string): Promise<void> {
    this.refill(key).tokens -= 1;
  }

  private refill(key: string): { tokens: number; refilledAt: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, refilledAt: now };
    const earned = ((now - bucket.refilledAt) / 60_000) * this.options.perMinute;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + earned);
    bucket.refilledAt = now;
    this.buckets.set(key, bucket);
    return bucket;
  }
}
