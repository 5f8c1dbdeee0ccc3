/**
 * The one error base of the project. Every error we throw on purpose carries a stable `code`
 * (for logs, metrics and tests), an optional `cause`, and a `userMessage`: one plain sentence that
 * is safe to show in a chat thread (no secrets, no stack, no internals).
 */
export interface BotErrorOptions {
  code: string;
  message: string;
  userMessage?: string;
  cause?: unknown;
}

export class BotError extends Error {
  readonly code: string;
  readonly userMessage: string;

  constructor(options: BotErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.userMessage = options.userMessage ?? 'Something went wrong on my side while answering. Please try again in a moment.';
  }
}

/** The message a person should see for any thrown value: ours carry one, anything else gets a generic line. */
export function userMessageOf(error: unknown): string {
  if (error instanceof BotError) return error.userMessage;
  return 'Something went wrong on my side while answering. Please try again in a moment.';
}

/** A stable code for any thrown value, for logs and metrics. */
export function errorCodeOf(error: unknown): string {
  if (error instanceof BotError) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  return 'unexpected';
}

/**
 * Whether a model refused the request as longer than its context window, whatever the vendor:
 * provider errors are coded `<provider>_<kind>` (see providers/http/provider-error.ts).
 */
export function isContextOverflow(error: unknown): boolean {
  return error instanceof BotError && error.code.endsWith('_context_too_long');
}

/** Whether `error` only reports that its work was cancelled (ours: `aborted`, providers: `<provider>_aborted`). */
export function isCancellation(error: unknown): boolean {
  const code = errorCodeOf(error);
  return code === 'aborted' || code.endsWith('_aborted');
}
