import { createClient, type RedisClientType } from '@keyv/redis';
import { BotError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { REDIS_LIVENESS_DEFAULTS, staysSilent, watchRedisLiveness, type RedisLivenessOptions } from './liveness-watchdog.js';

/** The node-redis v5 client as `createClient` builds it here: RESP2, no modules, functions or scripts. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type RedisClient = RedisClientType<{}, {}, {}, 2, {}>;

export interface RedisConnectionOptions {
  url: string;
  logger: Logger;
  /**
   * How long a command may wait to be written (while the socket is busy or stalled). Once written,
   * node-redis waits for the answer without a deadline; the liveness watch covers that part.
   */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** PING cadence and deadline of the liveness watch (see `watchRedisLiveness`); defaults in `REDIS_LIVENESS_DEFAULTS`. */
  liveness?: Partial<RedisLivenessOptions>;
}

/** Redis could not be reached or did not answer in time. */
export class RedisUnavailableError extends BotError {
  constructor(operation: string, cause: unknown) {
    super({
      code: 'redis_unavailable',
      message: `Redis did not complete ${operation}: ${describeCause(cause)}`,
      userMessage: 'I cannot reach my conversation memory right now, so I could not take your message. Please send it again in a minute.',
      cause,
    });
  }
}

/** `Name: message` of an error, for log lines and wrapped errors. */
export function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

/** Where the URL points, without credentials, for log lines. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/**
 * One node-redis client for the whole process (thread store, dedupe, locks share it), configured so
 * that nothing waits forever: commands fail immediately while disconnected (no offline queue), and
 * when Redis stops answering on a connection that stays open, the liveness watch drops the
 * connection within seconds (pending commands fail, the same client reconnects); reconnects back off
 * to at most 2 s. `connect` starts connecting but never throws: a Redis that is down at startup is
 * reported once and retried in the background, so a supervisor does not see a crash loop.
 */
export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const where = describeRedisUrl(options.url);
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    commandOptions: { timeout: options.commandTimeoutMs ?? 2_000 },
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 3_000,
      reconnectStrategy: reconnectDelayMs,
    },
  });
  let reportedDown = false;
  client.on('error', (error: unknown) => {
    if (reportedDown) return;
    reportedDown = true;
    options.logger.error({ redis: where, err: describeCause(error) }, 'Redis is unreachable; retrying in the background (turns fail with a clear message until it is back)');
  });
  client.on('ready', () => {
    if (reportedDown) options.logger.info({ redis: where }, 'Redis connection restored');
    reportedDown = false;
  });
  const liveness = { ...REDIS_LIVENESS_DEFAULTS, ...options.liveness };
  watchRedisLiveness(client, {
    ...liveness,
    onSilent: () => {
      // Counts as the outage the 'error' handler would report, so one warning and one restoration line cover it.
      reportedDown = true;
      options.logger.warn({ redis: where, deadlineMs: liveness.deadlineMs }, 'Redis stopped answering; dropping the connection and reconnecting');
    },
  });
  return client;
}

/**
 * Closes a client, letting its pending commands finish, unless Redis no longer answers a PING
 * within `deadlineMs`: then they fail at once, since `close` would wait for them forever. A client
 * that is not ready is destroyed: nothing of ours is pending (no offline queue), and `close` would
 * wait on a handshake that a frozen Redis never answers.
 */
export async function closeRedisClient(client: RedisClient, deadlineMs = REDIS_LIVENESS_DEFAULTS.deadlineMs): Promise<void> {
  if (!client.isOpen) return;
  const answering = client.isReady && !(await staysSilent(client, deadlineMs));
  if (!client.isOpen) return;
  if (answering && client.isReady) await client.close();
  else client.destroy();
}

/** Backoff between reconnection attempts: doubling from 100 ms to at most 2 s, with jitter so replicas do not reconnect in step. */
export function reconnectDelayMs(retries: number): number {
  return Math.min(100 * 2 ** Math.min(retries, 5), 2_000) + Math.floor(Math.random() * 100);
}

/** Starts connecting; resolves once connected or after `waitMs`, whichever is first. Never rejects. */
export async function startConnecting(client: RedisClient, waitMs: number): Promise<boolean> {
  if (client.isReady) return true;
  const connecting = client.isOpen ? Promise.resolve() : client.connect().then(() => undefined);
  connecting.catch(() => {});
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), waitMs).unref());
  const outcome = await Promise.race([connecting.then(() => 'connected' as const, () => 'failed' as const), timer]);
  return outcome === 'connected' && client.isReady;
}

/** Runs a Redis operation and turns any failure into a `RedisUnavailableError` naming the operation. */
export async function redisCall<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new RedisUnavailableError(operation, error);
  }
}
