import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, type RouteHandler } from '../../../src/http/http-server.js';
import { registerHealthRoutes, redisReadinessCheck, type HealthRoutesOptions, type ReadinessCheck } from '../../../src/observability/health.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { createRedisClient, startConnecting, type RedisClient } from '../../../src/redis/connection.js';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl } from '../../support/redis.js';
import { redisServerBinary, startRedisServer, type TestRedis } from '../../support/redis-server.js';

interface ReadyBody {
  status: 'ready' | 'not-ready';
  checks: { name: string; ok: boolean; failure?: string }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Counts requests that reached a route handler, so a test knows when its requests are all in flight. */
class CountingHttpServer extends HttpServer {
  received = 0;
  override route(method: string, path: string, handler: RouteHandler): void {
    super.route(method, path, (request, response) => {
      this.received += 1;
      return handler(request, response);
    });
  }
}

async function serve(options: Partial<HealthRoutesOptions> = {}, http: HttpServer = new HttpServer()): Promise<{ url: string; metrics: Metrics }> {
  const metrics = options.metrics ?? new Metrics();
  registerHealthRoutes(http, { metrics, readiness: [], logger: silentLogger(), ...options });
  const port = await http.listen(0, '127.0.0.1');
  cleanups.push(() => http.close());
  return { url: `http://127.0.0.1:${port}`, metrics };
}

async function readiness(url: string): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

/** Probes until `/readyz` answers `status` (as a load balancer would), failing after `deadlineMs`. */
async function readinessBecomes(url: string, status: number, deadlineMs = 15_000): Promise<ReadyBody> {
  const deadline = Date.now() + deadlineMs;
  let last: { status: number; body: ReadyBody } | undefined;
  while (Date.now() < deadline) {
    last = await readiness(url);
    if (last.status === status) return last.body;
    await delay(100);
  }
  throw new Error(`/readyz stayed ${last?.status} (${JSON.stringify(last?.body)}) instead of ${status}`);
}

async function connectedClient(url: string, commandTimeoutMs = 2_000): Promise<RedisClient> {
  const client = createRedisClient({ url, logger: silentLogger(), commandTimeoutMs });
  expect(await startConnecting(client, 5_000)).toBe(true);
  cleanups.push(async () => {
    if (client.isOpen) await client.close().catch(() => client.destroy());
    else client.destroy();
  });
  return client;
}

async function ownRedis(): Promise<TestRedis> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('These tests stop and restart their own redis-server: install it (`apt-get install -y redis-server`).');
  const redis = await startRedisServer(binary);
  cleanups.push(async () => {
    redis.resume?.();
    await redis.stop();
  });
  return redis;
}

describe('health routes', () => {
  it('answers /healthz while the process runs, whatever its dependencies say', async () => {
    const { url } = await serve({ readiness: [{ name: 'broken', check: async () => Promise.reject(new Error('down')) }] });
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('reports ready when the shared Redis answers', async () => {
    const client = await connectedClient(requireRedisUrl());
    const { url } = await serve({ readiness: [redisReadinessCheck(client)] });
    expect(await readiness(url)).toEqual({ status: 200, body: { status: 'ready', checks: [{ name: 'redis', ok: true }] } });
  });

  it('turns /readyz unhealthy when Redis stops and healthy when it returns', async () => {
    const redis = await ownRedis();
    const client = await connectedClient(redis.url);
    const { url } = await serve({ readiness: [redisReadinessCheck(client)], checkTimeoutMs: 500 });
    expect((await readiness(url)).status).toBe(200);

    await redis.stop();
    const down = await readinessBecomes(url, 503);
    expect(down.status).toBe('not-ready');
    expect(down.checks).toHaveLength(1);
    expect(down.checks[0]).toMatchObject({ name: 'redis', ok: false });
    expect(down.checks[0]?.failure).toMatch(/^[A-Za-z]+$/);

    await redis.restart?.();
    expect(await readinessBecomes(url, 200)).toEqual({ status: 'ready', checks: [{ name: 'redis', ok: true }] });
  });

  it('fails /readyz with a timeout instead of hanging when Redis accepts connections but never answers', async () => {
    const redis = await ownRedis();
    // A command timeout far beyond the check's, so only the check's own deadline can end the probe.
    const client = await connectedClient(redis.url, 60_000);
    const { url } = await serve({ readiness: [redisReadinessCheck(client)], checkTimeoutMs: 300 });
    redis.pause?.();
    expect(await readiness(url)).toEqual({ status: 503, body: { status: 'not-ready', checks: [{ name: 'redis', ok: false, failure: 'timeout' }] } });
    redis.resume?.();
    await readinessBecomes(url, 200);
  });

  it('reports every check by name, so one hung dependency does not hide the others', async () => {
    const never: ReadinessCheck = { name: 'search-api', check: () => new Promise(() => {}), timeoutMs: 100 };
    const fine: ReadinessCheck = { name: 'model-provider', check: async () => {} };
    const { url } = await serve({ readiness: [fine, never] });
    expect(await readiness(url)).toEqual({
      status: 503,
      body: { status: 'not-ready', checks: [{ name: 'model-provider', ok: true }, { name: 'search-api', ok: false, failure: 'timeout' }] },
    });
  });

  it('names a failure by its error class, never by its message', async () => {
    class UpstreamRefusedError extends Error {
      override name = 'UpstreamRefusedError';
    }
    const leaky: ReadinessCheck = { name: 'model-provider', check: async () => Promise.reject(new UpstreamRefusedError('refused by 10.0.0.7 with key nv-abcdef')) };
    const { url } = await serve({ readiness: [leaky] });
    const response = await fetch(`${url}/readyz`);
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toEqual({ status: 'not-ready', checks: [{ name: 'model-provider', ok: false, failure: 'UpstreamRefusedError' }] });
    expect(text).not.toContain('10.0.0.7');
  });

  it('lets concurrent probes share one run of the checks', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: ReadinessCheck = {
      name: 'gated',
      check: async () => {
        runs += 1;
        await gate;
      },
    };
    const http = new CountingHttpServer();
    const { url } = await serve({ readiness: [gated] }, http);
    const probes = [readiness(url), readiness(url), readiness(url)];
    while (http.received < 3) await delay(5);
    release();
    expect((await Promise.all(probes)).map((probe) => probe.status)).toEqual([200, 200, 200]);
    expect(runs).toBe(1);
    await readiness(url);
    expect(runs).toBe(2);
  });

  it('exposes the bot series on /metrics after a turn', async () => {
    const redisUrl = requireRedisUrl();
    const metrics = new Metrics({ collectProcessMetrics: true });
    const answerer = scriptedAnswerer([{ text: 'Reset it from the billing page.' }]);
    const testEngine = await createTestEngine({ answerer, redisUrl, metrics });
    cleanups.push(async () => {
      await testEngine.close();
      await deleteKeysWithPrefix(redisUrl, testEngine.keyPrefix);
    });
    const { url } = await serve({ metrics, readiness: [redisReadinessCheck(testEngine.backends.redis!)] });

    const outcome = await testEngine.engine.handle(incomingMessage('console:metrics-thread', 'How do I reset my invoice address?'), recordingSink());
    expect(outcome.kind).toBe('answered');

    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await response.text();
    for (const series of [
      'threadline_turns_total',
      'threadline_queue_wait_seconds',
      'threadline_retrieval_seconds',
      'threadline_rerank_seconds',
      'threadline_model_first_token_seconds',
      'threadline_turn_seconds',
      'threadline_model_tokens_total',
      'threadline_compactions_total',
      'threadline_rate_limit_waits_total',
      'threadline_errors_total',
      'threadline_process_resident_memory_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${series} `);
    }
    expect(sampleValue(text, 'threadline_turns_total{platform="console",outcome="answered"}')).toBe(1);
    expect(sampleValue(text, 'threadline_turn_seconds_count')).toBe(1);
    expect(sampleValue(text, 'threadline_queue_wait_seconds_count')).toBe(1);
  });
});

/** The value of one sample line in the Prometheus text format. */
function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
