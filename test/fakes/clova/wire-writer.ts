/**
 * How the fake writes CLOVA's wire formats: the `{status, result}` envelope and SSE events framed
 * as the service frames them (`id:`/`event:`/`data:` lines without a space, a fresh UUID per event).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

/** Sends a JSON body with the right length and type. */
export function sendJson(response: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  response.writeHead(httpStatus, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length), ...headers });
  response.end(payload);
}

/** Sends `{status:{code,message}, result?}`; HTTP status defaults to the code's first three digits. */
export function sendEnvelope(
  response: ServerResponse,
  code: string,
  message: string,
  options: { result?: unknown; httpStatus?: number; headers?: Record<string, string> } = {},
): void {
  const body: Record<string, unknown> = { status: { code, message } };
  if (options.result !== undefined) body.result = options.result;
  sendJson(response, options.httpStatus ?? Number(code.slice(0, 3)), body, options.headers);
}

/** One SSE event as CLOVA frames it. */
export function formatSseEvent(event: string, data: unknown): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return `id:${randomUUID()}\nevent:${event}\ndata:${text}\n\n`;
}

/** Starts an SSE response (HTTP 200, chunked). */
export function startSse(response: ServerResponse): void {
  response.socket?.setNoDelay(true);
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  response.flushHeaders();
}

/** Writes `chunk` and waits until it left the process, so consecutive writes reach the client as separate segments. */
export async function writeFlushed(response: ServerResponse, chunk: string | Buffer): Promise<void> {
  if (response.destroyed) return;
  await new Promise<void>((resolve) => {
    response.write(chunk, () => resolve());
  });
}

/** Plan for streaming a list of already-framed events. */
export interface SseWritePlan {
  /** Writes the whole body in slices of this many bytes, each flushed on its own. */
  byteChunkSize?: number;
  /** Destroys the socket after this many events (a connection lost mid-stream). */
  cutAfterEvents?: number;
  /** Pauses this long after `stallAfterEvents` events. */
  stallAfterEvents?: number;
  stallMs?: number;
  /** Holds before the event at index `afterEvents` (or before the end or cut, at the count sent) until `until` settles; not with `byteChunkSize`. */
  pauses?: Array<{ afterEvents: number; until: Promise<unknown> }>;
  signal?: AbortSignal;
}

/** Waits for every pause placed at `index`; false once the response or the fake is gone. */
async function holdAt(response: ServerResponse, plan: SseWritePlan, index: number): Promise<boolean> {
  for (const pause of plan.pauses ?? []) {
    if (pause.afterEvents !== index) continue;
    await new Promise<void>((resolve) => {
      const stop = () => {
        plan.signal?.removeEventListener('abort', stop);
        response.off('close', stop);
        resolve();
      };
      plan.signal?.addEventListener('abort', stop, { once: true });
      response.once('close', stop);
      pause.until.then(stop, stop);
    });
  }
  return !response.destroyed && !plan.signal?.aborted;
}

/** Streams framed events according to `plan`, then ends the response (or cuts it). */
export async function writeSseEvents(response: ServerResponse, events: string[], plan: SseWritePlan = {}): Promise<void> {
  const cutAt = plan.cutAfterEvents;
  const sent = cutAt === undefined ? events : events.slice(0, cutAt);
  if (plan.byteChunkSize !== undefined && plan.byteChunkSize > 0) {
    const bytes = Buffer.from(sent.join(''), 'utf8');
    for (let offset = 0; offset < bytes.length; offset += plan.byteChunkSize) {
      if (response.destroyed || plan.signal?.aborted) return;
      await writeFlushed(response, bytes.subarray(offset, offset + plan.byteChunkSize));
      // A turn of the event loop between slices keeps the kernel from coalescing them.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    for (let index = 0; index < sent.length; index += 1) {
      if (response.destroyed || plan.signal?.aborted) return;
      if (plan.stallAfterEvents === index && plan.stallMs) {
        await delay(plan.stallMs, undefined, { signal: plan.signal }).catch(() => undefined);
        if (response.destroyed || plan.signal?.aborted) return;
      }
      if (!(await holdAt(response, plan, index))) return;
      await writeFlushed(response, sent[index] ?? '');
    }
    if (!(await holdAt(response, plan, sent.length))) return;
  }
  if (cutAt !== undefined) {
    response.socket?.destroy();
    return;
  }
  response.end();
}
