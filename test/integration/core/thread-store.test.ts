import { afterAll, describe, expect, it } from 'vitest';
import Keyv from 'keyv';
import { ThreadStore } from '../../../src/history/thread-store.js';
import { emptyThreadState } from '../../../src/history/thread-state.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';

interface StoreUnderTest {
  store: ThreadStore;
  /** Writes `raw` as the stored bytes of the thread's record, bypassing the store. */
  corrupt(threadKey: string, raw: string): Promise<void>;
  /** The raw value at a key, or undefined. */
  rawAt(key: string): Promise<string | undefined>;
  /** Remaining time-to-live of a key in ms (undefined when unknown for this backend). */
  ttlOf(key: string): Promise<number | undefined>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function memoryStore(): Promise<StoreUnderTest> {
  const map = new Map<string, string>();
  const store = new ThreadStore(new Keyv({ store: map, useKeyPrefix: false }), { keyPrefix: 'mem', ttlMs: 60_000, logger: silentLogger() });
  return {
    store,
    corrupt: async (threadKey, raw) => void map.set(store.threadRecordKey(threadKey), raw),
    rawAt: async (key) => map.get(key),
    ttlOf: async () => undefined,
  };
}

async function redisStore(): Promise<StoreUnderTest> {
  const url = requireRedisUrl();
  const prefix = uniquePrefix('store');
  const backends: StateBackends = await createStateBackends({ redisUrl: url, keyPrefix: prefix, threadTtlMs: 60_000, logger: silentLogger() });
  const redis = backends.redis!;
  cleanups.push(async () => {
    await deleteKeysWithPrefix(url, prefix);
    await backends.close();
  });
  return {
    store: backends.store,
    corrupt: async (threadKey, raw) => void (await redis.set(backends.store.threadRecordKey(threadKey), raw)),
    rawAt: async (key) => (await redis.get(key)) ?? undefined,
    ttlOf: async (key) => redis.pTTL(key),
  };
}

for (const [name, make] of [['memory', memoryStore], ['redis', redisStore]] as const) {
  describe(`ThreadStore: ${name}`, () => {
    it('round-trips a thread state', async () => {
      const { store } = await make();
      const state = emptyThreadState('slack:T1:C1:1.000', 1);
      state.messages.push({ id: 'm1', role: 'user', content: '안녕하세요 — hello 👋', createdAt: 1, tokens: { count: 7, source: 'estimate' } });
      await store.save(state);
      expect((await store.load(state.threadKey)).state).toEqual(state);
      expect(await store.exists(state.threadKey)).toBe(true);
      await store.delete(state.threadKey);
      expect((await store.load(state.threadKey)).state).toBeUndefined();
    });

    it('moves an unparseable record to a quarantine key instead of overwriting it', async () => {
      const { store, corrupt, rawAt } = await make();
      await corrupt('slack:T1:C1:2.000', '{"value": not json');
      const loaded = await store.load('slack:T1:C1:2.000');
      expect(loaded.state).toBeUndefined();
      expect(loaded.quarantinedAs).toMatch(/:quarantine:slack:T1:C1:2\.000:/);
      expect(await rawAt(loaded.quarantinedAs!)).toContain('not json');
      expect(await rawAt(store.threadRecordKey('slack:T1:C1:2.000'))).toBeUndefined();
    });

    it('quarantines a record with an unknown schema version, keeping its content', async () => {
      const { store, corrupt, rawAt } = await make();
      const future = { ...emptyThreadState('t-future', 1), version: 99, messages: [{ id: 'keep-me' }] };
      await corrupt('t-future', JSON.stringify({ value: future }));
      const loaded = await store.load('t-future');
      expect(loaded.quarantinedAs).toBeDefined();
      expect(await rawAt(loaded.quarantinedAs!)).toContain('keep-me');
    });
  });
}

describe('ThreadStore on Redis', () => {
  it('refreshes the thread time-to-live on every save', async () => {
    const { store, ttlOf } = await redisStore();
    const state = emptyThreadState('ttl-thread', 1);
    await store.save(state);
    const ttl = await ttlOf(store.threadRecordKey('ttl-thread'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('writes keys exactly once prefixed (no keyv namespace doubling)', async () => {
    const { store, rawAt } = await redisStore();
    await store.save(emptyThreadState('prefix-thread', 1));
    expect(await rawAt(store.threadRecordKey('prefix-thread'))).toContain('"threadKey":"prefix-thread"');
    expect(store.threadRecordKey('prefix-thread')).toMatch(/^test-store-[^:]+:thread:prefix-thread$/);
  });
});

describe('the in-memory store', () => {
  it('forgets expired threads when swept, keeping live ones', async () => {
    const { dropExpiredRecords } = await import('../../../src/engine/state-backends.js');
    const records = new Map<string, unknown>();
    const store = new ThreadStore(new Keyv({ store: records, useKeyPrefix: false }), { keyPrefix: 'mem', ttlMs: 1_000, logger: silentLogger() });
    await store.save(emptyThreadState('old', 1));
    await store.save(emptyThreadState('fresh', 1));
    expect(dropExpiredRecords(records, Date.now() + 500)).toBe(0);
    expect(dropExpiredRecords(records, Date.now() + 5_000)).toBe(2);
    expect(records.size).toBe(0);
  });
});
