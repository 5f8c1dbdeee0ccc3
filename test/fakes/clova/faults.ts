/** Scripted failures answered on JSON (non-streaming) calls, identical for every API. */
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { ScriptedFault } from './scripts.js';
import { sendEnvelope } from './wire-writer.js';

/** `Retry-After` value for a scripted rate limit: seconds (default 1), an HTTP date, or nothing. */
export function retryAfterHeader(fault: Extract<ScriptedFault, { fault: 'rate-limit' }>): Record<string, string> {
  const seconds = fault.retryAfterSeconds ?? 1;
  if (fault.retryAfter === 'none') return {};
  if (fault.retryAfter === 'http-date') return { 'retry-after': new Date(Date.now() + seconds * 1000).toUTCString() };
  return { 'retry-after': String(seconds) };
}

/**
 * Answers the faults that look the same whatever the API (HTTP errors, broken or cut JSON bodies).
 * Returns false for faults the caller must handle itself (`slow-first-byte`, streaming variants).
 */
export async function answerJsonFault(
  fault: ScriptedFault,
  response: ServerResponse,
  fullBody: () => unknown,
  signal: AbortSignal,
): Promise<boolean> {
  switch (fault.fault) {
    case 'http-500':
      sendEnvelope(response, '50000', 'Internal Server Error');
      return true;
    case 'rate-limit':
      sendEnvelope(response, '42901', 'Too many requests - rate exceeded', { headers: retryAfterHeader(fault) });
      return true;
    case 'status':
      sendEnvelope(response, fault.code, fault.message, { httpStatus: fault.httpStatus });
      return true;
    case 'error-event':
      sendEnvelope(response, fault.code ?? '40003', fault.message ?? 'Context length exceeded');
      return true;
    case 'malformed-json': {
      const broken = '{"status":{"code":"20000","message":"OK"},"result":{"message":{"role":"assistant","content":"';
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(broken)) });
      response.end(broken);
      return true;
    }
    case 'cut-mid-stream':
    case 'stall-mid-stream': {
      const payload = Buffer.from(JSON.stringify(fullBody()), 'utf8');
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length) });
      const half = Math.floor(payload.length / 2);
      await new Promise<void>((resolve) => response.write(payload.subarray(0, half), () => resolve()));
      if (fault.fault === 'cut-mid-stream') {
        response.socket?.destroy();
        return true;
      }
      await delay(fault.stallMs, undefined, { signal }).catch(() => undefined);
      if (!response.destroyed) response.end(payload.subarray(half));
      return true;
    }
    case 'slow-first-byte':
      return false;
  }
}
