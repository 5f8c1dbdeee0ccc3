import { BotError } from '../../src/errors.js';

/** A Slack Web API call answered `ok: false` (or failed on the way); `slackError` is Slack's own code. */
export class SlackApiError extends BotError {
  readonly method: string;
  /** Slack's error string (`message_not_found`, `not_in_channel`…) or a transport reason. */
  readonly slackError: string;
  readonly status: number | undefined;

  constructor(options: { method: string; slackError: string; status?: number; cause?: unknown }) {
    super({
      code: 'slack_api_error',
      message: `Slack ${options.method} failed: ${options.slackError}${options.status ? ` (HTTP ${options.status})` : ''}`,
      userMessage: 'I could not post to Slack just now. Please try again in a moment.',
      cause: options.cause,
    });
    this.method = options.method;
    this.slackError = options.slackError;
    this.status = options.status;
  }
}

/**
 * A post's answer was lost (timeout, 5xx) and looking in the thread for it failed too, so nobody knows
 * whether it is there. It is not posted again blindly: a doubled answer stays for everyone to see, while
 * the answer itself is kept in the thread's history either way.
 */
export class SlackPostUnconfirmedError extends BotError {
  readonly channelId: string;
  readonly threadTs: string;
  /** The `post_id` in the message's metadata: search the thread for it to see whether it landed. */
  readonly postId: string;

  constructor(options: { channelId: string; threadTs: string; postId: string; cause: unknown }) {
    super({
      code: 'slack_post_unconfirmed',
      message: `Slack chat.postMessage in ${options.channelId} thread ${options.threadTs} lost its answer, and the thread could not be searched for post ${options.postId}`,
      userMessage: 'I could not post to Slack just now. Please try again in a moment.',
      cause: options.cause,
    });
    this.channelId = options.channelId;
    this.threadTs = options.threadTs;
    this.postId = options.postId;
  }
}

/** Slack kept answering "rate limited" for a call that had to go through. */
export class SlackRateLimitError extends BotError {
  readonly method: string;
  readonly retryAfterMs: number;
  readonly attempts: number;

  constructor(options: { method: string; retryAfterMs: number; attempts: number }) {
    super({
      code: 'slack_rate_limited',
      message: `Slack ${options.method} stayed rate limited after ${options.attempts} attempts (last Retry-After ${options.retryAfterMs} ms)`,
      userMessage: 'Slack is asking me to slow down. Please try again in a minute.',
    });
    this.method = options.method;
    this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts;
  }
}

/** The adapter was configured inconsistently (no transport, missing token…). */
export class SlackConfigError extends BotError {
  readonly option: string;

  constructor(option: string, problem: string) {
    super({ code: 'slack_config_invalid', message: `Slack adapter option ${option} ${problem}` });
    this.option = option;
  }
}

/** Errors after which Slack may have posted the message anyway: the answer, not the request, was lost. */
const MAYBE_CARRIED_OUT = new Set(['request_failed', 'internal_error', 'fatal_error', 'service_unavailable']);

/** Whether a failed call may still have been carried out by Slack (timeout, network error, 5xx, `internal_error`…). */
export function mayHaveBeenCarriedOut(error: unknown): error is SlackApiError {
  if (!(error instanceof SlackApiError)) return false;
  if (error.slackError === 'http_error') return (error.status ?? 0) >= 500;
  return MAYBE_CARRIED_OUT.has(error.slackError);
}
