import { LockLostError, LockWaitTimeoutError, type AdoptedPending, type Coordinator, type LockOptions, type PendingEntry, type PendingHold, type ThreadLock } from './coordinator.js';

interface ThreadQueue {
  held: boolean;
  waiters: Array<() => void>;
}

/** Claims are swept when this many accumulate, so a long-running process does not grow without bound. */
const SWEEP_THRESHOLD = 10_000;
const SWEEP_INTERVAL_MS = 5_000;

interface PendingRecord {
  sequence: number;
  payload: string;
  leaseUntil: number;
}

export interface MemoryCoordinatorOptions {
  /** How long a pending message stays leased without a renewal (renewed every third of it). Default 10 s. */
  pendingLeaseMs?: number;
}

/** Coordination inside one process (the zero-setup default). */
export class MemoryCoordinator implements Coordinator {
  private readonly claims = new Map<string, number>();
  private lastSweepAt = 0;
  private readonly threads = new Map<string, ThreadQueue>();
  private readonly inFlight = new Set<string>();
  /** Per thread, in arrival order (a Map keeps insertion order). */
  private readonly pending = new Map<string, Map<string, PendingRecord>>();
  private nextSequence = 1;
  private nextPendingId = 1;
  private readonly pendingLeaseMs: number;
  private readonly renewals = new Set<NodeJS.Timeout>();

  constructor(options: MemoryCoordinatorOptions = {}) {
    this.pendingLeaseMs = options.pendingLeaseMs ?? 10_000;
  }

  async markInFlight(threadKey: string): Promise<void> {
    this.inFlight.add(threadKey);
  }

  async clearInFlight(threadKey: string): Promise<void> {
    if (!this.pending.get(threadKey)?.size) this.inFlight.delete(threadKey);
  }

  async addPending(threadKey: string, payload: string): Promise<PendingHold> {
    const entries = this.pending.get(threadKey) ?? new Map<string, PendingRecord>();
    this.pending.set(threadKey, entries);
    const id = String(this.nextPendingId++);
    const record: PendingRecord = { sequence: this.nextSequence++, payload, leaseUntil: Date.now() + this.pendingLeaseMs };
    entries.set(id, record);
    this.inFlight.add(threadKey);
    return this.holdOf(threadKey, id, record);
  }

  /** Owning an entry is holding its current record: one adopted by another process has a new record. */
  private holdOf(threadKey: string, id: string, record: PendingRecord): PendingHold {
    const isOurs = () => this.pending.get(threadKey)?.get(id) === record;
    const renewal = setInterval(() => {
      if (isOurs()) record.leaseUntil = Date.now() + this.pendingLeaseMs;
      else stop();
    }, Math.max(Math.floor(this.pendingLeaseMs / 3), 10));
    renewal.unref();
    this.renewals.add(renewal);
    const stop = () => {
      clearInterval(renewal);
      this.renewals.delete(renewal);
    };
    let removed: boolean | undefined;
    return {
      sequence: record.sequence,
      isOurs: async () => {
        if (!isOurs()) return false;
        record.leaseUntil = Date.now() + this.pendingLeaseMs;
        return true;
      },
      update: async (next) => {
        if (!isOurs()) return false;
        record.payload = next;
        return true;
      },
      remove: async () => {
        stop();
        if (removed === undefined) {
          removed = isOurs();
          if (removed) this.deletePending(threadKey, id);
        }
        return removed;
      },
      abandon: stop,
    };
  }

  async listPending(threadKey: string): Promise<PendingEntry[]> {
    return [...(this.pending.get(threadKey) ?? [])].map(([id, record]) => ({ id, sequence: record.sequence, payload: record.payload }));
  }

  async adoptAbandonedPending(threadKey: string, options: { arrivedBefore?: number } = {}): Promise<AdoptedPending[]> {
    const now = Date.now();
    const entries = this.pending.get(threadKey);
    const adopted: AdoptedPending[] = [];
    for (const [id, record] of entries ?? []) {
      if (options.arrivedBefore !== undefined && record.sequence >= options.arrivedBefore) break;
      if (record.leaseUntil >= now) break;
      // Set under the same id, so it keeps its place in arrival order.
      const ours: PendingRecord = { ...record, leaseUntil: now + this.pendingLeaseMs };
      entries!.set(id, ours);
      adopted.push({ id, sequence: ours.sequence, payload: ours.payload, hold: this.holdOf(threadKey, id, ours) });
    }
    return adopted;
  }

  private deletePending(threadKey: string, id: string): void {
    const entries = this.pending.get(threadKey);
    entries?.delete(id);
    if (entries?.size === 0) this.pending.delete(threadKey);
  }

  async listInFlight(): Promise<string[]> {
    return [...this.inFlight];
  }

  /** Nothing here outlives the process: a waiting message cannot be left to anyone. */
  readonly sharedAcrossProcesses = false;

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
    for (const renewal of this.renewals) clearInterval(renewal);
    this.renewals.clear();
  }

  private async wait(threadKey: string, queue: ThreadQueue, options: LockOptions): Promise<void> {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', giveUp);
      };
      const grant = () => {
        settle();
        resolve();
      };
      const giveUp = () => {
        const index = queue.waiters.indexOf(grant);
        if (index < 0) return; // granted already: the lock is ours
        queue.waiters.splice(index, 1);
        settle();
        reject(new LockWaitTimeoutError(threadKey, Date.now() - started));
      };
      queue.waiters.push(grant);
      if (options.waitTimeoutMs !== undefined) timer = setTimeout(giveUp, options.waitTimeoutMs);
      options.signal?.addEventListener('abort', giveUp, { once: true });
      void Promise.resolve(options.onQueued?.()).catch(() => {});
      if (options.signal?.aborted) giveUp();
    });
  }

  private sweep(now: number): void {
    this.lastSweepAt = now;
    for (const [eventId, expiresAt] of this.claims) if (expiresAt <= now) this.claims.delete(eventId);
  }
}
