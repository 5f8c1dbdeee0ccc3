import type { ServerResponse } from 'node:http';
import { BotError } from '../errors.js';
import type { RedisClusterClient } from '../redis/cluster-connection.js';
import { pingEveryMaster, RedisClusterMastersUnreachableError } from '../redis/cluster-readiness.js';
import type { HttpServer } from '../http/http-server.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** One dependency `/readyz` asks about. */
export interface ReadinessCheck {
  /** Short, stable name shown in the `/readyz` body (`redis`, `model-provider`). */
  name: string;
  /**
   * Resolves when the dependency is usable, rejects when not. `signal` aborts when the check's time
   * (`timeoutMs`) is up; a check made of several probes can give each a share of it. A rejection
   * with an `unreachable` list of names (see `CheckResult`) names the parts that failed; resolving
   * with `{ degraded }` names parts that failed while the dependency as a whole still serves.
   */
  check: (signal: AbortSignal, timeoutMs: number) => Promise<void | { degraded: string[] }>;
  /** Overrides `HealthRoutesOptions.checkTimeoutMs` for this check. */
  timeoutMs?: number;
}

export interface HealthRoutesOptions {
  metrics: Metrics;
  readiness: readonly ReadinessCheck[];
  /** How long one check may take before it counts as failed; a hung dependency must not hang the probe. Default 2000 ms. */
  checkTimeoutMs?: number;
  /** Where failing checks are explained (the HTTP body only says which failed, never why: it may be public). */
  logger?: Logger;
}

/** What `/readyz` reports for one check. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** `timeout`, or the code (ours) or class name (a library's) of the error the check threw; never its message. */
  failure?: string;
  /** The parts of the dependency that failed, when the check names them (a cluster's masters as `host:port`). */
  unreachable?: string[];
  /** Parts that failed while the dependency still serves (`ok` stays true): worth an alert, not a restart. */
  degraded?: string[];
}

/** Kept small: every probe and scrape of a replica calls these routes. */
const NO_STORE = { 'cache-control': 'no-store' };

/**
 * Registers `GET /healthz` (the process answers), `GET /readyz` (every readiness check passes, each
 * within its timeout; 503 otherwise; `status: degraded` with 200 when a check passes with parts
 * down) and `GET /metrics` (Prometheus text format) on `http`.
 *
 * @example
 * registerHealthRoutes(http, { metrics, readiness: [redisReadinessCheck(backends.redis)], logger });
 */
export function registerHealthRoutes(http: HttpServer, options: HealthRoutesOptions): void {
  const runChecks = readinessRunner(options);

  http.route('GET', '/healthz', (_request, response) => {
    sendJson(response, 200, { status: 'ok' });
  });

  http.route('GET', '/readyz', async (_request, response) => {
    const checks = await runChecks();
    const ready = checks.every((check) => check.ok);
    const status = !ready ? 'not-ready' : checks.some((check) => check.degraded) ? 'degraded' : 'ready';
    sendJson(response, ready ? 200 : 503, { status, checks });
  });

  http.route('GET', '/metrics', async (_request, response) => {
    const body = await options.metrics.registry.metrics();
    response.writeHead(200, { 'content-type': options.metrics.registry.contentType, ...NO_STORE }).end(body);
  });
}

/**
 * A readiness check that PINGs Redis. With a node-redis client the ping is aborted at the deadline, so
 * probes against a hung server do not pile up in its command queue. On a Redis Cluster it PINGs every
 * master the client knows (one ping would reach a single node) and names those that did not answer.
 * Some masters down is `degraded`, not unready: every replica shares the cluster, so failing them all
 * would turn an outage of some threads into an outage of all of them.
 */
export function redisReadinessCheck(client: PingableRedis | RedisClusterClient, name = 'redis'): ReadinessCheck {
  if (isClusterClient(client)) {
    return {
      name,
      // Each master gets most of the time, so one that hangs is named before the whole check times out.
      check: async (signal, timeoutMs) => {
        const unreachable = await pingEveryMaster(client, { signal, perMasterTimeoutMs: Math.floor(timeoutMs * 0.8) });
        return unreachable.length > 0 ? { degraded: unreachable.map((master) => master.address) } : undefined;
      },
    };
  }
  return {
    name,
    check: async (signal) => {
      const target = typeof client.withAbortSignal === 'function' ? client.withAbortSignal(signal) : client;
      await target.ping();
    },
  };
}

/** The part of a node-redis client (standalone or sentinel) a ping needs. */
export interface PingableRedis {
  ping(): Promise<unknown>;
  withAbortSignal?(signal: AbortSignal): { ping(): Promise<unknown> };
}

function isClusterClient(client: PingableRedis | RedisClusterClient): client is RedisClusterClient {
  return 'masters' in client && 'nodeClient' in client;
}

/** Runs all checks in parallel; concurrent probes share one run instead of multiplying load on a struggling dependency. */
function readinessRunner(options: HealthRoutesOptions): () => Promise<CheckResult[]> {
  const defaultTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const lastState = new Map<string, string>();
  let running: Promise<CheckResult[]> | undefined;

  const runOne = async (readiness: ReadinessCheck): Promise<CheckResult> => {
    const timeoutMs = readiness.timeoutMs ?? defaultTimeoutMs;
    const outcome = await withDeadline((signal) => readiness.check(signal, timeoutMs), timeoutMs);
    const ok = outcome !== 'timeout' && !('error' in outcome);
    const degraded = ok && outcome.degraded && outcome.degraded.length > 0 ? outcome.degraded : undefined;
    // Log transitions, not every probe: a load balancer asks every few seconds.
    const state = !ok ? 'failing' : degraded ? `degraded:${degraded.join(',')}` : 'passing';
    if (lastState.get(readiness.name) !== state) {
      if (!ok) options.logger?.warn({ check: readiness.name, err: outcome === 'timeout' ? `no answer within ${timeoutMs} ms` : outcome.error }, 'readiness check fails');
      else if (degraded) options.logger?.warn({ check: readiness.name, degraded }, 'readiness check passes with parts down');
      else options.logger?.info({ check: readiness.name }, 'readiness check passes');
      lastState.set(readiness.name, state);
    }
    if (ok) return { name: readiness.name, ok, ...(degraded ? { degraded } : {}) };
    if (outcome === 'timeout') return { name: readiness.name, ok, failure: 'timeout' };
    const unreachable = unreachableOf(outcome.error);
    return { name: readiness.name, ok, failure: failureName(outcome.error), ...(unreachable ? { unreachable } : {}) };
  };

  return () => {
    running ??= Promise.all(options.readiness.map(runOne)).finally(() => {
      running = undefined;
    });
    return running;
  };
}

type CheckOutcome = 'timeout' | { error: unknown } | { degraded?: string[] | undefined };

async function withDeadline(check: (signal: AbortSignal) => Promise<void | { degraded: string[] }>, timeoutMs: number): Promise<CheckOutcome> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
      controller.abort(new Error(`readiness check exceeded ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    // A check that ignores the signal is simply abandoned; its late result is dropped.
    const checked = Promise.resolve()
      .then(() => check(controller.signal))
      .then(
        (passed): CheckOutcome => ({ degraded: passed?.degraded }),
        (error: unknown): CheckOutcome => ({ error }),
      );
    return await Promise.race([checked, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Messages can carry hosts and internals; `/readyz` may be reachable from outside, so it gets a name only. */
function failureName(error: unknown): string {
  if (error instanceof BotError) return error.code;
  if (error instanceof Error && error.name !== 'Error') return error.name;
  return 'failed';
}

/** The parts a failed check names (a cluster's masters, as addresses, never URLs), if it names any. */
function unreachableOf(error: unknown): string[] | undefined {
  return error instanceof RedisClusterMastersUnreachableError ? [...error.unreachable] : undefined;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...NO_STORE }).end(`${JSON.stringify(body)}\n`);
}
