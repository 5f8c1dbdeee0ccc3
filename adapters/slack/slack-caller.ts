import { setTimeout as delay } from 'node:timers/promises';
import { webApi } from '@slack/bolt';
import type { Logger } from '../../src/observability/logger.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { SlackApiError, SlackRateLimitError } from './errors.js';

/**
 * `required`: the call must go through (final answers): wait out every rate limit, then retry.
 * `best-effort`: an intermediate update that the next one supersedes: skip it while rate limited.
 */
export type CallPriority = 'required' | 'best-effort';

/** A successful Web API response (`ok: true` plus method-specific fields). */
export type SlackResponse = Record<string, unknown> & { ok: boolean };

/**
 * When each (workspace, method) may be called again after a rate limit. Shared by every turn of a
 * process, because Slack's tiers count per method, per workspace, per app.
 */
export class RateLimitRegistry {
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds to wait before calling `method` in `workspaceId` again (0 when free). */
  waitFor(workspaceId: string, method: string): number {
    const until = this.blockedUntil.get(`${workspaceId} ${method}`) ?? 0;
    return Math.max(0, until - this.now());
  }

  block(workspaceId: string, method: string, forMs: number): void {
    const key = `${workspaceId} ${method}`;
    const until = this.now() + forMs;
    if ((this.blockedUntil.get(key) ?? 0) < until) this.blockedUntil.set(key, until);
  }
}

export interface SlackCallerOptions {
  /** For calls that are safe to repeat (edits, deletes, reads): it may retry timeouts and 5xx on its own. */
  client: webApi.WebClient;
  /**
   * For calls that create something (`{ idempotent: false }`): built without automatic retries, because
   * Slack may have carried out a request whose answer was lost. Defaults to `client`, which must then
   * retry nothing itself.
   */
  onceClient?: webApi.WebClient;
  workspaceId: string;
  rateLimits: RateLimitRegistry;
  logger: Logger;
  metrics?: Metrics;
  /** Longest single wait we accept for a required call (Retry-After beyond this is capped). */
  maxRateLimitWaitMs?: number;
  /** Attempts for a required call before giving up with `SlackRateLimitError`. */
  maxAttempts?: number;
}

/** How one call may be repeated. */
export interface CallOptions {
  /**
   * `false` for calls that create something (a message, a stream): they go out once per attempt, never
   * repeated by the client after a timeout or 5xx; see `postInThreadOnce` for how a post is then retried.
   * Rate limits are retried either way: Slack refused those calls without acting on them.
   */
  idempotent?: boolean;
}

const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Calls Slack Web API methods for one workspace, honouring both kinds of rate limit Slack sends:
 * HTTP 429 with `Retry-After`, and HTTP 200 with `ok: false, error: "ratelimited"`.
 * The WebClient must be built with `rejectRateLimitedCalls: true` so 429s reach this code instead of
 * pausing the client's whole queue.
 */
export class SlackCaller {
  readonly workspaceId: string;
  readonly logger: Logger;
  private readonly maxWaitMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly options: SlackCallerOptions) {
    this.workspaceId = options.workspaceId;
    this.logger = options.logger;
    this.maxWaitMs = options.maxRateLimitWaitMs ?? 60_000;
    this.maxAttempts = options.maxAttempts ?? 6;
  }

  /**
   * Calls `method`. Resolves with the response, or with `undefined` when a best-effort call was skipped
   * because of a rate limit; throws `SlackApiError` for any other failure.
   */
  async call(method: string, params: Record<string, unknown>, priority: CallPriority, options: CallOptions = {}): Promise<SlackResponse | undefined> {
    const { rateLimits, workspaceId } = this.options;
    const client = options.idempotent === false ? (this.options.onceClient ?? this.options.client) : this.options.client;
    let lastWaitMs = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      const waitMs = rateLimits.waitFor(workspaceId, method);
      if (waitMs > 0) {
        if (priority === 'best-effort') return undefined;
        this.options.metrics?.rateLimitWaits.inc({ upstream: 'slack' });
        await delay(Math.min(waitMs, this.maxWaitMs));
      }
      try {
        return (await client.apiCall(method, params)) as SlackResponse;
      } catch (error) {
        const retryAfterMs = rateLimitDelay(error);
        if (retryAfterMs === undefined) throw toSlackApiError(method, error);
        lastWaitMs = retryAfterMs;
        rateLimits.block(workspaceId, method, retryAfterMs);
        this.options.logger.warn({ method, workspaceId, retryAfterMs, priority }, 'slack rate limited');
        if (priority === 'best-effort') return undefined;
      }
    }
    throw new SlackRateLimitError({ method, retryAfterMs: lastWaitMs, attempts: this.maxAttempts });
  }
}

/** The wait Slack asked for when `error` is a rate limit of either kind, else undefined. */
export function rateLimitDelay(error: unknown): number | undefined {
  if (!isCodedError(error)) return undefined;
  if (error.code === webApi.ErrorCode.RateLimitedError) {
    const seconds = (error as webApi.WebAPIRateLimitedError).retryAfter;
    return Number.isFinite(seconds) ? seconds * 1000 : DEFAULT_RETRY_AFTER_MS;
  }
  if (error.code === webApi.ErrorCode.PlatformError) {
    const data = (error as webApi.WebAPIPlatformError).data;
    if (data.error !== 'ratelimited') return undefined;
    const seconds = data.response_metadata?.retryAfter;
    return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : DEFAULT_RETRY_AFTER_MS;
  }
  return undefined;
}

function toSlackApiError(method: string, error: unknown): SlackApiError {
  if (!isCodedError(error)) return new SlackApiError({ method, slackError: 'unexpected', cause: error });
  switch (error.code) {
    case webApi.ErrorCode.PlatformError:
      return new SlackApiError({ method, slackError: String((error as webApi.WebAPIPlatformError).data.error), cause: error });
    case webApi.ErrorCode.HTTPError: {
      const httpError = error as webApi.WebAPIHTTPError;
      return new SlackApiError({ method, slackError: 'http_error', status: httpError.statusCode, cause: error });
    }
    case webApi.ErrorCode.RequestError:
      return new SlackApiError({ method, slackError: 'request_failed', cause: error });
    default:
      return new SlackApiError({ method, slackError: String(error.code), cause: error });
  }
}

function isCodedError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}
