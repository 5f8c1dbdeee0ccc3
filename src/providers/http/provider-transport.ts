import type { EventSourceMessage } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { CredentialStatus } from './credential-status.js';
import { createHttpAgent, resolveTimeouts, type HttpAgentOptions, type HttpTimeouts } from './http-agent.js';
import { ProviderError, type ProviderErrorDetails } from './provider-error.js';
import type { RateBudget, RateLimitPermit } from './rate-limiter.js';
import { DEFAULT_RETRY_POLICY, realSleep, withRetries, type RetryPolicy, type Sleep } from './retry.js';
import { readServerSentEvents, SseBufferError } from './sse-reader.js';

/** An HTTP response that was not a success, handed to the vendor's error mapping. */
export interface FailedResponse {
  status: number;
  bodyText: string;
  headers: Record<string, string | string[] | undefined>;
  requestId: string | undefined;
}

export interface ProviderTransportOptions {
  /** Vendor name for errors, logs and metrics (`clova`, `openai`). */
  provider: string;
  agent: Dispatcher;
  timeouts: HttpTimeouts;
  /** Whole-call limit of a JSON request, retries and waits included. Default 120 s. */
  requestTimeoutMs?: number;
  /** Whole-call limit of a stream. Default 300 s. */
  streamTimeoutMs?: number;
  retry: RetryPolicy;
  sleep?: Sleep;
  logger: Logger;
  metrics?: Metrics;
  /** Told whether each call's credentials were accepted or refused (for `/readyz`). */
  credentials?: CredentialStatus;
  /** Maps a non-2xx response (or a 2xx JSON body where a stream was expected) to a vendor error. */
  errorFromResponse(response: FailedResponse): ProviderError;
  /** Builds a vendor error (its own subclass) from details. */
  createError(details: Omit<ProviderErrorDetails, 'provider'>): ProviderError;
}

/** One POST as the transport needs it. */
export interface ProviderCall {
  url: string;
  /** Path for logs (no query string, no secrets). */
  path: string;
  headers: Record<string, string>;
  body: unknown;
  requestId?: string;
  signal?: AbortSignal;
  limiter?: RateBudget;
  /** Tokens this call may spend (input estimate + output reserve), for the limiter. */
  estimatedTokens?: number;
}

/** An open SSE response. Iterate `events` to the end, or call `close()` to abandon it. */
export interface ProviderStream {
  events: AsyncGenerator<EventSourceMessage>;
  requestId: string | undefined;
  close(): void;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

const CONNECTION_ERROR_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const own = (error as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  return errorCode((error as { cause?: unknown }).cause);
}

async function readBoundedText(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < MAX_ERROR_BODY_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8');
}

/** Request headers whose values are credentials. */
const CREDENTIAL_HEADER = /authorization|api-?key|token|secret/i;

/**
 * Removes the credentials this call sent from an error body: some gateways echo a refused key back
 * ("invalid key nv-…"), and the body ends up in the error message that logs and reports show.
 */
function withoutCredentials(text: string, headers: Record<string, string>): string {
  let scrubbed = text;
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADER.test(name)) continue;
    const credential = value.replace(/^(Bearer|Basic|Bot)\s+/i, '');
    for (const secret of new Set([value, credential])) {
      if (secret.length >= 6) scrubbed = scrubbed.split(secret).join('[redacted]');
    }
  }
  return scrubbed;
}

/**
 * The HTTP machinery both providers share: the local rate limiter, undici requests on one keep-alive
 * agent with connect/header/body timeouts and a total deadline, retries with backoff that honour
 * `Retry-After` (only before a stream has delivered anything), typed errors, logs without secrets.
 */
export class ProviderTransport {
  private readonly sleep: Sleep;

  constructor(private readonly options: ProviderTransportOptions) {
    this.sleep = options.sleep ?? realSleep;
  }

  /** POSTs JSON and returns the parsed JSON body of a 2xx response. */
  async postJson(call: ProviderCall): Promise<{ json: unknown; status: number }> {
    const deadline = AbortSignal.timeout(this.options.requestTimeoutMs ?? 120_000);
    const signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline;
    return this.retrying(call, async (attempt) => {
      const response = await this.send(call, signal, deadline, 'application/json', attempt);
      let text: string;
      try {
        text = await response.body.text();
      } catch (error) {
        throw this.transportError(error, call, deadline);
      }
      try {
        return { json: JSON.parse(text) as unknown, status: response.statusCode };
      } catch (error) {
        throw this.options.createError({ kind: 'protocol', message: 'response body is not JSON', status: response.statusCode, retryable: false, cause: error, ...this.idOf(call) });
      }
    });
  }

  /**
   * POSTs JSON asking for `text/event-stream`. Retries cover the stream up to its first event: a
   * stream that breaks before it sent anything has shown the user nothing, so sending the request
   * again is as safe as retrying a refused connection. Once an event arrived, a failure is final.
   */
  async openStream(call: ProviderCall): Promise<ProviderStream> {
    const deadline = AbortSignal.timeout(this.options.streamTimeoutMs ?? 300_000);
    const signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline;
    const { response, reader, first } = await this.retrying(call, async (attempt) => {
      const opened = await this.send(call, signal, deadline, 'text/event-stream', attempt);
      const contentType = String(opened.headers['content-type'] ?? '');
      if (!contentType.includes('text/event-stream')) {
        // Some failures arrive as a JSON envelope on HTTP 200 instead of a stream.
        const bodyText = withoutCredentials(await readBoundedText(opened.body).catch(() => ''), call.headers);
        throw this.options.errorFromResponse({ status: opened.statusCode, bodyText, headers: opened.headers, requestId: call.requestId });
      }
      const events = readServerSentEvents(opened.body);
      try {
        const firstEvent = await events.next();
        if (firstEvent.done) {
          throw this.options.createError({ kind: 'connection', message: 'the stream closed before its first event', status: opened.statusCode, retryable: true, ...this.idOf(call) });
        }
        return { response: opened, reader: events, first: firstEvent.value };
      } catch (error) {
        opened.body.destroy();
        throw this.streamError(error, call, deadline, true);
      }
    });
    const transport = this;
    let finished = false;
    const events = (async function* () {
      try {
        yield first;
        for await (const event of reader) yield event;
        finished = true;
      } catch (error) {
        throw transport.streamError(error, call, deadline, false);
      } finally {
        // An abandoned stream must not keep its socket: destroying the body closes it.
        if (!finished) response.body.destroy();
      }
    })();
    return {
      events,
      requestId: call.requestId,
      close: () => {
        if (!finished) response.body.destroy();
      },
    };
  }

  /** A failure while reading an open stream; `retryable` only while nothing of it was delivered yet. */
  private streamError(error: unknown, call: ProviderCall, deadline: AbortSignal, retryable: boolean): ProviderError {
    if (error instanceof SseBufferError) {
      return this.options.createError({ kind: 'protocol', message: error.message, status: 200, retryable: false, cause: error, ...this.idOf(call) });
    }
    return this.transportError(error, call, deadline, retryable);
  }

  private idOf(call: ProviderCall): { requestId?: string } {
    return call.requestId ? { requestId: call.requestId } : {};
  }

  private async retrying<Result>(call: ProviderCall, operation: (attempt: number) => Promise<Result>): Promise<Result> {
    const { logger, metrics, provider, credentials } = this.options;
    try {
      const result = await withRetries(operation, {
        policy: this.options.retry,
        sleep: this.sleep,
        ...(call.signal ? { signal: call.signal } : {}),
        classify: (error) =>
          error instanceof ProviderError ? { retryable: error.retryable, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) } : { retryable: false },
        onRetry: ({ error, attempt, delayMs, fromRetryAfter }) => {
          logger.warn(
            { provider, path: call.path, requestId: call.requestId, attempt, delayMs, fromRetryAfter, code: error instanceof ProviderError ? error.code : 'unexpected' },
            'provider call failed; retrying',
          );
        },
      });
      credentials?.accepted();
      return result;
    } catch (error) {
      // A cancel or deadline during a backoff wait surfaces as a bare abort reason; type it like any other.
      const typed = error instanceof ProviderError ? error : this.transportError(error, call, new AbortController().signal, false);
      if (typed.kind === 'auth') credentials?.refused(typed);
      metrics?.countError(typed);
      logger.warn({ provider, path: call.path, requestId: call.requestId, code: typed.code }, 'provider call failed');
      throw typed;
    }
  }

  private async send(call: ProviderCall, signal: AbortSignal, deadline: AbortSignal, accept: string, attempt: number): Promise<Dispatcher.ResponseData> {
    const { logger, metrics, provider, timeouts } = this.options;
    let permit: RateLimitPermit | undefined;
    if (call.limiter) {
      try {
        permit = await call.limiter.acquire(call.estimatedTokens ?? 0, signal);
      } catch (error) {
        throw this.transportError(error, call, deadline, false);
      }
      if (permit.waitedMs > 0) {
        metrics?.rateLimitWaits.inc({ upstream: 'local_limiter' });
        logger.debug({ provider, path: call.path, requestId: call.requestId, waitedMs: permit.waitedMs }, 'waited for the local rate limiter');
      }
    }
    const startedAt = Date.now();
    logger.debug({ provider, path: call.path, requestId: call.requestId, attempt }, 'provider request');
    let response: Dispatcher.ResponseData;
    try {
      response = await request(call.url, {
        method: 'POST',
        dispatcher: this.options.agent,
        headers: { ...call.headers, 'content-type': 'application/json', accept },
        body: JSON.stringify(call.body),
        signal,
        headersTimeout: timeouts.headersTimeoutMs,
        bodyTimeout: timeouts.bodyTimeoutMs,
      });
    } catch (error) {
      throw this.transportError(error, call, deadline);
    } finally {
      permit?.settle();
    }
    logger.debug({ provider, path: call.path, requestId: call.requestId, status: response.statusCode, durationMs: Date.now() - startedAt }, 'provider response');
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const bodyText = withoutCredentials(await readBoundedText(response.body).catch(() => ''), call.headers);
      const failure = this.options.errorFromResponse({ status: response.statusCode, bodyText, headers: response.headers, requestId: call.requestId });
      if (failure.kind === 'rate_limit') metrics?.rateLimitWaits.inc({ upstream: provider });
      throw failure;
    }
    return response;
  }

  /** Maps what undici or an abort threw to a typed error; `retryable` is false once a stream started. */
  transportError(error: unknown, call: ProviderCall, deadline: AbortSignal, retryable = true): ProviderError {
    if (error instanceof ProviderError) return error;
    const ids = this.idOf(call);
    if (call.signal?.aborted) return this.options.createError({ kind: 'aborted', message: 'the call was cancelled', retryable: false, cause: error, ...ids });
    const code = errorCode(error);
    if (deadline.aborted || (error instanceof Error && error.name === 'TimeoutError')) {
      return this.options.createError({ kind: 'timeout', message: 'the call took longer than its deadline', retryable: false, cause: error, ...ids });
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return this.options.createError({ kind: 'timeout', message: 'no response headers in time', retryable: false, cause: error, ...ids });
    if (code === 'UND_ERR_BODY_TIMEOUT') return this.options.createError({ kind: 'timeout', message: 'the response stalled', retryable: false, cause: error, ...ids });
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return this.options.createError({ kind: 'timeout', message: 'could not connect in time', retryable, cause: error, ...ids });
    if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) {
      return this.options.createError({ kind: 'connection', message: `the connection failed (${code})`, retryable, cause: error, ...ids });
    }
    if (error instanceof Error && error.name === 'AbortError') return this.options.createError({ kind: 'aborted', message: 'the call was cancelled', retryable: false, cause: error, ...ids });
    return this.options.createError({ kind: 'request_failed', message: error instanceof Error ? error.message : 'the request failed', retryable: false, cause: error, ...ids });
  }
}

/** What a vendor client is configured with for its HTTP side. */
export interface VendorTransportSettings {
  http?: HttpAgentOptions & { requestTimeoutMs?: number; streamTimeoutMs?: number };
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  logger: Logger;
  metrics?: Metrics;
  credentials?: CredentialStatus;
}

/** A vendor's keep-alive pool and the transport on it; the caller closes `agent` on shutdown. */
export function createVendorTransport(
  provider: string,
  settings: VendorTransportSettings,
  errors: Pick<ProviderTransportOptions, 'errorFromResponse' | 'createError'>,
): { agent: ReturnType<typeof createHttpAgent>; transport: ProviderTransport } {
  const agent = createHttpAgent(settings.http);
  const transport = new ProviderTransport({
    provider,
    agent,
    timeouts: resolveTimeouts(settings.http),
    ...(settings.http?.requestTimeoutMs !== undefined ? { requestTimeoutMs: settings.http.requestTimeoutMs } : {}),
    ...(settings.http?.streamTimeoutMs !== undefined ? { streamTimeoutMs: settings.http.streamTimeoutMs } : {}),
    retry: { ...DEFAULT_RETRY_POLICY, ...settings.retry },
    ...(settings.sleep ? { sleep: settings.sleep } : {}),
    logger: settings.logger,
    ...(settings.metrics ? { metrics: settings.metrics } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...errors,
  });
  return { agent, transport };
}
