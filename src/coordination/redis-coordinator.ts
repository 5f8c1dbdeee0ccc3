import { randomUUID } from 'node:crypto';
import { LockLostError, LockWaitTimeoutError, type AdoptedPending, type Coordinator, type LockOptions, type PendingEntry, type PendingHold, type ThreadLock } from './coordinator.js';
import { redisCall } from '../redis/connection.js';
import type { ChannelSubscriber, RedisCommands } from '../redis/redis-commands.js';
import type { Logger } from '../observability/logger.js';

/**
 * Joins the thread's queue: a ticket from one counter orders arrivals across replicas.
 * KEYS: ticket counter, queue (zset ticket → owner), liveness (hash owner → deadline ms).
 * ARGV: owner, waiter ttl ms, key ttl ms.
 */
const ENQUEUE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ticket = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], ticket, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return ticket`;

/**
 * Takes the lock when it is free and we are first in line; waiters whose heartbeat lapsed (their
 * process died) are dropped from the head so they cannot block the thread. Returns 1 (acquired),
 * 0 (keep waiting; heartbeat refreshed) or -1 (we were dropped as dead and must re-enqueue).
 * KEYS: lock, queue, liveness. ARGV: owner, lock ttl ms, waiter ttl ms, key ttl ms.
 */
const TRY_ACQUIRE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
while true do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not head then break end
  local deadline = tonumber(redis.call('HGET', KEYS[3], head) or '0')
  if deadline >= now then break end
  redis.call('ZREM', KEYS[2], head)
  redis.call('HDEL', KEYS[3], head)
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return -1 end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if head == ARGV[1] and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[3], ARGV[1], now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 0`;

/** Leaves the queue (a waiter that gives up). KEYS: queue, liveness. ARGV: owner. */
const LEAVE_QUEUE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

/** Extends the lock only while we own it. KEYS: lock. ARGV: owner, ttl ms. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/**
 * Deletes the lock only if we own it (never someone else's after our expiry), and tells waiting
 * replicas at once so the next turn does not wait for its next poll. KEYS: lock. ARGV: owner, channel.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[1])
  return 1
end
return 0`;

/** Deletes an event claim only if this process made it. KEYS: claim. ARGV: process id. */
const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const OWNS = `return redis.call('GET', KEYS[1]) == ARGV[1] and 1 or 0`;

/*
 * Messages waiting for a thread's lock (see PendingHold). Every script below takes the same KEYS:
 * arrival counter, order (zset id → arrival number), leases (hash id → deadline ms, Redis clock),
 * payloads (hash id → payload). The id is unique to the waiting turn, so knowing it is owning it.
 */

/** Records a waiting message. ARGV: id, payload, lease ms, key ttl ms. Returns its arrival number. */
const ADD_PENDING = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local sequence = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], sequence, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], now + tonumber(ARGV[3]))
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
for index = 1, 4 do redis.call('PEXPIRE', KEYS[index], ARGV[4]) end
return sequence`;

/** Extends the lease of a message still waiting. ARGV: id, lease ms, key ttl ms. 1, or 0 when it is gone. */
const RENEW_PENDING = `
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('HSET', KEYS[3], ARGV[1], now + tonumber(ARGV[2]))
for index = 1, 4 do redis.call('PEXPIRE', KEYS[index], ARGV[3]) end
return 1`;

/** Replaces the payload of a message still waiting. ARGV: id, payload. */
const UPDATE_PENDING = `
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return 1`;

/** Deletes a message if it is still there. ARGV: id. 1 when this call deleted it. */
const REMOVE_PENDING = `
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`;

/**
 * Takes over the leading run of messages whose lease ran out, oldest first: each keeps its arrival
 * number and payload under a new id (ARGV adopter prefix .. ':' .. arrival number) with a fresh
 * lease, so the stopped holder's id no longer owns it should that process wake up. Returns flat new
 * id, arrival number, payload triples. ARGV: highest arrival number to consider ('+inf' or '(n'),
 * adopter prefix, lease ms, key ttl ms.
 */
const ADOPT_ABANDONED = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local waiting = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES')
local adopted = {}
for index = 1, #waiting, 2 do
  local id = waiting[index]
  local sequence = waiting[index + 1]
  if tonumber(redis.call('HGET', KEYS[3], id) or '0') >= now then break end
  local payload = redis.call('HGET', KEYS[4], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  if payload then
    local adoptedId = ARGV[2] .. ':' .. sequence
    redis.call('ZADD', KEYS[2], sequence, adoptedId)
    redis.call('HSET', KEYS[3], adoptedId, now + tonumber(ARGV[3]))
    redis.call('HSET', KEYS[4], adoptedId, payload)
    adopted[#adopted + 1] = adoptedId
    adopted[#adopted + 1] = sequence
    adopted[#adopted + 1] = payload
  end
end
if #adopted > 0 then
  for index = 1, 4 do redis.call('PEXPIRE', KEYS[index], ARGV[4]) end
end
return adopted`;

/** Every waiting message, oldest first, as flat id, arrival number, payload triples. */
const LIST_PENDING = `
local waiting = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local listed = {}
for index = 1, #waiting, 2 do
  local payload = redis.call('HGET', KEYS[4], waiting[index])
  if payload then
    listed[#listed + 1] = waiting[index]
    listed[#listed + 1] = waiting[index + 1]
    listed[#listed + 1] = payload
  end
end
return listed`;

const EXISTS = `return redis.call('EXISTS', KEYS[1])`;

/**
 * How long the records of waiting messages outlive their last write. Far beyond any lease: it only
 * bounds what a bot that never runs again leaves behind.
 */
const PENDING_RETENTION_MS = 24 * 3600_000;

export interface RedisCoordinatorOptions {
  /** A single-node or Cluster client. */
  client: RedisCommands;
  /**
   * Where release notifications arrive: a second single-node connection (a subscribed connection
   * can run no other command), or the Cluster client itself (it subscribes on a pub/sub connection
   * of its own, and a classic PUBLISH reaches every node). Without it waiters only poll.
   */
  subscriber?: ChannelSubscriber;
  keyPrefix: string;
  logger: Logger;
  /** Lock expiry; renewed every third of it while the work runs. A dead holder frees the thread after this. */
  lockTtlMs?: number;
  /** A waiter that has not polled for this long is presumed dead and loses its place. */
  waiterTtlMs?: number;
  /** Longest pause between two attempts to take a contended lock. */
  maxPollIntervalMs?: number;
  /**
   * How long a waiting message stays leased without a renewal (renewed every third of it); after
   * that another process may answer it. Defaults to `waiterTtlMs`, so it lapses no later than the
   * dead process's place in the lock queue.
   */
  pendingLeaseMs?: number;
}

/**
 * Coordination across replicas on one Redis (standalone, Sentinel, or Cluster: every multi-key
 * script touches keys that share the thread's hash tag).
 */
export class RedisCoordinator implements Coordinator {
  private readonly client: RedisCommands;
  private readonly keyPrefix: string;
  private readonly logger: Logger;
  private readonly lockTtlMs: number;
  private readonly waiterTtlMs: number;
  private readonly maxPollIntervalMs: number;
  private readonly pendingLeaseMs: number;
  private readonly processId = randomUUID();
  private readonly pendingRenewals = new Set<NodeJS.Timeout>();
  private readonly subscriber: ChannelSubscriber | undefined;
  /** Waiters of this process, by lock key, woken when any replica releases that lock. */
  private readonly releaseWaiters = new Map<string, Set<() => void>>();
  private subscribed: Promise<void> | undefined;

  constructor(options: RedisCoordinatorOptions) {
    this.client = options.client;
    this.keyPrefix = options.keyPrefix;
    this.logger = options.logger;
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.waiterTtlMs = options.waiterTtlMs ?? 10_000;
    this.maxPollIntervalMs = options.maxPollIntervalMs ?? 50;
    this.pendingLeaseMs = options.pendingLeaseMs ?? this.waiterTtlMs;
    this.subscriber = options.subscriber;
  }

  async claimEvent(eventId: string, ttlMs: number): Promise<boolean> {
    const reply = await redisCall('claim event', () =>
      this.client.set(`${this.keyPrefix}:event:${eventId}`, this.processId, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } }),
    );
    return reply === 'OK';
  }

  async releaseEvent(eventId: string): Promise<void> {
    // Only our own claim: another replica's claim of the same event stays.
    await redisCall('release event', () => this.client.eval(RELEASE_CLAIM, { keys: [`${this.keyPrefix}:event:${eventId}`], arguments: [this.processId] }));
  }

  async withThreadLock<T>(threadKey: string, work: (lock: ThreadLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
    const keys = this.keysFor(threadKey);
    const owner = `${this.processId}:${randomUUID()}`;
    await this.acquire(threadKey, keys, owner, options);

    const controller = new AbortController();
    const renewEveryMs = Math.max(Math.floor(this.lockTtlMs / 3), 10);
    const renewal = setInterval(() => {
      void this.renew(keys.lock, owner).then(
        (stillOurs) => {
          if (!stillOurs) {
            this.logger.warn({ threadKey }, 'thread lock lost while a turn was running');
            controller.abort(new LockLostError(threadKey));
          }
        },
        (error: unknown) => this.logger.warn({ threadKey, err: String(error) }, 'could not renew thread lock; will retry'),
      );
    }, renewEveryMs);
    renewal.unref();

    const lock: ThreadLock = {
      threadKey,
      signal: controller.signal,
      assertHeld: async () => {
        const owns = await redisCall('check lock', () => this.client.eval(OWNS, { keys: [keys.lock], arguments: [owner] }));
        if (owns !== 1) {
          controller.abort(new LockLostError(threadKey));
          throw new LockLostError(threadKey);
        }
      },
    };
    try {
      return await work(lock);
    } finally {
      clearInterval(renewal);
      await redisCall('release lock', () => this.client.eval(RELEASE, { keys: [keys.lock], arguments: [owner, this.releaseChannel] })).catch((error: unknown) =>
        // Not fatal: the lock expires on its own after lockTtlMs.
        this.logger.warn({ threadKey, err: String(error) }, 'could not release thread lock; it will expire'),
      );
    }
  }

  async markInFlight(threadKey: string): Promise<void> {
    await redisCall('mark turn in flight', () => this.client.sAdd(this.inFlightKey, threadKey));
  }

  async clearInFlight(threadKey: string): Promise<void> {
    await redisCall('clear turn in flight', () => this.client.sRem(this.inFlightKey, threadKey));
    // The set and the thread's keys live on different Cluster slots, so this cannot be one script.
    // Checking after the removal is enough: a message recorded meanwhile adds the thread back itself.
    const order = this.pendingKeysFor(threadKey)[1]!;
    const stillPending = await redisCall('check pending messages', () => this.client.eval(EXISTS, { keys: [order], arguments: [] }));
    if (stillPending === 1) await this.markInFlight(threadKey);
  }

  async listInFlight(): Promise<string[]> {
    return redisCall('list turns in flight', () => this.client.sMembers(this.inFlightKey));
  }

  readonly sharedAcrossProcesses = true;

  async addPending(threadKey: string, payload: string): Promise<PendingHold> {
    const keys = this.pendingKeysFor(threadKey);
    const id = `${this.processId}:${randomUUID()}`;
    const run = (script: string, ...args: string[]) => this.client.eval(script, { keys, arguments: [id, ...args] });
    // In flight before recorded: a process that dies between the two leaves a thread the sweep finds
    // empty and clears, never a waiting message no sweep finds. Marked again after: a turn of this
    // thread finishing meanwhile may have cleared the mark before our entry was there to keep it.
    await this.markInFlight(threadKey);
    const sequence = Number(await redisCall('record waiting message', () => run(ADD_PENDING, payload, String(this.pendingLeaseMs), String(PENDING_RETENTION_MS))));
    try {
      await this.markInFlight(threadKey);
    } catch (error) {
      // Not surely findable by recovery, so not recorded at all: the caller tells the user.
      await run(REMOVE_PENDING).catch(() => {});
      throw error;
    }
    return this.holdOf(threadKey, id, sequence);
  }

  /** Renews, updates and removes the waiting message `id` (owning the id is owning the message). */
  private holdOf(threadKey: string, id: string, sequence: number): PendingHold {
    const keys = this.pendingKeysFor(threadKey);
    const run = (script: string, ...args: string[]) => this.client.eval(script, { keys, arguments: [id, ...args] });
    const renew = async () => (await run(RENEW_PENDING, String(this.pendingLeaseMs), String(PENDING_RETENTION_MS))) === 1;
    const renewal = setInterval(() => {
      void renew().then(
        (ours) => {
          if (ours) return;
          stop();
          // Gone after a removal of ours failed: most likely that removal was applied after all.
          if (!removalFailed) this.logger.warn({ threadKey }, 'a waiting message was taken over by another process (its lease had run out)');
        },
        (error: unknown) => this.logger.warn({ threadKey, err: String(error) }, 'could not renew the lease of a waiting message; will retry'),
      );
    }, Math.max(Math.floor(this.pendingLeaseMs / 3), 10));
    renewal.unref();
    this.pendingRenewals.add(renewal);
    const stop = () => {
      clearInterval(renewal);
      this.pendingRenewals.delete(renewal);
    };
    let removal: Promise<boolean> | undefined;
    let removalFailed = false;
    return {
      sequence,
      isOurs: () => redisCall('check waiting message', renew),
      update: async (next) => (await redisCall('update waiting message', () => run(UPDATE_PENDING, next))) === 1,
      remove: () => {
        // Remembered once settled: a second call must not report someone else's removal.
        removal ??= redisCall('remove waiting message', () => run(REMOVE_PENDING)).then(
          (reply) => {
            stop();
            // A removal that failed may have been applied with its reply lost (a dropped connection,
            // a restart): then nothing is left for this one. The lease, renewed meanwhile, kept
            // everyone else from taking the entry.
            return reply === 1 || removalFailed;
          },
          (error: unknown) => {
            removalFailed = true;
            removal = undefined;
            throw error;
          },
        );
        return removal;
      },
      abandon: stop,
    };
  }

  async listPending(threadKey: string): Promise<PendingEntry[]> {
    const reply = await redisCall('list waiting messages', () => this.client.eval(LIST_PENDING, { keys: this.pendingKeysFor(threadKey), arguments: [] }));
    return pendingEntriesOf(reply);
  }

  async adoptAbandonedPending(threadKey: string, options: { arrivedBefore?: number } = {}): Promise<AdoptedPending[]> {
    const highest = options.arrivedBefore === undefined ? '+inf' : `(${options.arrivedBefore}`;
    const adopter = `${this.processId}:${randomUUID()}`;
    const reply = await redisCall('adopt abandoned messages', () =>
      this.client.eval(ADOPT_ABANDONED, { keys: this.pendingKeysFor(threadKey), arguments: [highest, adopter, String(this.pendingLeaseMs), String(PENDING_RETENTION_MS)] }),
    );
    return pendingEntriesOf(reply).map((entry) => ({ ...entry, hold: this.holdOf(threadKey, entry.id, entry.sequence) }));
  }

  async close(): Promise<void> {
    // The client is shared and closed by its owner. Leases left unrenewed hand our waiting messages to other processes.
    for (const renewal of this.pendingRenewals) clearInterval(renewal);
    this.pendingRenewals.clear();
  }

  private get inFlightKey(): string {
    return `${this.keyPrefix}:inflight`;
  }

  /** Arrival counter, order, leases, payloads: the KEYS of every pending-message script. */
  private pendingKeysFor(threadKey: string): string[] {
    const tag = hashTagOf(threadKey);
    return ['pending-arrivals', 'pending', 'pending-lease', 'pending-message'].map((kind) => `${this.keyPrefix}:${kind}:${tag}`);
  }

  private keysFor(threadKey: string) {
    const tag = hashTagOf(threadKey);
    return {
      lock: `${this.keyPrefix}:lock:${tag}`,
      queue: `${this.keyPrefix}:queue:${tag}`,
      alive: `${this.keyPrefix}:alive:${tag}`,
      ticket: `${this.keyPrefix}:ticket:${tag}`,
    };
  }

  private async acquire(threadKey: string, keys: ReturnType<RedisCoordinator['keysFor']>, owner: string, options: LockOptions): Promise<void> {
    const started = Date.now();
    const keyTtlMs = String(Math.max(this.lockTtlMs, this.waiterTtlMs) * 10);
    const enqueue = () =>
      redisCall('enqueue turn', () =>
        this.client.eval(ENQUEUE, { keys: [keys.ticket, keys.queue, keys.alive], arguments: [owner, String(this.waiterTtlMs), keyTtlMs] }),
      );
    await enqueue();
    let announcedWait = false;
    let pauseMs = 2;
    for (;;) {
      const outcome = await redisCall('acquire lock', () =>
        this.client.eval(TRY_ACQUIRE, {
          keys: [keys.lock, keys.queue, keys.alive],
          arguments: [owner, String(this.lockTtlMs), String(this.waiterTtlMs), keyTtlMs],
        }),
      ).catch(async (error: unknown) => {
        await this.leaveQueue(keys, owner);
        throw error;
      });
      if (outcome === 1) return;
      if (outcome === -1) {
        // Our heartbeat lapsed (a long pause in this process); rejoin rather than wait forever.
        this.logger.warn({ threadKey }, 'waiting turn lost its place in the thread queue; rejoining');
        await enqueue();
      }
      if (!announcedWait) {
        announcedWait = true;
        void Promise.resolve(options.onQueued?.()).catch(() => {});
      }
      const waited = Date.now() - started;
      if ((options.waitTimeoutMs !== undefined && waited > options.waitTimeoutMs) || options.signal?.aborted) {
        await this.leaveQueue(keys, owner);
        throw new LockWaitTimeoutError(threadKey, waited);
      }
      await this.untilReleasedOr(keys.lock, pauseMs);
      pauseMs = Math.min(pauseMs * 2, this.maxPollIntervalMs);
    }
  }

  private get releaseChannel(): string {
    return `${this.keyPrefix}:lock-released`;
  }

  /**
   * Waits until the lock is released (notification) or `timeoutMs` passed (the poll, which also
   * covers a notification missed while subscribing or while the subscriber was disconnected).
   */
  private async untilReleasedOr(lockKey: string, timeoutMs: number): Promise<void> {
    if (this.subscriber && !this.subscribed) {
      this.subscribed = this.subscriber
        .subscribe(this.releaseChannel, (releasedKey) => this.releaseWaiters.get(releasedKey)?.forEach((wake) => wake()))
        .catch((error: unknown) => {
          this.subscribed = undefined;
          this.logger.warn({ err: String(error) }, 'could not subscribe to lock releases; waiting turns poll instead');
        });
    }
    await new Promise<void>((resolve) => {
      const waiters = this.releaseWaiters.get(lockKey) ?? new Set<() => void>();
      this.releaseWaiters.set(lockKey, waiters);
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.releaseWaiters.delete(lockKey);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      waiters.add(wake);
    });
  }

  private async leaveQueue(keys: ReturnType<RedisCoordinator['keysFor']>, owner: string): Promise<void> {
    await this.client.eval(LEAVE_QUEUE, { keys: [keys.queue, keys.alive], arguments: [owner] }).catch(() => {});
  }

  private async renew(lockKey: string, owner: string): Promise<boolean> {
    const reply = await this.client.eval(RENEW, { keys: [lockKey], arguments: [owner, String(this.lockTtlMs)] });
    return reply === 1;
  }
}

/**
 * One hash tag per thread keeps every multi-key script on one Cluster slot. Braces inside the
 * thread key would end the tag early, and an empty tag `{}` makes Redis hash the whole key.
 */
function hashTagOf(threadKey: string): string {
  return `{${threadKey.replace(/[{}]/g, '_') || '_'}}`;
}

/** Flat id, arrival number, payload triples (LIST_PENDING, ADOPT_ABANDONED) as entries. */
function pendingEntriesOf(reply: unknown): PendingEntry[] {
  const flat = Array.isArray(reply) ? reply.map(String) : [];
  const entries: PendingEntry[] = [];
  for (let index = 0; index + 2 < flat.length; index += 3) {
    entries.push({ id: flat[index]!, sequence: Number(flat[index + 1]), payload: flat[index + 2]! });
  }
  return entries;
}
