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
  /** Gives up waiting (with `LockWaitTimeoutError`) once aborted; work already running is not affected. */
  signal?: AbortSignal;
}

/**
 * A message waiting for its thread's lock, recorded where every replica sees it so that it outlives
 * the process that received it. That process renews a lease on it while it waits (and while it
 * answers); once the lease has run out, the process is presumed dead and whoever holds the thread's
 * lock may take the message over (`adoptAbandonedPending`).
 */
export interface PendingHold {
  /** Arrival order within the thread: lower numbers arrived earlier. */
  readonly sequence: number;
  /** Renews the lease and says whether the entry is still ours (false: another process took it over and answers it). */
  isOurs(): Promise<boolean>;
  /** Replaces the stored payload (e.g. once the reply has a place on the platform); false when the entry is no longer ours. */
  update(payload: string): Promise<boolean>;
  /**
   * Deletes the entry if it is still ours and stops renewing. True: this process deals with the
   * message; false: another process took it over. Repeat calls give the first answer again. A call
   * that throws leaves the outcome open (the write may have been applied with its reply lost), so the
   * lease is still renewed and a later call settles it, counting an entry already gone as its own;
   * a caller that gives up calls `abandon`.
   */
  remove(): Promise<boolean>;
  /** Stops renewing and leaves the entry: once its lease runs out another process takes the message over. */
  abandon(): void;
}

/** A pending message as another process sees it. */
export interface PendingEntry {
  id: string;
  sequence: number;
  payload: string;
}

/** A pending message taken over from a process that stopped, and this process's hold on it. */
export interface AdoptedPending extends PendingEntry {
  hold: PendingHold;
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
  /** Takes a thread off the in-flight set, unless messages are still pending there (recovery must keep finding them). */
  clearInFlight(threadKey: string): Promise<void>;
  /**
   * Records `payload` as waiting in `threadKey`, leased to this process and renewed until removed,
   * and puts the thread in the in-flight set. Throws when it cannot be recorded.
   */
  addPending(threadKey: string, payload: string): Promise<PendingHold>;
  /** The entries waiting in a thread, oldest first, whoever holds them. */
  listPending(threadKey: string): Promise<PendingEntry[]>;
  /**
   * Takes over, oldest first, entries whose lease ran out (their process stopped), for the holder of
   * the thread's lock to answer: each stays recorded, payload and arrival order kept, under a lease
   * of this process (renewed until removed or abandoned), and the stopped holder's hold no longer
   * owns it. Nothing is lost if the answering stops halfway: the rest lapse to the next process.
   * Only the leading run is taken: an abandoned message is never answered ahead of a live one that
   * arrived before it. Each entry goes to one caller only. `arrivedBefore` limits it to entries with
   * a lower sequence.
   */
  adoptAbandonedPending(threadKey: string, options?: { arrivedBefore?: number }): Promise<AdoptedPending[]>;
  /** Threads with a turn in flight, possibly left behind by a process that died. */
  listInFlight(): Promise<string[]>;
  /**
   * Whether what is recorded here is seen by other processes and outlives this one (Redis). Only
   * then can a process that shuts down leave its waiting messages to another one.
   */
  readonly sharedAcrossProcesses: boolean;
  /** Stops renewing this process's pending leases (their messages are left to other processes). */
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
