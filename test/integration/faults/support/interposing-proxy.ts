/**
 * A loopback HTTP proxy placed between the bot and one of the fake platform servers. It forwards
 * every request unchanged, and can add latency, answer some requests itself with an injected
 * failure (a 5xx, a 429 with `Retry-After`), and report each exchange with its timing, so tests
 * and the soak see exactly what the bot sent and what it got back.
 */
import { createServer, request as forward, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/** What the proxy knows about a request when deciding its fate. */
export interface InterposedRequest {
  method: string;
  /** Path and query as the client sent them, e.g. `/api/v10/channels/1/messages`. */
  path: string;
  /** Parsed JSON body, or `undefined` when there was none or it was not JSON. */
  body: unknown;
}

/** A failure the proxy answers instead of forwarding. */
export interface InjectedFailure {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request and its outcome, reported when the response is complete. */
export interface InterposedExchange extends InterposedRequest {
  status: number;
  /** Set when the proxy answered the request itself. */
  injected: boolean;
  /** `performance.now()` when the request head arrived and when the response was sent. */
  arrivedAt: number;
  finishedAt: number;
}

export interface InterposingProxyOptions {
  /** Origin of the real server, e.g. `http://127.0.0.1:41234`. */
  target: string;
  /** Added before forwarding each request (both ways of a real network round trip, collapsed). */
  latencyMs?: number;
  /** Return a failure to answer this request without forwarding it. */
  inject?: (request: InterposedRequest) => InjectedFailure | undefined;
  /** Called once per finished exchange (also for injected failures). */
  onExchange?: (exchange: InterposedExchange) => void;
}

export interface InterposingProxy {
  /** Origin to give the bot instead of the target's, e.g. `http://127.0.0.1:45678`. */
  url: string;
  /** Every exchange so far, oldest first (not kept when `onExchange` is given, so a soak does not grow without bound). */
  readonly exchanges: InterposedExchange[];
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1, a free port.
 *
 * @example
 * const proxy = await startInterposingProxy({ target: new URL(fake.apiUrl).origin, inject: (r) => (r.method === 'PATCH' ? { status: 502 } : undefined) });
 */
export async function startInterposingProxy(options: InterposingProxyOptions): Promise<InterposingProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const exchanges: InterposedExchange[] = [];
  const report = (exchange: InterposedExchange) => {
    if (options.onExchange) options.onExchange(exchange);
    else exchanges.push(exchange);
  };

  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> => {
    const arrivedAt = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const seen: InterposedRequest = { method: (incoming.method ?? 'GET').toUpperCase(), path: incoming.url ?? '/', body: parseJson(raw) };
    if (options.latencyMs) await delay(options.latencyMs);
    const failure = options.inject?.(seen);
    if (failure) {
      const payload = failure.body === undefined ? '' : JSON.stringify(failure.body);
      outgoing.writeHead(failure.status, { ...(payload ? { 'content-type': 'application/json' } : {}), ...failure.headers });
      outgoing.end(payload, () => report({ ...seen, status: failure.status, injected: true, arrivedAt, finishedAt: performance.now() }));
      return;
    }
    const headers = { ...incoming.headers, host: target.host };
    await new Promise<void>((resolve) => {
      const upstream = forward(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, method: seen.method, path: seen.path, headers, agent },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
          answer.once('end', () => {
            report({ ...seen, status: answer.statusCode ?? 502, injected: false, arrivedAt, finishedAt: performance.now() });
            resolve();
          });
        },
      );
      upstream.once('error', () => {
        if (!outgoing.headersSent) outgoing.writeHead(502).end();
        else outgoing.destroy();
        resolve();
      });
      upstream.end(raw);
    });
  };

  const server: Server = createServer((incoming, outgoing) => {
    handle(incoming, outgoing).catch(() => outgoing.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exchanges,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
