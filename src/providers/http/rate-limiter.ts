/** Client-side limits for one upstream bucket (a model, or a tool API). */
export interface RateLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Window length; one minute for the real service, shorter in tests. Default 60,000 ms. */
  windowMs?: number;
}

/** An admission: how long the caller waited, and `settle()` to call once the server has seen the request. */
export interface RateLimitPermit {
  waitedMs: number;
  /**
   * Starts this admission's window at the current time. Called once the response arrives: until
   * then the admission never expires, so the local window cannot run ahead of the server's, which
   * started counting only when the request reached it.
   */
  settle(): void;
}

/**
 * Admissions against one upstream's requests/tokens per minute. `RateLimiter` keeps the window in this
 * process; a shared implementation keeps it where every replica sees it (see `RedisRateBudget`).
 */
export interface RateBudget {
  /** Resolves once `tokens` may be spent; rejects with the abort reason if `signal` aborts first. */
  acquire(tokens: number, signal?: AbortSignal): Promise<RateLimitPermit>;
  /** Rejects every caller still waiting (shutdown). */
  close(reason?: unknown): void;
}

/** Builds the budget of one bucket (a model id or a tool API), e.g. a shared one per upstream endpoint. */
export type RateBudgetFactory = (bucket: string, limits: RateLimits) => RateBudget;

/** A caller queued for a budget, first in, first out. */
export interface Waiter {
  tokens: number;
  resolve: (permit: RateLimitPermit) => void;
  reject: (reason: unknown) => void;
  enqueuedAt: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A sliding-window limiter of requests and tokens per minute. Callers queue first-in first-out, so
 * a busy bot waits its turn instead of collecting 429s; one call larger than the whole token
 * budget is admitted alone into an empty window rather than blocking forever.
 */
export class RateLimiter implements RateBudget {
  /** Admissions in the window; `pending` ones have not reached the server yet and never expire. */
  private readonly admitted: Array<{ at: number; tokens: number; pending: boolean }> = [];
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly windowMs: number;

  constructor(private readonly limits: RateLimits) {
    this.windowMs = limits.windowMs ?? 60_000;
  }

  /** Number of callers waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves once `tokens` may be spent; rejects if `signal` aborts first. */
  acquire(tokens: number, signal?: AbortSignal): Promise<RateLimitPermit> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RateLimitPermit>((resolve, reject) => {
      const waiter: Waiter = { tokens, resolve, reject, enqueuedAt: Date.now() };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(signal.reason);
          this.drain();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.drain();
    });
  }

  /** Stops the timer and rejects every waiter (shutdown). */
  close(reason: unknown = new Error('rate limiter closed')): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiter of this.queue.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(reason);
    }
  }

  private drain(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    // Settled admissions move forward in time, so the list is not sorted: filter rather than shift.
    for (let index = this.admitted.length - 1; index >= 0; index -= 1) {
      const entry = this.admitted[index];
      if (entry && !entry.pending && entry.at <= now - this.windowMs) this.admitted.splice(index, 1);
    }
    while (this.queue.length > 0) {
      const head = this.queue[0] as Waiter;
      if (!this.hasRoom(head.tokens)) break;
      this.queue.shift();
      const entry = { at: now, tokens: head.tokens, pending: true };
      this.admitted.push(entry);
      if (head.onAbort) head.signal?.removeEventListener('abort', head.onAbort);
      head.resolve({
        waitedMs: now - head.enqueuedAt,
        settle: () => {
          if (!entry.pending) return;
          entry.pending = false;
          entry.at = Date.now();
          this.drain();
        },
      });
    }
    const settled = this.admitted.filter((entry) => !entry.pending);
    // With only pending admissions in the way, the next settle() drains again; no timer is needed.
    if (this.queue.length > 0 && settled.length > 0) {
      const oldest = Math.min(...settled.map((entry) => entry.at));
      this.timer = setTimeout(() => this.drain(), Math.max(1, oldest + this.windowMs - now));
    }
  }

  private hasRoom(tokens: number): boolean {
    if (this.admitted.length === 0) return true;
    const { requestsPerMinute, tokensPerMinute } = this.limits;
    if (requestsPerMinute !== undefined && this.admitted.length + 1 > requestsPerMinute) return false;
    if (tokensPerMinute !== undefined) {
      const used = this.admitted.reduce((sum, entry) => sum + entry.tokens, 0);
      if (used + tokens > tokensPerMinute) return false;
    }
    return true;
  }
}
