import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../redis.js';
import { openSharedState, type SharedState } from './shared-state.js';

/** What the bot processes of one test share besides their platform: a fake CLOVA Studio and Redis under a key prefix of their own. */
export interface ProcessBed {
  clova: FakeClova;
  /** What the processes left in Redis, read the way the bot reads it. */
  state: SharedState;
  /** The variables that point a bot process at the fake CLOVA and at the prefix (the platform's own come on top). */
  env: Record<string, string>;
}

/**
 * Starts a fake CLOVA and opens the run's Redis under a fresh prefix named for `label`. Pushes their
 * clean-up (closing both, deleting the prefix's keys) on `cleanups`, from `cleanUpAfterEachTest`.
 */
export async function startProcessBed(cleanups: Array<() => Promise<void>>, label: string): Promise<ProcessBed> {
  const redisUrl = requireRedisUrl();
  const keyPrefix = uniquePrefix(label);
  const clova = await startFakeClova();
  cleanups.push(() => clova.close(), () => deleteKeysWithPrefix(redisUrl, keyPrefix));
  const state = await openSharedState(redisUrl, keyPrefix);
  cleanups.push(() => state.close());
  const env = { CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: clova.url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix };
  return { clova, state, env };
}

/** For crash tests: a dead holder frees its thread after three seconds, and survivors look for orphans five times a second. */
export const QUICK_RECOVERY_ENV = { THREAD_LOCK_TTL_MS: '3000', RECOVERY_SWEEP_MS: '200' };
