import { createClient } from '@keyv/redis';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { ThreadState } from '../../../src/history/thread-state.js';
import { silentLogger } from '../../../src/observability/logger.js';

/** What the bot processes left in Redis under one key prefix, read the way the bot reads it. */
export interface SharedState {
  thread(threadKey: string): Promise<ThreadState | undefined>;
  /** Thread keys of turns marked in flight (crash recovery's work list). */
  inFlight(): Promise<string[]>;
  /** Messages recorded as waiting for the thread's lock, oldest first, as the engine wrote them. */
  waiting(threadKey: string): Promise<Array<Record<string, unknown>>>;
  /** Every key under the prefix of one kind (`lock`, `queue`, `thread`…). */
  keys(kind: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens the bot's own store on `redisUrl` (the schema check and key layout are the bot's, not a copy). */
export async function openSharedState(redisUrl: string, keyPrefix: string): Promise<SharedState> {
  const backends: StateBackends = await createStateBackends({ redisUrl, keyPrefix, threadTtlMs: 3_600_000, logger: silentLogger() });
  const client = createClient({ url: redisUrl });
  client.on('error', () => {});
  await client.connect();
  return {
    thread: async (threadKey) => (await backends.store.load(threadKey)).state,
    inFlight: () => backends.coordinator.listInFlight(),
    waiting: async (threadKey) => (await backends.coordinator.listPending(threadKey)).map((entry) => JSON.parse(entry.payload) as Record<string, unknown>),
    keys: async (kind) => {
      const found: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${keyPrefix}:${kind}:*`, COUNT: 500 })) found.push(...batch);
      return found.sort();
    },
    close: async () => {
      await client.close();
      await backends.close();
    },
  };
}
