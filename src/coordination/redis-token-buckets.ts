import type { RedisCommands } from '../redis/redis-commands.js';
import type { RedisBudgetFallback } from './redis-budget-fallback.js';
import { MemoryTokenBuckets, type TokenBucketOptions, type TokenBuckets } from './token-buckets.js';

/**
 * Refills the bucket for the time since it was last touched (Redis's clock, so replicas' clocks do not
 * matter), then takes a token if one is left (`try`) or in any case (`force`, may go into debt).
 * The key expires once the bucket would be full again, when a missing key means the same. Returns 1 if taken.
 */
const TAKE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local perMinute = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) / 60000 * perMinute)
local taken = 0
if ARGV[3] == 'force' or tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil((burst - tokens) / perMinute * 60000) + 1000))
return taken
`;

export interface RedisTokenBucketsOptions extends TokenBucketOptions {
  client: Pick<RedisCommands, 'eval'>;
  /** The Redis key of one bucket; one key per bucket, so a bucket's script lands on one Cluster slot. */
  keyOf(bucketKey: string): string;
  /** Shared by every budget on the same Redis: when to stop asking it, and the outage log lines. */
  fallback: RedisBudgetFallback;
}

/**
 * Token buckets that every replica on one Redis shares (one script, one round trip per call), e.g.
 * Slack's per-workspace `chat.update` budget, which Slack counts per workspace and app, not per
 * process. They fail open: when Redis fails, this process's own buckets decide (see `RedisBudgetFallback`).
 */
export class RedisTokenBuckets implements TokenBuckets {
  private readonly local: MemoryTokenBuckets;

  constructor(private readonly options: RedisTokenBucketsOptions) {
    this.local = new MemoryTokenBuckets({ perMinute: options.perMinute, burst: options.burst });
  }

  async tryTake(key: string): Promise<boolean> {
    const taken = await this.takeInRedis(key, 'try');
    return taken ?? (await this.local.tryTake(key));
  }

  async take(key: string): Promise<void> {
    const taken = await this.takeInRedis(key, 'force');
    if (taken === undefined) await this.local.take(key);
  }

  /** Whether Redis handed out a token; undefined when Redis could not be asked. */
  private async takeInRedis(key: string, mode: 'try' | 'force'): Promise<boolean | undefined> {
    const { client, fallback, perMinute, burst } = this.options;
    if (!fallback.useRedis) return undefined;
    try {
      const reply = await fallback.call('token bucket', () => client.eval(TAKE, { keys: [this.options.keyOf(key)], arguments: [String(perMinute), String(burst), mode] }));
      return reply === 1;
    } catch {
      // Logged once per outage by the fallback; this process's own bucket decides meanwhile.
      return undefined;
    }
  }
}
