import { setTimeout as delay } from 'node:timers/promises';
import { createCluster, type RedisClusterType } from '@keyv/redis';
import { BotError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { describeCause, reconnectDelayMs } from './connection.js';
import { describeClusterNodes, parseClusterNodes, type ClusterNodes } from './cluster-nodes.js';

/** The node-redis v5 Cluster client as `createRedisClusterClient` builds it: RESP2, no modules, functions or scripts. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type RedisClusterClient = RedisClusterType<{}, {}, {}, 2, {}>;

export interface RedisClusterConnectionOptions {
  /** Root nodes, `redis://[user:password@]host:port` each (REDIS_CLUSTER_NODES); the rest of the cluster is discovered from them. */
  nodeUrls: readonly string[];
  logger: Logger;
  /** How long a command may wait to be written; once written, node-redis waits for the answer without a deadline. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** REDIS_CLUSTER_NODES (or the nodes handed to the factory) cannot be used; says what is wrong without quoting a password. */
export class RedisClusterNodesError extends BotError {
  constructor(readonly problem: string) {
    super({
      code: 'redis_cluster_nodes_invalid',
      message: `The Redis Cluster nodes ${problem}`,
      userMessage: 'My conversation memory is misconfigured, so I cannot take messages right now. An operator has to fix it.',
    });
  }
}

/** Parses root node URLs, throwing `RedisClusterNodesError` when they cannot be used. */
export function clusterNodesFrom(nodeUrls: readonly string[]): ClusterNodes {
  const parsed = parseClusterNodes(nodeUrls);
  if (parsed.problem !== undefined) throw new RedisClusterNodesError(parsed.problem);
  return parsed.nodes;
}

/** The root nodes as `host:port, …` for log lines, without credentials. */
export function describeRedisClusterNodes(nodeUrls: readonly string[]): string {
  const parsed = parseClusterNodes(nodeUrls);
  return parsed.nodes ? describeClusterNodes(parsed.nodes) : '(unusable REDIS_CLUSTER_NODES)';
}

/**
 * One node-redis Cluster client for the whole process, configured like the single-node client:
 * no offline queue on any node connection (commands fail at once while a node is unreachable),
 * a timeout on the wait to be written, and reconnects that back off to at most 2 s. Credentials and
 * TLS go into `defaults`, because the client reaches the nodes it discovers with them, not with the
 * root URLs. Lock-release notifications need no second connection: the client keeps its own pub/sub
 * connection.
 *
 * Unlike the single-node client it has no liveness watch (see `watchRedisLiveness`): a node that stops
 * answering on an open connection holds the commands sent to it until TCP gives up. Recycling works
 * there by destroying and reconnecting the client object its owner holds; the cluster client owns its
 * node connections and replaces them as slots move, and destroying one under it is not a supported
 * operation, while destroying the whole cluster client would fail every thread for one node's sake.
 */
export function createRedisClusterClient(options: RedisClusterConnectionOptions): RedisClusterClient {
  const nodes = clusterNodesFrom(options.nodeUrls);
  const where = describeClusterNodes(nodes);
  const client = createCluster({
    rootNodes: nodes.rootNodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
    defaults: {
      ...(nodes.username ? { username: nodes.username } : {}),
      ...(nodes.password ? { password: nodes.password } : {}),
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.connectTimeoutMs ?? 3_000,
        reconnectStrategy: reconnectDelayMs,
        ...(nodes.tls ? { tls: true as const } : {}),
      },
    },
    commandOptions: { timeout: options.commandTimeoutMs ?? 2_000 },
  });
  let reportedDown = false;
  const reportDown = (error: unknown) => {
    if (reportedDown) return;
    reportedDown = true;
    options.logger.error({ redisCluster: where, err: describeCause(error) }, 'Redis Cluster is unreachable; retrying in the background (turns fail with a clear message until it is back)');
  };
  const reportBack = () => {
    if (reportedDown) options.logger.info({ redisCluster: where }, 'Redis Cluster connection restored');
    reportedDown = false;
  };
  // 'error' is topology discovery failing; 'node-error' one node's connection.
  client.on('error', reportDown);
  client.on('node-error', (error: unknown) => {
    reportDown(error);
    refreshSlotMap(client);
  });
  client.on('connect', reportBack);
  client.on('node-ready', reportBack);
  return client;
}

/**
 * Re-reads the slot map from a master that still answers. node-redis does so by itself only when a
 * node replies MOVED or ASK; a master that died replies nothing, so after its replica has been
 * promoted the client would keep dialling the dead address and every thread stored there would
 * fail until a restart. Each failed reconnection to a node (at most every 2 s) triggers one re-read;
 * once the map no longer names the dead node the client drops it and the errors stop.
 */
function refreshSlotMap(client: RedisClusterClient): void {
  if (!client.isOpen) return;
  const answering = client.masters.find((master) => master.client?.isReady)?.client;
  // Nothing answers: the background connection (or the next command) starts over from the root nodes.
  if (!answering) return;
  // `_slots` is node-redis's own slot map; its rediscover() runs at most one re-read at a time.
  client._slots.rediscover(answering).catch(() => {});
}

/**
 * Starts connecting; resolves true once connected or false after `waitMs`, whichever is first. Never
 * rejects. A single-node client retries by itself, but a Cluster client that finds no root node gives
 * up, so this keeps trying in the background with the same backoff until it connects or `signal` aborts.
 */
export async function startConnectingCluster(client: RedisClusterClient, waitMs: number, signal: AbortSignal): Promise<boolean> {
  if (client.isOpen) return true;
  const connecting = keepConnecting(client, signal);
  const patience = new AbortController();
  const outcome = await Promise.race([connecting, delay(waitMs, false, { signal: patience.signal }).catch(() => false)]);
  patience.abort();
  return outcome;
}

async function keepConnecting(client: RedisClusterClient, signal: AbortSignal): Promise<boolean> {
  for (let retries = 0; !signal.aborted; retries += 1) {
    if (client.isOpen) return true;
    try {
      await client.connect();
      return true;
    } catch {
      // Reported through the client's 'error' event; an attempt that raced another connect leaves it open.
      if (client.isOpen) return true;
    }
    await delay(reconnectDelayMs(retries), undefined, { signal }).catch(() => {});
  }
  return false;
}

/** Closes the client whether or not it ever connected. */
export async function closeRedisCluster(client: RedisClusterClient): Promise<void> {
  if (client.isOpen) await client.close().catch(() => client.destroy());
  else client.destroy();
}
