import type { Config } from '../config/config.js';
import { RedisBudgetFallback } from '../coordination/redis-budget-fallback.js';
import { RedisRateBudget } from '../coordination/redis-rate-budget.js';
import { RedisTokenBuckets } from '../coordination/redis-token-buckets.js';
import { MemoryTokenBuckets, type TokenBucketOptions, type TokenBuckets } from '../coordination/token-buckets.js';
import type { Logger } from '../observability/logger.js';
import { CLOVA_DEFAULT_TOOL_LIMITS, type ClovaClientOptions } from '../providers/clova/clova-client.js';
import { RateLimiter, type RateBudget, type RateBudgetFactory, type RateLimits } from '../providers/http/rate-limiter.js';
import type { RedisCommands } from '../redis/redis-commands.js';

/**
 * Where the bot's upstream rate budgets are kept. Upstream limits are per account (CLOVA) or per
 * workspace and app (Slack), not per process, so with Redis every replica draws on one budget; without
 * it, each process keeps its own (right for one process).
 */
export interface RateBudgets {
  /** Whether the budgets are shared through Redis. */
  readonly shared: boolean;
  /**
   * The requests/tokens-per-minute budget of one upstream endpoint, named `upstream:endpoint`
   * (e.g. `clova:HCX-005`, `clova:embedding`). Budgets of one name share their window across replicas.
   */
  forEndpoint(name: string, limits: RateLimits): RateBudget;
  /** Token buckets per key (e.g. per Slack workspace), named e.g. `slack:chat.update`. */
  tokenBuckets(name: string, options: TokenBucketOptions): TokenBuckets;
}

export interface RateBudgetsOptions {
  /** The state backends' Redis (single node or Cluster); unset: budgets in this process. */
  redis?: Pick<RedisCommands, 'eval'> | undefined;
  /** REDIS_KEY_PREFIX: budgets live under `{prefix}:rate:`. */
  keyPrefix: string;
  logger: Logger;
  /** After a failed Redis command, how long budgets pace this process alone (default 5 s). */
  retryRedisAfterMs?: number;
  /** A budget command that has not answered after this long counts as failed (default 1 s). */
  commandTimeoutMs?: number;
  /** Longest an admission counts while its request is in flight (default 120 s, the provider's request timeout). */
  maxInFlightMs?: number;
}

/**
 * Builds the rate budgets on the state backends' Redis connection when there is one.
 *
 * @example
 * const rateBudgets = createRateBudgets({ redis: backends.redis ?? backends.redisCluster, keyPrefix: config.REDIS_KEY_PREFIX, logger });
 * const models = await buildModelStack(config, { logger, metrics, rateBudgets });
 */
export function createRateBudgets(options: RateBudgetsOptions): RateBudgets {
  const redis = options.redis;
  if (!redis) {
    return {
      shared: false,
      forEndpoint: (_name, limits) => new RateLimiter(limits),
      tokenBuckets: (_name, bucketOptions) => new MemoryTokenBuckets(bucketOptions),
    };
  }
  const fallback = new RedisBudgetFallback({
    logger: options.logger,
    ...(options.retryRedisAfterMs !== undefined ? { retryRedisAfterMs: options.retryRedisAfterMs } : {}),
    ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
  });
  // One hash tag per budget (or per bucket): each script touches one key, so any Cluster slot will do.
  const keyOf = (name: string) => `${options.keyPrefix}:rate:{${name.replace(/[{}]/g, '_')}}`;
  return {
    shared: true,
    forEndpoint: (name, limits) => {
      // Nothing to count: a budget without limits admits everything, so Redis need not be asked.
      if (limits.requestsPerMinute === undefined && limits.tokensPerMinute === undefined) return new RateLimiter(limits);
      return new RedisRateBudget({
        client: redis,
        key: keyOf(name),
        limits,
        fallback,
        ...(options.maxInFlightMs !== undefined ? { maxInFlightMs: options.maxInFlightMs } : {}),
      });
    },
    tokenBuckets: (name, bucketOptions) => new RedisTokenBuckets({ ...bucketOptions, client: redis, keyOf: (bucketKey) => keyOf(`${name}:${bucketKey}`), fallback }),
  };
}

/** Where and as whom the bot calls CLOVA Studio, for every client it builds (provider, embeddings). */
export function clovaConnectionOptions(
  config: Pick<Config, 'CLOVA_STUDIO_API_KEY' | 'CLOVA_STUDIO_APIGW_KEY' | 'CLOVA_STUDIO_BASE_URL' | 'CLOVA_STUDIO_PATH_PREFIX' | 'CLOVA_STUDIO_APP_ID'>,
): Pick<ClovaClientOptions, 'apiKey' | 'apigwKey' | 'baseUrl' | 'pathPrefix' | 'appId'> {
  return {
    apiKey: config.CLOVA_STUDIO_API_KEY!,
    ...(config.CLOVA_STUDIO_APIGW_KEY ? { apigwKey: config.CLOVA_STUDIO_APIGW_KEY } : {}),
    baseUrl: config.CLOVA_STUDIO_BASE_URL,
    ...(config.CLOVA_STUDIO_PATH_PREFIX && config.CLOVA_STUDIO_PATH_PREFIX !== 'none' ? { pathPrefix: config.CLOVA_STUDIO_PATH_PREFIX } : {}),
    ...(config.CLOVA_STUDIO_APP_ID ? { appId: config.CLOVA_STUDIO_APP_ID } : {}),
  };
}

/**
 * The CLOVA client's limiter settings from the configuration: CLOVA_EMBEDDING_REQUESTS_PER_MINUTE for the
 * embedding bucket, and budgets named `clova:<model or tool>` in `rateBudgets` (shared by replicas on Redis).
 */
export function clovaRateOptions(
  config: Pick<Config, 'CLOVA_EMBEDDING_REQUESTS_PER_MINUTE'>,
  rateBudgets: RateBudgets | undefined,
): { rateLimits?: Partial<Record<string, RateLimits>>; rateBudgetFor?: RateBudgetFactory } {
  const embeddingRequests = config.CLOVA_EMBEDDING_REQUESTS_PER_MINUTE;
  return {
    ...(embeddingRequests !== undefined ? { rateLimits: { embedding: { ...CLOVA_DEFAULT_TOOL_LIMITS.embedding, requestsPerMinute: embeddingRequests } } } : {}),
    ...(rateBudgets ? { rateBudgetFor: (bucket: string, limits: RateLimits) => rateBudgets.forEndpoint(`clova:${bucket}`, limits) } : {}),
  };
}
