import type { Logger } from '../observability/logger.js';
import { describeCause, RedisUnavailableError } from '../redis/connection.js';

export interface RedisBudgetFallbackOptions {
  logger: Logger;
  /** After a failed Redis command, how long budgets pace this process alone before asking Redis again. Default 5 s. */
  retryRedisAfterMs?: number;
  /** A budget command that has not answered after this long counts as failed. Default 1 s (one normally takes well under a millisecond). */
  commandTimeoutMs?: number;
}

/**
 * Decides for every rate budget kept in Redis whether to ask Redis or to pace this process alone.
 * Budgets fail open: an unreachable or hung Redis must not stop answers, so after a failed command
 * every budget uses its in-process limiter for `retryRedisAfterMs`. An outage then costs one failed
 * (or timed-out) command per interval rather than one per model call, and is logged once when it
 * begins and once when it ends.
 */
export class RedisBudgetFallback {
  private localUntil = 0;
  private reportedDown = false;
  private readonly retryRedisAfterMs: number;
  private readonly commandTimeoutMs: number;

  constructor(private readonly options: RedisBudgetFallbackOptions) {
    this.retryRedisAfterMs = options.retryRedisAfterMs ?? 5_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
  }

  /**
   * Runs one budget command and records how it went; throws `RedisUnavailableError` when it fails or
   * does not answer in time. The deadline is our own: node-redis's command timeout stops counting once
   * a command is written, so a frozen Redis would otherwise hold it until TCP gives up.
   */
  async call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.commandTimeoutMs} ms`)), this.commandTimeoutMs);
    });
    const running = command();
    // The command may still settle after the deadline; nobody is listening then.
    running.catch(() => {});
    try {
      const result = await Promise.race([running, deadline]);
      this.succeeded();
      return result;
    } catch (error) {
      const failure = new RedisUnavailableError(operation, error);
      this.failed(operation, failure);
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }

  /** False while budgets should pace locally after a recent failure. */
  get useRedis(): boolean {
    return Date.now() >= this.localUntil;
  }

  /** A budget command failed: pace locally for a while, and say so once per outage. */
  private failed(operation: string, error: unknown): void {
    this.localUntil = Date.now() + this.retryRedisAfterMs;
    if (this.reportedDown) return;
    this.reportedDown = true;
    this.options.logger.warn(
      { operation, err: describeCause(error), retryRedisAfterMs: this.retryRedisAfterMs },
      'shared rate budgets are unavailable in Redis; each replica paces itself alone until Redis answers again (replicas together may exceed the upstream limits meanwhile)',
    );
  }

  /** A budget command succeeded. */
  private succeeded(): void {
    if (!this.reportedDown) return;
    this.reportedDown = false;
    this.options.logger.info('shared rate budgets are back in Redis');
  }
}
