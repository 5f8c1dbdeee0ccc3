import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createClient } from '@keyv/redis';
import type { RedisClient } from '../../src/redis/connection.js';

/** The run's Redis URL; throws with instructions when there is none (tests never silently skip). */
export function requireRedisUrl(): string {
  const url = inject('redisUrl');
  if (!url) throw new Error(inject('redisUnavailableReason'));
  return url;
}

/** A key prefix no other test (or run) shares. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** A plain node-redis client for the duration of `work` (test set-up and inspection, outside the bot). */
export async function withRedisClient<T>(url: string, work: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Deletes every key under `prefix` (never FLUSHALL: the server may be shared). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  await withRedisClient(url, async (client) => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  });
}
