import type { TestProject } from 'vitest/node';
import { canConnect, redisServerBinary, startRedisServer, NO_REDIS_MESSAGE, type TestRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis shared by this test run; empty when none could be had. */
    redisUrl: string;
    redisUnavailableReason: string;
  }
}

let owned: TestRedis | undefined;

/**
 * Gives the run one Redis: our own `redis-server` on a free port when the binary exists, else
 * REDIS_URL. Tests that need it fail (never skip) when neither is available — see `requireRedisUrl`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binary = redisServerBinary();
  if (binary) {
    owned = await startRedisServer(binary);
    project.provide('redisUrl', owned.url);
    project.provide('redisUnavailableReason', '');
  } else if (process.env.REDIS_URL && (await canConnect(process.env.REDIS_URL))) {
    project.provide('redisUrl', process.env.REDIS_URL);
    project.provide('redisUnavailableReason', '');
  } else {
    project.provide('redisUrl', '');
    project.provide('redisUnavailableReason', NO_REDIS_MESSAGE);
  }
  return async () => {
    await owned?.stop();
  };
}
