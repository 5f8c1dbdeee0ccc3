import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../../src/http/http-server.js';
import { registerHealthRoutes, redisReadinessCheck } from '../../../src/observability/health.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { createRedisClusterClient, startConnectingCluster, type RedisClusterClient } from '../../../src/redis/cluster-connection.js';
import { startRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';

interface ReadyBody {
  status: 'ready' | 'degraded' | 'not-ready';
  checks: { name: string; ok: boolean; failure?: string; unreachable?: string[]; degraded?: string[] }[];
}

/** Each test starts its own cluster (up to six servers) and waits out a failover: generous on a loaded machine. */
const CLUSTER_TEST_TIMEOUT_MS = 90_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startCluster(options: Parameters<typeof startRedisCluster>[0]): Promise<TestRedisCluster> {
  const cluster = await startRedisCluster(options);
  cleanups.push(() => cluster.stop());
  return cluster;
}

/** The bot's cluster client, connected, and `/readyz` served over it as `main` does. */
async function serveReadiness(nodeUrls: string[]): Promise<{ url: string; client: RedisClusterClient }> {
  const client = createRedisClusterClient({ nodeUrls, logger: silentLogger() });
  const connecting = new AbortController();
  cleanups.push(async () => {
    connecting.abort();
    // Not a graceful close: it would wait for replies from a node a failed test left frozen.
    client.destroy();
  });
  expect(await startConnectingCluster(client, 10_000, connecting.signal)).toBe(true);
  const http = new HttpServer();
  registerHealthRoutes(http, { metrics: new Metrics(), readiness: [redisReadinessCheck(client)], logger: silentLogger() });
  const port = await http.listen(0, '127.0.0.1');
  cleanups.push(() => http.close());
  return { url: `http://127.0.0.1:${port}/readyz`, client };
}

async function probe(url: string): Promise<{ status: number; text: string; body: ReadyBody }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as ReadyBody };
}

/** Probes as a load balancer would until `/readyz` reports `status`. */
async function readinessBecomes(url: string, status: ReadyBody['status'], deadlineMs = 30_000): Promise<{ status: number; text: string; body: ReadyBody }> {
  const deadline = Date.now() + deadlineMs;
  let last: Awaited<ReturnType<typeof probe>> | undefined;
  while (Date.now() < deadline) {
    last = await probe(url);
    if (last.body.status === status) return last;
    await delay(50);
  }
  throw new Error(`/readyz stayed ${last?.status} (${last?.text.trim()}) instead of ${status}`);
}

describe('/readyz on a Redis Cluster', () => {
  it('names a master that stopped answering, without the password, stays in rotation meanwhile, and is ready again once its replica took over', async () => {
    const password = 'ready-Pass-93c1';
    // A node timeout long enough that the outage is seen before the failover ends it.
    const cluster = await startCluster({ password, withReplicas: true, nodeTimeoutMs: 3_000 });
    const [first, ...rest] = cluster.nodeUrls;
    const { url, client } = await serveReadiness([first!.replace('redis://', `redis://:${password}@`), ...rest]);
    expect(await probe(url)).toMatchObject({ status: 200, body: { status: 'ready', checks: [{ name: 'redis', ok: true }] } });
    expect(client.masters).toHaveLength(3);

    const doomed = client.masters[1]!.address;
    cluster.kill(doomed);
    // Every replica shares the cluster: taking them all out of rotation would fail the threads the other masters still serve.
    const down = await readinessBecomes(url, 'degraded');
    expect(down.status).toBe(200);
    expect(down.body).toEqual({ status: 'degraded', checks: [{ name: 'redis', ok: true, degraded: [doomed] }] });
    expect(down.text).not.toContain(password);

    await readinessBecomes(url, 'ready');
    expect(client.masters.map((master) => master.address)).not.toContain(doomed);
    expect(client.masters).toHaveLength(3);
  }, CLUSTER_TEST_TIMEOUT_MS);

  it('names a master that hangs or dies while no replica can take over, and is ready again when it answers', async () => {
    const cluster = await startCluster({});
    const { url, client } = await serveReadiness(cluster.nodeUrls);
    expect((await probe(url)).status).toBe(200);
    const [doomed, ...others] = client.masters.map((master) => master.address) as [string, ...string[]];
    const outage = { status: 'degraded', checks: [{ name: 'redis', ok: true, degraded: [doomed] }] };

    // A frozen server keeps its connections open and answers nothing: named, not a bare "timeout".
    cluster.pause(doomed);
    expect((await readinessBecomes(url, 'degraded')).body).toEqual(outage);
    cluster.resume(doomed);
    await readinessBecomes(url, 'ready');

    cluster.kill(doomed);
    expect((await readinessBecomes(url, 'degraded')).body).toEqual(outage);
    // Nothing can take its slots over: it stays the master the client knows, and stays named.
    expect((await probe(url)).body).toEqual(outage);

    await cluster.restart(doomed);
    await readinessBecomes(url, 'ready');
    expect(client.masters.map((master) => master.address).sort()).toEqual([doomed, ...others].sort());
  }, CLUSTER_TEST_TIMEOUT_MS);

  it('is not ready, naming every master, when none of them answers', async () => {
    const cluster = await startCluster({});
    const { url, client } = await serveReadiness(cluster.nodeUrls);
    const masters = client.masters.map((master) => master.address);
    for (const master of masters) cluster.pause(master);
    const down = await readinessBecomes(url, 'not-ready');
    expect(down.status).toBe(503);
    expect(down.body.checks).toEqual([{ name: 'redis', ok: false, failure: 'redis_cluster_master_unreachable', unreachable: expect.arrayContaining(masters) }]);
    expect(down.body.checks[0]?.unreachable).toHaveLength(masters.length);
    for (const master of masters) cluster.resume(master);
    await readinessBecomes(url, 'ready');
  }, CLUSTER_TEST_TIMEOUT_MS);
});
