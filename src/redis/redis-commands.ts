import type { RedisClient } from './connection.js';
import type { RedisClusterClient } from './cluster-connection.js';

/**
 * The Redis operations the coordinator and the readiness check use, written out so that a
 * standalone client and a Cluster client both satisfy it. On a Cluster every command is routed by
 * its first key, so a script's keys must share one hash slot.
 */
export interface RedisCommands {
  /** `SET key value NX PX ms`: `'OK'` when set, `null` when the key already existed. */
  set(key: string, value: string, options: { condition: 'NX'; expiration: { type: 'PX'; value: number } }): Promise<string | null>;
  /** Runs a Lua script; all `keys` must hash to one slot on a Cluster. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  sAdd(key: string, member: string): Promise<number>;
  sRem(key: string, member: string): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  ping(): Promise<string>;
}

/** Something that delivers messages published on a channel (a dedicated standalone connection, or a Cluster client's pub/sub node). */
export interface ChannelSubscriber {
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>;
}

// Compile-time proof that both client kinds fit; a node-redis upgrade that breaks this fails the typecheck here.
const standaloneFits = (client: RedisClient): RedisCommands & ChannelSubscriber => client;
const clusterFits = (client: RedisClusterClient): RedisCommands & ChannelSubscriber => client;
void standaloneFits;
void clusterFits;
