import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { ThreadStore } from '../history/thread-store.js';
import { MemoryCoordinator } from '../coordination/memory-coordinator.js';
import { RedisCoordinator } from '../coordination/redis-coordinator.js';
import type { Coordinator } from '../coordination/coordinator.js';
import { closeRedisClient, createRedisClient, startConnecting, describeRedisUrl, type RedisClient } from '../redis/connection.js';
import type { RedisLivenessOptions } from '../redis/liveness-watchdog.js';
import {
  closeRedisCluster,
  createRedisClusterClient,
  describeRedisClusterNodes,
  startConnectingCluster,
  type RedisClusterClient,
} from '../redis/cluster-connection.js';
import type { ChannelSubscriber, RedisCommands } from '../redis/redis-commands.js';
import { BotError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export interface StateBackendsOptions {
  /** A single Redis node (or a Sentinel-fronted primary). Unset, with no cluster nodes: everything in process memory (one process only). */
  redisUrl?: string;
  /** Root nodes of a Redis Cluster (`redis://host:port` each); excludes `redisUrl`. */
  redisClusterNodes?: readonly string[];
  keyPrefix: string;
  threadTtlMs: number;
  logger: Logger;
  /** Coordinator tuning, mostly for tests (short lock expiry). */
  lockTtlMs?: number;
  waiterTtlMs?: number;
  /** How long a waiting message stays leased to its process without a renewal (default: the waiter expiry). */
  pendingLeaseMs?: number;
  commandTimeoutMs?: number;
  /** PING cadence and deadline that find a single Redis that stopped answering (tests shorten them; see `REDIS_LIVENESS_DEFAULTS`). */
  redisLiveness?: Partial<RedisLivenessOptions>;
  /** How long startup waits for Redis before carrying on without it (it keeps connecting in the background). Default 3000 ms. */
  connectWaitMs?: number;
}

export interface StateBackends {
  store: ThreadStore;
  coordinator: Coordinator;
  /** The shared single-node Redis client, when running on one (readiness checks use it). */
  redis?: RedisClient;
  /** The shared Cluster client, when running on a Redis Cluster (readiness checks use it). */
  redisCluster?: RedisClusterClient;
  close(): Promise<void>;
}

/** Both a Redis URL and cluster nodes were given. */
export class StateBackendsConfigError extends BotError {
  constructor() {
    super({
      code: 'state_backends_ambiguous',
      message: 'Both a Redis URL and Redis Cluster nodes were given; use one',
      userMessage: 'My conversation memory is misconfigured, so I cannot take messages right now. An operator has to fix it.',
    });
  }
}

/** What the store and the coordinator run on, whichever kind of Redis it is. */
interface RedisConnection {
  commands: RedisCommands;
  subscriber: ChannelSubscriber;
  keyvStore: KeyvRedis<unknown>;
  close(): Promise<void>;
}

/**
 * Builds the thread store and the coordinator: both in memory without Redis, both on one shared
 * connection to a single Redis node or to a Redis Cluster otherwise. Never throws for an unreachable
 * Redis — it is retried in the background (see `createRedisClient`, `startConnectingCluster`).
 */
export async function createStateBackends(options: StateBackendsOptions): Promise<StateBackends> {
  const clusterNodes = options.redisClusterNodes && options.redisClusterNodes.length > 0 ? options.redisClusterNodes : undefined;
  if (options.redisUrl && clusterNodes) throw new StateBackendsConfigError();
  if (!options.redisUrl && !clusterNodes) {
    const records = new Map<string, unknown>();
    const keyv = new Keyv({ store: records, useKeyPrefix: false });
    const sweeper = setInterval(() => dropExpiredRecords(records, Date.now()), MEMORY_SWEEP_INTERVAL_MS).unref();
    return {
      store: new ThreadStore(keyv, { keyPrefix: options.keyPrefix, ttlMs: options.threadTtlMs, logger: options.logger }),
      coordinator: new MemoryCoordinator({ pendingLeaseMs: options.pendingLeaseMs }),
      close: async () => clearInterval(sweeper),
    };
  }
  let redis: RedisClient | undefined;
  let redisCluster: RedisClusterClient | undefined;
  let connection: RedisConnection;
  if (clusterNodes) {
    redisCluster = createRedisClusterClient({ nodeUrls: clusterNodes, logger: options.logger, commandTimeoutMs: options.commandTimeoutMs });
    connection = await connectCluster(redisCluster, clusterNodes, options.logger, options.connectWaitMs ?? 3_000);
  } else {
    redis = createRedisClient({ url: options.redisUrl!, logger: options.logger, commandTimeoutMs: options.commandTimeoutMs, liveness: options.redisLiveness });
    connection = await connectSingleNode(redis, options, options.connectWaitMs ?? 3_000);
  }
  // Keyv and the coordinator share the client; keys are exactly `{prefix}:thread:{threadKey}`.
  const keyv = new Keyv({ store: connection.keyvStore, useKeyPrefix: false, throwOnErrors: true });
  // Keyv hands its default namespace ('keyv') to the Redis adapter, which would prefix every key
  // again; our keys carry their own prefix, so the adapter gets none.
  keyv.namespace = undefined;
  keyv.on('error', () => {
    // Errors are thrown to the caller (throwOnErrors) and logged there; this listener only keeps keyv from re-emitting unhandled.
  });
  return {
    store: new ThreadStore(keyv, { keyPrefix: options.keyPrefix, ttlMs: options.threadTtlMs, logger: options.logger }),
    coordinator: new RedisCoordinator({
      client: connection.commands,
      subscriber: connection.subscriber,
      keyPrefix: options.keyPrefix,
      logger: options.logger,
      lockTtlMs: options.lockTtlMs,
      waiterTtlMs: options.waiterTtlMs,
      pendingLeaseMs: options.pendingLeaseMs,
    }),
    ...(redis ? { redis } : {}),
    ...(redisCluster ? { redisCluster } : {}),
    close: connection.close,
  };
}

async function connectSingleNode(redis: RedisClient, options: StateBackendsOptions, waitMs: number): Promise<RedisConnection> {
  const url = options.redisUrl!;
  const logger = options.logger;
  // Release notifications for waiting turns need a connection of their own (a subscribed one runs nothing else).
  // It is watched too: a silent one would miss every release until TCP gave up (waiting turns would poll meanwhile).
  const subscriber = createRedisClient({ url, logger: logger.child({ connection: 'lock-notifications' }), liveness: options.redisLiveness });
  const [connected] = await Promise.all([startConnecting(redis, waitMs), startConnecting(subscriber, waitMs)]);
  if (connected) logger.info({ redis: describeRedisUrl(url) }, 'connected to Redis');
  return {
    commands: redis,
    subscriber,
    keyvStore: new KeyvRedis(redis, { throwOnErrors: true, throwOnConnectError: true }),
    close: async () => {
      await Promise.all([subscriber, redis].map((client) => closeRedisClient(client, options.redisLiveness?.deadlineMs)));
    },
  };
}

async function connectCluster(cluster: RedisClusterClient, nodeUrls: readonly string[], logger: Logger, waitMs: number): Promise<RedisConnection> {
  const stopConnecting = new AbortController();
  const connected = await startConnectingCluster(cluster, waitMs, stopConnecting.signal);
  if (connected) logger.info({ redisCluster: describeRedisClusterNodes(nodeUrls), masters: cluster.masters.length }, 'connected to Redis Cluster');
  return {
    commands: cluster,
    // The cluster client subscribes on a pub/sub connection of its own and moves it when that node goes away.
    subscriber: cluster,
    keyvStore: new KeyvRedis(cluster, { throwOnErrors: true, throwOnConnectError: true }),
    close: async () => {
      stopConnecting.abort();
      await closeRedisCluster(cluster);
    },
  };
}

/** How often the in-memory store forgets expired threads (keyv only checks expiry when a key is read). */
const MEMORY_SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * Deletes records whose keyv expiry has passed. Without it a long-running process without Redis
 * would keep every thread, feedback and quarantine record it ever saw.
 */
export function dropExpiredRecords(records: Map<string, unknown>, now: number): number {
  let dropped = 0;
  for (const [key, raw] of records) {
    const expires = typeof raw === 'string' ? expiryOf(raw) : (raw as { expires?: unknown } | undefined)?.expires;
    if (typeof expires === 'number' && expires <= now) {
      records.delete(key);
      dropped += 1;
    }
  }
  return dropped;
}

function expiryOf(serialised: string): unknown {
  try {
    return (JSON.parse(serialised) as { expires?: unknown }).expires;
  } catch {
    return undefined;
  }
}
