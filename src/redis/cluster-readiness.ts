import { BotError } from '../errors.js';
import type { RedisClusterClient } from './cluster-connection.js';
import { describeCause, RedisUnavailableError } from './connection.js';

/** One master that did not answer, by the address the cluster announces for it. */
export interface UnreachableMaster {
  /** `host:port` as CLUSTER SLOTS reports it: never a URL, so never a password. */
  address: string;
  /** `Name: message` of what went wrong, or `no answer within N ms`. */
  problem: string;
}

/** No master of the Redis Cluster answered: no thread can be read or written, so the replica is not ready. */
export class RedisClusterMastersUnreachableError extends BotError {
  constructor(readonly masters: readonly UnreachableMaster[]) {
    super({
      code: 'redis_cluster_master_unreachable',
      message: `Redis Cluster master${masters.length === 1 ? '' : 's'} did not answer PING: ${masters.map((master) => `${master.address} (${master.problem})`).join(', ')}`,
      userMessage: 'I cannot reach my conversation memory right now, so I could not take your message. Please send it again in a minute.',
    });
  }

  /** The addresses (`host:port`) of the masters that did not answer, for `/readyz`. */
  get unreachable(): readonly string[] {
    return this.masters.map((master) => master.address);
  }
}

export interface PingEveryMasterOptions {
  /** Aborts every ping still waiting (the readiness check's own deadline). */
  signal: AbortSignal;
  /** How long one master may take to answer before it counts as unreachable. */
  perMasterTimeoutMs: number;
}

/**
 * PINGs every master the cluster client knows, in parallel, each on its own node connection. One
 * PING through the cluster client reaches a single node, so a dead master would go unnoticed while
 * every thread stored on its slots fails. Returns the masters that did not answer while others did
 * (threads on their slots fail until a replica takes over; the rest work). Throws
 * `RedisClusterMastersUnreachableError` when none answered, or `RedisUnavailableError` when the
 * client knows no master at all.
 *
 * @example
 * const unreachable = await pingEveryMaster(backends.redisCluster, { signal, perMasterTimeoutMs: 1_500 });
 */
export async function pingEveryMaster(client: RedisClusterClient, options: PingEveryMasterOptions): Promise<UnreachableMaster[]> {
  const masters = client.isOpen ? client.masters : [];
  if (masters.length === 0) throw new RedisUnavailableError('a readiness PING', new Error('the cluster client is not connected to any master'));
  const results = await Promise.all(
    masters.map(async (master): Promise<UnreachableMaster | undefined> => {
      const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.perMasterTimeoutMs)]);
      try {
        // nodeClient() (re)connects a master the client has no open connection to; that can hang too.
        const node = await untilAborted(client.nodeClient(master), signal);
        // node-redis honours the signal only until the command is written; a frozen server then never
        // answers, so the wait itself is cut off here (the late reply, if any, is dropped).
        await untilAborted(node.withAbortSignal(signal).ping(), signal);
        return undefined;
      } catch (error) {
        const problem = signal.aborted && !options.signal.aborted ? `no answer within ${options.perMasterTimeoutMs} ms` : describeCause(error);
        return { address: master.address, problem };
      }
    }),
  );
  const unreachable = results.filter((result): result is UnreachableMaster => result !== undefined);
  if (unreachable.length === masters.length) throw new RedisClusterMastersUnreachableError(unreachable);
  return unreachable;
}

/** `work`, or a rejection as soon as `signal` aborts (the work itself goes on and its result is dropped). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
