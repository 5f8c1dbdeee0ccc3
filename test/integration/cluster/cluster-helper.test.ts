import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NO_REDIS_CLUSTER_MESSAGE, startRedisCluster } from '../../support/redis-cluster.js';
import { redisServerBinary } from '../../support/redis-server.js';

describe('The test Redis Cluster', () => {
  it('fails with install instructions, instead of skipping, when redis-cli is not installed', async () => {
    const server = redisServerBinary();
    if (!server) throw new Error(NO_REDIS_CLUSTER_MESSAGE);
    const shell = spawnSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).stdout.trim();
    // A PATH with a shell and redis-server but no redis-cli.
    const bin = await mkdtemp(join(tmpdir(), 'threadline-no-cli-'));
    await symlink(shell, join(bin, 'sh'));
    await symlink(server, join(bin, 'redis-server'));
    const savedPath = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(startRedisCluster()).rejects.toThrow(NO_REDIS_CLUSTER_MESSAGE);
    } finally {
      process.env.PATH = savedPath;
      await rm(bin, { recursive: true, force: true });
    }
    expect(NO_REDIS_CLUSTER_MESSAGE).toMatch(/apt-get install -y redis-server/);
  });
});
