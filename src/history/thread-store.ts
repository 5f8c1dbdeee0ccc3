import Keyv from 'keyv';
import { threadStateSchema, THREAD_STATE_VERSION, type ThreadState } from './thread-state.js';
import { BotError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Feedback } from '../engine/types.js';

/** A stored record that is not valid JSON; kept verbatim so it can be quarantined. */
class UnreadableRecord {
  constructor(readonly raw: string) {}
}

/** The store could not read or write. */
export class ThreadStoreError extends BotError {
  constructor(operation: string, threadKey: string, cause: unknown) {
    super({
      code: 'store_unavailable',
      message: `Thread store ${operation} failed for ${threadKey}: ${cause instanceof Error ? cause.message : String(cause)}`,
      userMessage: 'I cannot reach my conversation memory right now, so I could not take your message. Please send it again in a minute.',
      cause,
    });
  }
}

export interface LoadedThread {
  state: ThreadState | undefined;
  /** Set when an unreadable record was moved aside; the turn continues on a fresh state. */
  quarantinedAs?: string;
}

export interface ThreadStoreOptions {
  /** Prefix of every key, e.g. `threadline`. */
  keyPrefix: string;
  ttlMs: number;
  logger: Logger;
  /** Quarantined records are kept this long for an operator to inspect. */
  quarantineTtlMs?: number;
}

/**
 * Thread memory on keyv: in-process `Map` by default, `@keyv/redis` in production. Records are
 * versioned JSON; one that cannot be parsed or has an unknown version is never overwritten — it is
 * copied to a quarantine key, logged, and the caller is told so it can inform the user.
 */
export class ThreadStore {
  private readonly keyv: Keyv;
  private readonly options: Required<ThreadStoreOptions>;

  constructor(keyv: Keyv, options: ThreadStoreOptions) {
    this.keyv = keyv;
    // Parsing is ours: a corrupt record must surface as data to quarantine, not as an exception inside keyv.
    this.keyv.serialize = (data) => JSON.stringify(data);
    this.keyv.deserialize = <Value>(text: string) => {
      try {
        return JSON.parse(text) as { value?: Value; expires?: number };
      } catch {
        return { value: new UnreadableRecord(text) as Value };
      }
    };
    this.options = { quarantineTtlMs: 30 * 24 * 3600 * 1000, ...options };
  }

  threadRecordKey(threadKey: string): string {
    return `${this.options.keyPrefix}:thread:${threadKey}`;
  }

  async load(threadKey: string): Promise<LoadedThread> {
    const key = this.threadRecordKey(threadKey);
    const stored = await this.call('load', threadKey, () => this.keyv.get<unknown>(key));
    if (stored === undefined || stored === null) return { state: undefined };
    const checked = checkRecord(stored);
    if (checked.state) return { state: checked.state };
    const problem = checked.problem;

    const quarantineKey = `${this.options.keyPrefix}:quarantine:${threadKey}:${Date.now()}`;
    const raw = stored instanceof UnreadableRecord ? stored.raw : JSON.stringify(stored);
    await this.call('quarantine', threadKey, async () => {
      await this.keyv.set(quarantineKey, { problem, raw }, this.options.quarantineTtlMs);
      await this.keyv.delete(key);
    });
    this.options.logger.error({ threadKey, quarantineKey, problem }, 'unreadable thread record moved aside; the thread starts fresh');
    return { state: undefined, quarantinedAs: quarantineKey };
  }

  /** Writes the state and refreshes the thread's time-to-live. */
  async save(state: ThreadState): Promise<void> {
    await this.call('save', state.threadKey, async () => {
      const written = await this.keyv.set(this.threadRecordKey(state.threadKey), state, this.options.ttlMs);
      if (!written) throw new Error('keyv reported the write as failed');
    });
  }

  async delete(threadKey: string): Promise<void> {
    await this.call('delete', threadKey, () => this.keyv.delete(this.threadRecordKey(threadKey)));
  }

  async exists(threadKey: string): Promise<boolean> {
    return this.call('exists', threadKey, () => this.keyv.has(this.threadRecordKey(threadKey)));
  }

  /** One record per user and answer, so concurrent clicks never overwrite each other. */
  async saveFeedback(feedback: Feedback): Promise<void> {
    const key = `${this.options.keyPrefix}:feedback:${feedback.threadKey}:${feedback.answerId}:${feedback.userId}`;
    await this.call('feedback', feedback.threadKey, () => this.keyv.set(key, feedback, this.options.ttlMs));
  }

  async loadFeedback(threadKey: string, answerId: string, userId: string): Promise<Feedback | undefined> {
    const key = `${this.options.keyPrefix}:feedback:${threadKey}:${answerId}:${userId}`;
    return this.call('feedback', threadKey, () => this.keyv.get<Feedback>(key));
  }

  private async call<T>(operation: string, threadKey: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new ThreadStoreError(operation, threadKey, error);
    }
  }
}

/** The validated state, or what is wrong with the record (one schema pass: records can hold thousands of messages). */
function checkRecord(stored: unknown): { state: ThreadState; problem?: undefined } | { state?: undefined; problem: string } {
  if (stored instanceof UnreadableRecord) return { problem: 'not valid JSON' };
  const version = (stored as { version?: unknown })?.version;
  if (version !== THREAD_STATE_VERSION) return { problem: `unknown schema version ${JSON.stringify(version)} (this build reads version ${THREAD_STATE_VERSION})` };
  const parsed = threadStateSchema.safeParse(stored);
  if (!parsed.success) return { problem: `does not match the schema: ${parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` };
  return { state: parsed.data };
}
