import { setTimeout as delay } from 'node:timers/promises';
import { loadConfigOrExit } from './config/load-or-exit.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { createStateBackends } from './engine/state-backends.js';
import { createConversationEngine } from './engine/engine.js';
import { buildModelStack } from './composition/model-stack.js';
import { createRateBudgets } from './composition/rate-budgets.js';
import { startPlatforms } from '../adapters/platforms.js';
import { createTurnPolicy, processDefaultSettings } from './composition/turn-policy.js';
import { createSettingsStore, SettingsFileError } from './settings/index.js';

/**
 * Composition root: configuration → providers → engine → adapters. Nothing else lives here.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const consoleMode = !config.SLACK_BOT_TOKEN && !config.DISCORD_TOKEN;
  const logger = createLogger({
    // The console chat prints answers on stdout; keep stderr quiet unless asked.
    level: config.LOG_LEVEL ?? (consoleMode ? 'warn' : 'info'),
    secrets: config.secrets,
    pretty: Boolean(process.stderr.isTTY),
  });
  const metrics = new Metrics({ collectProcessMetrics: true });
  const settings = loadSettingsOrExit(config.SETTINGS_FILE, processDefaultSettings(config), logger);
  const backends = await createStateBackends({
    redisUrl: config.REDIS_URL,
    redisClusterNodes: config.REDIS_CLUSTER_NODES,
    keyPrefix: config.REDIS_KEY_PREFIX,
    threadTtlMs: config.THREAD_TTL_SECONDS * 1000,
    lockTtlMs: config.THREAD_LOCK_TTL_MS,
    logger,
  });
  // Upstream limits count per account (CLOVA) or per workspace (Slack), not per process: on Redis, replicas share them.
  const rateBudgets = createRateBudgets({ redis: backends.redis ?? backends.redisCluster, keyPrefix: config.REDIS_KEY_PREFIX, logger });
  const models = await buildModelStack(config, { logger, metrics, rateBudgets });
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer: models.answerer,
    compactor: models.compactor,
    budget: models.budget,
    policyFor: createTurnPolicy(config, settings, models, logger),
    logger,
    metrics,
    turnTimeoutMs: config.TURN_TIMEOUT_MS,
    maxMessageChars: config.MAX_MESSAGE_CHARS,
  });
  const platforms = await startPlatforms(config, { engine, backends, models, settings, logger, metrics, consoleMode, rateBudgets });

  let stopping = false;
  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, deadlineMs: config.SHUTDOWN_DEADLINE_MS }, 'shutting down: no new events; finishing running turns');
    // One budget for the whole shutdown, since the orchestrator's grace period ends in SIGKILL: running
    // turns get most of it, and what they still need when it is up goes to telling users to ask again.
    const cancelGraceMs = Math.min(5_000, Math.round(config.SHUTDOWN_DEADLINE_MS / 5));
    const shutdownEndsAt = Date.now() + config.SHUTDOWN_DEADLINE_MS;
    const drainEndsAt = shutdownEndsAt - cancelGraceMs;
    const remainingMs = () => Math.max(0, drainEndsAt - Date.now());
    await platforms.stopAccepting(remainingMs());
    await engine.close(remainingMs(), cancelGraceMs);
    const closing = (async () => {
      await platforms.close();
      await models.close();
      settings.close();
      await backends.close();
    })();
    // Saying goodbye to a frozen Redis or a hung platform must not outlast the deadline either; the
    // exit closes every connection anyway. The floor leaves a healthy close the moment it needs.
    const closeBudgetMs = Math.max(1_000, shutdownEndsAt - Date.now());
    const finishedClosing = closing.then(
      () => true,
      (error: unknown) => {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'closing connections failed; exiting anyway');
        return true;
      },
    );
    const closed = await Promise.race([finishedClosing, delay(closeBudgetMs, false, { ref: false })]);
    if (!closed) logger.warn({ closeBudgetMs }, 'closing connections overran the shutdown deadline; exiting anyway');
    process.exit(exitCode);
  };
  process.once('SIGINT', () => void stop('SIGINT', 130));
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  const finished = await platforms.finished;
  await stop('input ended', finished.exitCode);
}

/** A settings file that is broken at startup stops the process with every problem listed (later edits are reloaded live). */
function loadSettingsOrExit(file: string | undefined, defaults: ReturnType<typeof processDefaultSettings>, logger: ReturnType<typeof createLogger>) {
  try {
    return createSettingsStore({ ...(file ? { file } : {}), defaults, logger });
  } catch (error) {
    if (error instanceof SettingsFileError) {
      process.stderr.write(`${error.message}\nFix the settings file and start again.\n`);
      process.exit(2);
    }
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`The bot could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
