/** Per-minute request and token limits as the fake enforces them (a sliding window of admitted calls). */
export interface FakeRateLimit {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** Admits calls while the sliding window has room; otherwise says how long until it will. */
export class RateWindow {
  private readonly admitted: Array<{ at: number; tokens: number }> = [];

  constructor(
    private readonly limit: FakeRateLimit,
    private readonly windowMs: number,
  ) {}

  tryAdmit(tokens: number, now = Date.now()): { admitted: true } | { admitted: false; retryAfterMs: number } {
    while (this.admitted.length > 0 && (this.admitted[0]?.at ?? 0) <= now - this.windowMs) this.admitted.shift();
    const requestsFull = this.limit.requestsPerMinute !== undefined && this.admitted.length + 1 > this.limit.requestsPerMinute;
    const tokensUsed = this.admitted.reduce((sum, entry) => sum + entry.tokens, 0);
    const tokensFull = this.limit.tokensPerMinute !== undefined && tokensUsed + tokens > this.limit.tokensPerMinute && this.admitted.length > 0;
    if (requestsFull || tokensFull) {
      const oldest = this.admitted[0]?.at ?? now;
      return { admitted: false, retryAfterMs: Math.max(1, oldest + this.windowMs - now) };
    }
    this.admitted.push({ at: now, tokens });
    return { admitted: true };
  }
}
