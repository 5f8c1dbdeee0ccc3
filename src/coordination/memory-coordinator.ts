import { LockLostError, LockWaitTimeoutError, type Coordinator, type LockOptions, type ThreadLock } from './coordinator.js';

interface ThreadQueue {
  held: boolean;
  waiters: Array<() => void>;
}

/** Claims are swept when this many accumulate, so a long-running process does not grow without bound. */
const SWEEP_THRESHOLD = 10_000;
const SWEEP_INTERVAL_MS = 5_000;

/** Coordination inside one process (the zero-setup default). */
export class MemoryCoordinator implements Coordinator {
  private readonly claims = new Map<string, number>();
  private lastSweepAt = 0;
  private readonly threads = new Map<string, ThreadQueue>();
  private readonly inFlight = new Set<string>();

  async markInFlight(threadKey: string): Promise<void> {
    this.inFlight.add(threadKey);
  }

  async clearInFlight(threadKey: string): Promise<void> {
    this.inFlight.delete(threadKey);
  }

  async listInFlight(): Promise<string[]> {
    return [...this.inFlight];
  }

  async claimEvent(eventId: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const expiresAt = this.claims.get(eventId);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.claims.set(eventId, now + ttlMs);
    // Swept at most every few seconds: a busy process past the threshold must not scan on every claim.
    if (this.claims.size > SWEEP_THRESHOLD && now - this.lastSweepAt > SWEEP_INTERVAL_MS) this.sweep(now);
    return true;
  }

  async releaseEvent(eventId: string): Promise<void> {
    this.claims.delete(eventId);
  }

  async withThreadLock<T>(threadKey: string, work: (lock: ThreadLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
    let queue = this.threads.get(threadKey);
    if (!queue) {
      queue = { held: false, waiters: [] };
      this.threads.set(threadKey, queue);
    }
    if (queue.held) await this.wait(threadKey, queue, options);
    queue.held = true;
    const controller = new AbortController();
    const lock: ThreadLock = {
      threadKey,
      signal: controller.signal,
      assertHeld: async () => {
        if (controller.signal.aborted) throw new LockLostError(threadKey);
      },
    };
    try {
      return await work(lock);
    } finally {
      const next = queue.waiters.shift();
      if (next) {
        next();
      } else {
        queue.held = false;
        this.threads.delete(threadKey);
      }
    }
  }

  async close(): Promise<void> {
    this.claims.clear();
  }

  private async wait(threadKey: string, queue: ThreadQueue, options: LockOptions): Promise<void> {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const grant = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      queue.waiters.push(grant);
      if (options.waitTimeoutMs !== undefined) {
        timer = setTimeout(() => {
          const index = queue.waiters.indexOf(grant);
          if (index >= 0) queue.waiters.splice(index, 1);
          reject(new LockWaitTimeoutError(threadKey, Date.now() - started));
        }, options.waitTimeoutMs);
      }
      void Promise.resolve(options.onQueued?.()).catch(() => {});
    });
  }

  private sweep(now: number): void {
    this.lastSweepAt = now;
    for (const [eventId, expiresAt] of this.claims) if (expiresAt <= now) this.claims.delete(eventId);
  }
}
