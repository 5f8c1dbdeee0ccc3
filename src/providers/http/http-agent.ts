import { Agent } from 'undici';

/** Connection and stall limits of the shared keep-alive pool. */
export interface HttpAgentOptions {
  /** Time to open a TCP/TLS connection. Default 10 s. */
  connectTimeoutMs?: number;
  /** Time from request sent to complete response headers (time to first byte). Default 60 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks; a stalled stream fails after it. Default 60 s. */
  bodyTimeoutMs?: number;
  /** Idle keep-alive sockets are closed after this. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Most sockets per origin. Default 32. */
  connectionsPerOrigin?: number;
}

/** Resolved timeouts, for per-request use. */
export interface HttpTimeouts {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** The timeouts `options` resolve to. */
export function resolveTimeouts(options: HttpAgentOptions = {}): HttpTimeouts {
  return {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 60_000,
  };
}

/** One undici `Agent` (a keep-alive pool per origin) for a provider's calls. Close it on shutdown. */
export function createHttpAgent(options: HttpAgentOptions = {}): Agent {
  const timeouts = resolveTimeouts(options);
  return new Agent({
    connect: { timeout: timeouts.connectTimeoutMs },
    headersTimeout: timeouts.headersTimeoutMs,
    bodyTimeout: timeouts.bodyTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: 600_000,
    connections: options.connectionsPerOrigin ?? 32,
  });
}
