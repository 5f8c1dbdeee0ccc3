import { z } from 'zod';
import type { FailedResponse } from '../http/provider-transport.js';
import { ProviderError, boundedText, kindOfHttpStatus, type ProviderErrorDetails, type ProviderErrorKind } from '../http/provider-error.js';
import { parseRetryAfter } from '../http/retry.js';

export type ClovaErrorDetails = Omit<ProviderErrorDetails, 'provider'>;

/** Any failure of a CLOVA Studio call: HTTP status, CLOVA code (`40003`, …), message and request id. */
export class ClovaError extends ProviderError {
  constructor(details: ClovaErrorDetails) {
    super({ ...details, provider: 'clova' });
  }
}

/** Missing, wrong or unsubscribed key (HTTP 401/403, codes 401xx/403xx). */
export class ClovaAuthError extends ClovaError {}
/** QPM/TPM exceeded or the service is overloaded (HTTP 429, codes 429xx); see `retryAfterMs`. */
export class ClovaRateLimitError extends ClovaError {}
/** Prompt plus `maxTokens` exceed the model window (code 40003), before or during a stream. */
export class ClovaContextTooLongError extends ClovaError {}
/** Out-of-range or conflicting parameters, unknown model, unsupported API (other 4xxxx codes). */
export class ClovaInvalidParameterError extends ClovaError {}
/** The service failed or the connection broke (HTTP 5xx, codes 5xxxx, resets). */
export class ClovaServerError extends ClovaError {}
/** No answer within a connect, header, stall or total deadline, or HTTP 408. */
export class ClovaTimeoutError extends ClovaError {}
/** The caller cancelled the call. */
export class ClovaAbortedError extends ClovaError {}
/** The response did not follow the documented format (bad JSON, missing fields, broken stream). */
export class ClovaProtocolError extends ClovaError {}

const CLASS_BY_KIND: Record<ProviderErrorKind, new (details: ClovaErrorDetails) => ClovaError> = {
  auth: ClovaAuthError,
  rate_limit: ClovaRateLimitError,
  context_too_long: ClovaContextTooLongError,
  invalid_parameter: ClovaInvalidParameterError,
  not_found: ClovaInvalidParameterError,
  server: ClovaServerError,
  connection: ClovaServerError,
  timeout: ClovaTimeoutError,
  aborted: ClovaAbortedError,
  protocol: ClovaProtocolError,
  request_failed: ClovaError,
};

/** The `ClovaError` subclass matching `details.kind`. */
export function createClovaError(details: ClovaErrorDetails): ClovaError {
  return new CLASS_BY_KIND[details.kind](details);
}

/** Kind and retryability of a five-digit CLOVA status code. */
export function kindOfClovaCode(code: string): { kind: ProviderErrorKind; retryable: boolean } {
  if (code === '40003' || code === '41300') return { kind: 'context_too_long', retryable: false };
  if (['40080', '40082', '40083', '40084', '40400'].includes(code)) return { kind: 'not_found', retryable: false };
  if (code.startsWith('401') || code.startsWith('403')) return { kind: 'auth', retryable: false };
  if (code.startsWith('429')) return { kind: 'rate_limit', retryable: true };
  if (code === '40800') return { kind: 'timeout', retryable: true };
  if (code.startsWith('5')) return { kind: 'server', retryable: code !== '50100' };
  if (code.startsWith('4')) return { kind: 'invalid_parameter', retryable: false };
  return { kind: 'protocol', retryable: false };
}

const errorEnvelope = z.object({ status: z.object({ code: z.string(), message: z.string().optional() }) });

/** Error of a `{status:{code,message}}` envelope carried on any HTTP status (200 included). */
export function clovaErrorFromEnvelope(
  status: { code: string; message?: string | undefined },
  context: { httpStatus: number; requestId?: string | undefined; retryAfterMs?: number | undefined; partialText?: string },
): ClovaError {
  const { kind, retryable } = kindOfClovaCode(status.code);
  return createClovaError({
    kind,
    retryable,
    message: boundedText(status.message ?? 'no message'),
    status: context.httpStatus,
    providerCode: status.code,
    ...(context.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(context.retryAfterMs !== undefined ? { retryAfterMs: context.retryAfterMs } : {}),
    ...(context.partialText !== undefined ? { partialText: context.partialText } : {}),
  });
}

/** Maps a failed HTTP response: the envelope's code when there is one, the HTTP status otherwise (gateways, proxies). */
export function clovaErrorFromResponse(response: FailedResponse): ClovaError {
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  let parsed: z.infer<typeof errorEnvelope> | undefined;
  try {
    const result = errorEnvelope.safeParse(JSON.parse(response.bodyText));
    if (result.success) parsed = result.data;
  } catch {
    parsed = undefined;
  }
  if (parsed) return clovaErrorFromEnvelope(parsed.status, { httpStatus: response.status, requestId: response.requestId, retryAfterMs });
  const { kind, retryable } = response.status >= 200 && response.status < 300 ? { kind: 'protocol' as const, retryable: false } : kindOfHttpStatus(response.status);
  return createClovaError({
    kind,
    retryable,
    message: response.bodyText.trim() === '' ? 'empty response body' : `unexpected response body: ${boundedText(response.bodyText.trim(), 200)}`,
    status: response.status,
    ...(response.requestId !== undefined ? { requestId: response.requestId } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
