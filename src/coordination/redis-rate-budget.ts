import { randomUUID } from 'node:crypto';
import { RateLimiter, type RateBudget, type RateLimitPermit, type RateLimits, type Waiter } from '../providers/http/rate-limiter.js';
import type { RedisCommands } from '../redis/redis-commands.js';
import type { RedisBudgetFallback } from './redis-budget-fallback.js';

/**
 * One admission against the shared window: ZADD of `id:tokens`, scored with the time the entry stops
 * counting. An admission whose request is still in flight counts until the window after its response
 * (see SETTLE); until then it is scored `window + in-flight limit` ahead, so the entry of a process that
 * died mid-request still expires. Redis's own clock decides, so replicas' clocks do not matter.
 * Returns {1} when admitted, else {0, ms until enough entries expire, 1 if an in-flight entry decides that}.
 */
const ACQUIRE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tokens = tonumber(ARGV[2])
local requestLimit = tonumber(ARGV[3])
local tokenLimit = tonumber(ARGV[4])
local windowMs = tonumber(ARGV[5])
local inFlightMs = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count = #entries / 2
local function tokensOf(member) return tonumber(string.match(member, ':(%d+)$')) or 0 end
local used = 0
for index = 1, #entries, 2 do used = used + tokensOf(entries[index]) end
local requestsFit = requestLimit == nil or count + 1 <= requestLimit
local tokensFit = tokenLimit == nil or used + tokens <= tokenLimit
if count == 0 or (requestsFit and tokensFit) then
  local lifetime = windowMs + inFlightMs
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + lifetime), ARGV[1] .. ':' .. ARGV[2])
  if redis.call('PTTL', KEYS[1]) < lifetime then redis.call('PEXPIRE', KEYS[1], lifetime) end
  return {1, 0, 0}
end
local mustLeave = 0
if requestLimit ~= nil and count + 1 > requestLimit then mustLeave = count + 1 - requestLimit end
local freed = 0
local left = 0
local freeAt = now
while left < count and (left < mustLeave or (tokenLimit ~= nil and used - freed + tokens > tokenLimit)) do
  freed = freed + tokensOf(entries[left * 2 + 1])
  freeAt = tonumber(entries[left * 2 + 2])
  left = left + 1
end
local inFlight = 0
if freeAt > now + windowMs then inFlight = 1 end
return {0, freeAt - now, inFlight}
`;

/** The response arrived: the admission now counts for one window from here (the server's count began no later). */
const SETTLE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > now then
  redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
  return 1
end
return 0
`;

/** The caller gave up before sending: the admission never reached the server. */
const RELEASE = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

export interface RedisRateBudgetOptions {
  client: Pick<RedisCommands, 'eval'>;
  /** The window's key; one key, so every command of a budget lands on one Cluster slot. */
  key: string;
  limits: RateLimits;
  /** Shared by every budget on the same Redis: when to stop asking it, and the outage log lines. */
  fallback: RedisBudgetFallback;
  /**
   * Longest an admission counts while its request is in flight (no `settle()` yet), so the admissions
   * of a process that died mid-request expire. Default 120 s, the provider's request timeout.
   */
  maxInFlightMs?: number;
  /** Longest a waiter sleeps before asking again while another replica's request in flight decides its wait. Default 1 s. */
  recheckMs?: number;
}

/** One look at the shared window: admitted, or how long until it may have room. */
export type RateBudgetVerdict = { admitted: true; permit: RateLimitPermit & { release(): void } } | { admitted: false; retryInMs: number };

/**
 * A requests/tokens-per-minute budget that every replica on one Redis (standalone or Cluster) shares:
 * a sliding window in one sorted set, one script (one round trip) per attempt. Over budget, the script
 * says how long until there is room and the caller sleeps that long (abortably) and asks again.
 * Callers in this process queue first in, first out and only the first one asks Redis. When Redis
 * fails the budget fails open: it paces this process with an in-process `RateLimiter` of the same
 * limits (see `RedisBudgetFallback`), so an outage never stops answers.
 */
export class RedisRateBudget implements RateBudget {
  private readonly queue: Waiter[] = [];
  private readonly local: RateLimiter;
  private readonly windowMs: number;
  private readonly maxInFlightMs: number;
  private readonly recheckMs: number;
  private serving = false;
  private closed = false;
  private wakeSleeper: (() => void) | undefined;

  constructor(private readonly options: RedisRateBudgetOptions) {
    this.windowMs = options.limits.windowMs ?? 60_000;
    this.maxInFlightMs = options.maxInFlightMs ?? 120_000;
    this.recheckMs = options.recheckMs ?? 1_000;
    this.local = new RateLimiter(options.limits);
  }

  /** Number of callers waiting in this process. */
  get waiting(): number {
    return this.queue.length + this.local.waiting;
  }

  acquire(tokens: number, signal?: AbortSignal): Promise<RateLimitPermit> {
    if (this.closed) return Promise.reject(new Error('rate budget closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RateLimitPermit>((resolve, reject) => {
      const waiter: Waiter = { tokens, enqueuedAt: Date.now(), resolve, reject };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          this.remove(waiter);
          reject(signal.reason);
          this.wake();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      void this.serve();
    });
  }

  /**
   * Asks the shared window once, without waiting. Throws `RedisUnavailableError` when Redis does not
   * answer in time (callers of `acquire` never see it: they are paced locally instead).
   */
  async tryAcquire(tokens: number): Promise<RateBudgetVerdict> {
    const { key, limits, client } = this.options;
    const id = randomUUID();
    const cost = String(Math.max(0, Math.ceil(tokens)));
    const member = `${id}:${cost}`;
    const admission = this.options.fallback.call('rate budget admission', () =>
      client.eval(ACQUIRE, {
        keys: [key],
        arguments: [
          id,
          cost,
          limits.requestsPerMinute === undefined ? '' : String(limits.requestsPerMinute),
          limits.tokensPerMinute === undefined ? '' : String(limits.tokensPerMinute),
          String(this.windowMs),
          String(this.maxInFlightMs),
        ],
      }),
    );
    const reply = await admission.catch((error: unknown) => {
      // Redis may have applied the admission although its reply never came (our deadline, a dropped
      // connection); handed back, it does not hold a slot of every replica's budget for the in-flight limit.
      client.eval(RELEASE, { keys: [key], arguments: [member] }).catch(() => {});
      throw error;
    });
    const [admitted, waitMs, decidedByInFlight] = Array.isArray(reply) ? reply.map(Number) : [];
    if (admitted === 1) return { admitted: true, permit: this.permitFor(member) };
    const wait = Math.max(1, waitMs ?? this.recheckMs);
    // An in-flight entry's score is only its latest possible expiry; its response usually comes much sooner.
    return { admitted: false, retryInMs: decidedByInFlight === 1 ? Math.min(wait, this.recheckMs) : wait };
  }

  close(reason: unknown = new Error('rate budget closed')): void {
    this.closed = true;
    this.local.close(reason);
    for (const waiter of this.queue.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(reason);
    }
    this.wake();
  }

  /** Serves the queue head by head; only one loop runs at a time. */
  private async serve(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    try {
      while (!this.closed && this.queue.length > 0) await this.admit(this.queue[0] as Waiter);
    } finally {
      this.serving = false;
    }
  }

  /** Returns once `head` is admitted, has given up, or the budget closed. */
  private async admit(head: Waiter): Promise<void> {
    const stillFirst = () => !this.closed && this.queue[0] === head;
    let redisFailed = false;
    while (stillFirst()) {
      if (redisFailed || !this.options.fallback.useRedis) {
        try {
          const permit = await this.local.acquire(head.tokens, head.signal);
          if (stillFirst()) this.hand(head, permit);
          else permit.settle();
        } catch (error) {
          // Aborted or closed: the abort handler or close() has already told the caller.
          this.remove(head);
          head.reject(error);
        }
        return;
      }
      let verdict: RateBudgetVerdict;
      try {
        verdict = await this.tryAcquire(head.tokens);
      } catch {
        // Logged once per outage by the fallback; this caller is paced locally.
        redisFailed = true;
        continue;
      }
      if (verdict.admitted) {
        if (stillFirst()) this.hand(head, verdict.permit);
        else verdict.permit.release();
        return;
      }
      await this.sleep(verdict.retryInMs);
    }
  }

  private hand(waiter: Waiter, permit: RateLimitPermit): void {
    this.remove(waiter);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve({ waitedMs: Date.now() - waiter.enqueuedAt, settle: () => permit.settle() });
  }

  private permitFor(member: string): RateLimitPermit & { release(): void } {
    const { client, key, fallback } = this.options;
    let done = false;
    const once = (script: string, args: string[]) => {
      if (done) return;
      done = true;
      // Best effort: an admission whose settle is lost still expires after the in-flight limit.
      fallback.call('rate budget settlement', () => client.eval(script, { keys: [key], arguments: args })).catch(() => {});
      // A settled admission expires sooner than its in-flight score said: let the waiter ask again.
      this.wake();
    };
    return {
      waitedMs: 0,
      settle: () => once(SETTLE, [member, String(this.windowMs)]),
      release: () => once(RELEASE, [member]),
    };
  }

  private remove(waiter: Waiter): void {
    const index = this.queue.indexOf(waiter);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        if (this.wakeSleeper === done) this.wakeSleeper = undefined;
        resolve();
      };
      this.wakeSleeper = done;
    });
  }

  private wake(): void {
    this.wakeSleeper?.();
  }
}
