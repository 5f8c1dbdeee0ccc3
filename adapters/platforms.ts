import type { Config } from '../src/config/config.js';
import type { ConversationEngine } from '../src/engine/types.js';
import type { StateBackends } from '../src/engine/state-backends.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { HttpServer } from '../src/http/http-server.js';
import { BotError } from '../src/errors.js';
import { registerHealthRoutes, redisReadinessCheck, type ReadinessCheck } from '../src/observability/health.js';
import type { ModelStack } from '../src/composition/model-stack.js';
import type { RateBudgets } from '../src/composition/rate-budgets.js';
import type { SettingsStore } from '../src/settings/index.js';
import { runConsoleChat } from './console/console-adapter.js';
import { createPlatformAdapters, type PlatformAdapter } from './platform-adapters.js';

export interface PlatformDependencies {
  engine: ConversationEngine;
  backends: StateBackends;
  models: ModelStack;
  settings: SettingsStore;
  logger: Logger;
  metrics: Metrics;
  consoleMode: boolean;
  /** Upstream rate budgets (Slack's `chat.update` per workspace), shared by replicas on Redis; default per process. */
  rateBudgets?: RateBudgets;
}

export interface RunningPlatforms {
  /** Resolves when the process should exit on its own (the console's input ended). */
  finished: Promise<{ exitCode: number }>;
  /** Stops taking new events (first step of a graceful shutdown); adapters that drain get up to `deadlineMs`. */
  stopAccepting(deadlineMs?: number): Promise<void>;
  close(): Promise<void>;
}


/**
 * Starts the adapters the configuration enables — Slack, Discord, or the console chat when no
 * platform is configured — and the HTTP server they and the health/metrics routes share.
 */
export async function startPlatforms(config: Config, dependencies: PlatformDependencies): Promise<RunningPlatforms> {
  const { engine, backends, models, logger, metrics } = dependencies;
  const http = new HttpServer();
  const adapters: PlatformAdapter[] = [];

  const platformAdapters = await createPlatformAdapters(config, { ...dependencies, http });
  adapters.push(...platformAdapters);

  // Health and metrics are served whenever a port is in use anyway, or when the operator asked for one.
  const wantHttp = http.hasRoutes || process.env.PORT !== undefined;
  let accepting = true;
  if (wantHttp) {
    // Fails once shutdown began, so a load balancer stops routing here while running turns finish.
    const acceptingEvents: ReadinessCheck = {
      name: 'accepting-events',
      check: async () => {
        if (!accepting) throw new ShuttingDownError();
      },
    };
    const readiness: ReadinessCheck[] = [acceptingEvents, ...models.readiness];
    const redis = backends.redis ?? backends.redisCluster;
    if (redis) readiness.push(redisReadinessCheck(redis));
    registerHealthRoutes(http, { metrics, readiness, logger });
    const port = await http.listen(config.PORT);
    logger.info({ port }, 'HTTP server listening (/healthz, /readyz, /metrics)');
  }
  for (const adapter of adapters) await adapter.start();

  let finished: Promise<{ exitCode: number }>;
  if (dependencies.consoleMode) {
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    finished = runConsoleChat({
      engine,
      input: process.stdin,
      output: process.stdout,
      interactive,
      banner: `threadline — ${models.description}. Memory: ${config.REDIS_URL ? 'Redis' : config.REDIS_CLUSTER_NODES ? 'Redis Cluster' : 'in this process only'}.`,
    }).then((result) => {
      if (!wantHttp) return { exitCode: result.failed > 0 ? 1 : 0 };
      // A process asked to serve HTTP (PORT set; e.g. a container with no stdin) is a server: the end of
      // console input does not end it, SIGTERM does.
      logger.info('console input ended; still serving /healthz, /readyz and /metrics until SIGTERM');
      return new Promise<{ exitCode: number }>(() => {});
    });
  } else {
    finished = new Promise(() => {});
  }

  return {
    finished,
    stopAccepting: async (deadlineMs) => {
      accepting = false;
      // Together, so one platform's drain does not keep another taking events or spend its share of the deadline.
      await Promise.all(
        adapters.map((adapter) => adapter.stop(deadlineMs).catch((error: unknown) => logger.warn({ err: String(error) }, 'adapter did not stop cleanly'))),
      );
    },
    close: async () => {
      await http.close();
    },
  };
}

/** `/readyz` reports this check by its code while the process drains before exiting. */
class ShuttingDownError extends BotError {
  constructor() {
    super({ code: 'shutting_down', message: 'The process is shutting down and takes no new events' });
  }
}
