import { BotError } from '../errors.js';

/** A held thread lock. `signal` aborts when the lock is lost (renewal failed), so work stops before it writes. */
export interface ThreadLock {
  readonly threadKey: string;
  readonly signal: AbortSignal;
  /** Throws `LockLostError` when the lock is no longer ours (call right before writing state). */
  assertHeld(): Promise<void>;
}

export interface LockOptions {
  /** Called once when the turn has to wait behind another turn of the same thread. */
  onQueued?: () => void | Promise<void>;
  /** Give up waiting after this long. */
  waitTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Cross-replica coordination: each platform event is handled once, and the turns of one thread run
 * one at a time, in arrival order. Memory and Redis implementations pass one contract suite.
 */
export interface Coordinator {
  /** True for the first claim of `eventId` within `ttlMs`; false for every repeat, from any replica. */
  claimEvent(eventId: string, ttlMs: number): Promise<boolean>;
  /** Gives back a claim this process made, so the event can be handled again (its work failed before anything was done). */
  releaseEvent(eventId: string): Promise<void>;
  /** Runs `work` while holding the thread's lock; waiting callers are served first come, first served. */
  withThreadLock<T>(threadKey: string, work: (lock: ThreadLock) => Promise<T>, options?: LockOptions): Promise<T>;
  /** Adds a thread to the set of threads with a turn in flight (what crash recovery scans). */
  markInFlight(threadKey: string): Promise<void>;
  clearInFlight(threadKey: string): Promise<void>;
  /** Threads with a turn in flight, possibly left behind by a process that died. */
  listInFlight(): Promise<string[]>;
  close(): Promise<void>;
}

export class LockWaitTimeoutError extends BotError {
  constructor(threadKey: string, waitedMs: number) {
    super({
      code: 'lock_wait_timeout',
      message: `Waited ${waitedMs} ms for the lock of ${threadKey}`,
      userMessage: 'I am still busy with earlier messages in this thread and could not get to yours in time. Please send it again.',
    });
  }
}

export class LockLostError extends BotError {
  constructor(threadKey: string) {
    super({
      code: 'lock_lost',
      message: `The lock of ${threadKey} expired or was taken over while a turn was running`,
      userMessage: 'This answer took too long and another turn took over the thread. Please ask again.',
    });
  }
}
