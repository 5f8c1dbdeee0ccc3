import { BotError } from '../../errors.js';

/** What went wrong with a model provider call, independent of the vendor. */
export type ProviderErrorKind =
  | 'auth'
  | 'rate_limit'
  | 'context_too_long'
  | 'invalid_parameter'
  | 'not_found'
  | 'server'
  | 'timeout'
  | 'aborted'
  | 'connection'
  | 'protocol'
  | 'request_failed';

export interface ProviderErrorDetails {
  /** Vendor name, also the prefix of `code` (`clova_rate_limit`). */
  provider: string;
  kind: ProviderErrorKind;
  /** What happened, for logs; never contains credentials. */
  message: string;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** The vendor's own error code (CLOVA: five digits such as `40003`). */
  providerCode?: string;
  /** The request id sent or returned, so a support ticket can quote it. */
  requestId?: string;
  /** How long the server asked us to wait (`Retry-After`). */
  retryAfterMs?: number;
  /** Text a stream had produced before it failed. */
  partialText?: string;
  /** Whether sending the same request again may succeed. */
  retryable: boolean;
  cause?: unknown;
}

const USER_MESSAGES: Record<ProviderErrorKind, string> = {
  auth: 'I could not sign in to my language model. Please tell the bot operator.',
  rate_limit: 'The language model is busy right now. Please try again in a minute.',
  context_too_long: 'This conversation is too long for the model. Please start a new thread or shorten your message.',
  invalid_parameter: 'My request to the language model was rejected. Please tell the bot operator.',
  not_found: 'The configured language model could not be found. Please tell the bot operator.',
  server: 'The language model service had a problem. Please try again in a moment.',
  timeout: 'The language model took too long to answer. Please try again.',
  aborted: 'The answer was cancelled.',
  connection: 'I could not reach the language model service. Please try again in a moment.',
  protocol: 'The language model sent a reply I could not read. Please try again.',
  request_failed: 'The language model could not answer this request. Please try again.',
};

/** Kinds where a stream that already showed text broke off rather than never started. */
const BREAKS_OFF: ReadonlySet<ProviderErrorKind> = new Set(['connection', 'server', 'timeout', 'protocol']);
const BROKE_OFF_MESSAGE = 'My answer broke off before it was finished because the language model service stopped sending it. Please ask again.';

function userMessageFor(kind: ProviderErrorKind, partialText: string | undefined): string {
  // "Could not reach the service" under half an answer the user just watched appear reads as nonsense.
  if (partialText !== undefined && partialText.trim() !== '' && BREAKS_OFF.has(kind)) return BROKE_OFF_MESSAGE;
  return USER_MESSAGES[kind];
}

/**
 * Base of every provider failure: a stable `code` (`<provider>_<kind>`), the HTTP status, the
 * vendor's code, the request id and, for rate limits, how long to wait.
 */
export class ProviderError extends BotError {
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  /** `message` without the provider name and the facts in brackets. */
  readonly detail: string;
  readonly status: number | undefined;
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly partialText: string | undefined;
  readonly retryable: boolean;

  constructor(details: ProviderErrorDetails) {
    const facts = [
      details.status !== undefined ? `HTTP ${details.status}` : undefined,
      details.providerCode !== undefined ? `code ${details.providerCode}` : undefined,
      details.requestId !== undefined ? `request ${details.requestId}` : undefined,
    ].filter(Boolean);
    super({
      code: `${details.provider}_${details.kind}`,
      message: `${details.provider}: ${details.message}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`,
      userMessage: userMessageFor(details.kind, details.partialText),
      cause: details.cause,
    });
    this.provider = details.provider;
    this.kind = details.kind;
    this.detail = details.message;
    this.status = details.status;
    this.providerCode = details.providerCode;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
    this.partialText = details.partialText;
    this.retryable = details.retryable;
  }
}

/**
 * The details of `error` with the text a stream produced before it failed, for a vendor to build its
 * own error class from. Never retryable: text was already delivered.
 */
export function detailsWithPartialText(error: ProviderError, partialText: string): Omit<ProviderErrorDetails, 'provider'> {
  return {
    kind: error.kind,
    message: error.detail,
    retryable: false,
    partialText,
    cause: error.cause ?? error,
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
    ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
  };
}

/** Kind and retryability of an HTTP failure status, for vendors that have no finer code. */
export function kindOfHttpStatus(status: number): { kind: ProviderErrorKind; retryable: boolean } {
  if (status === 401 || status === 403) return { kind: 'auth', retryable: false };
  if (status === 404) return { kind: 'not_found', retryable: false };
  if (status === 408) return { kind: 'timeout', retryable: true };
  if (status === 413) return { kind: 'context_too_long', retryable: false };
  if (status === 429) return { kind: 'rate_limit', retryable: true };
  if (status >= 500) return { kind: 'server', retryable: status !== 501 };
  if (status >= 400) return { kind: 'invalid_parameter', retryable: false };
  return { kind: 'protocol', retryable: false };
}

/** Bounds server-provided text before it goes into an error message. */
export function boundedText(text: string, maxCharacters = 300): string {
  return text.length > maxCharacters ? `${text.slice(0, maxCharacters)}…` : text;
}
