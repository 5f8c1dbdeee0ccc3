/**
 * Client overhead against the fake CLOVA server, printed as JSON:
 * - SSE parse throughput (MB/s) of `readServerSentEvents` over an in-memory CLOVA-framed body;
 * - per-token overhead (µs/token) of the full streaming client (limiter, SSE parsing, JSON + schema
 *   validation, delta events) over loopback, measured side by side with a bare undici read of the
 *   same stream from the same fake, so only the client's own work is left in the difference.
 *
 * Run: npx tsx bench/provider-client.ts
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { silentLogger } from '../src/observability/logger.js';
import { createClovaProvider } from '../src/providers/clova/index.js';
import { readServerSentEvents } from '../src/providers/http/sse-reader.js';
import { planAnswer, resultPayload, tokenPayloads } from '../test/fakes/clova/chat-replies.js';
import { FAKE_CLOVA_API_KEY, startFakeClova } from '../test/fakes/clova/fake-clova-server.js';
import { formatSseEvent } from '../test/fakes/clova/wire-writer.js';

const ROUNDS = 15;
const PARSE_CHUNK_BYTES = 16 * 1024;
const STREAM_TEXT = '고객 문의에 대한 답변을 스트리밍합니다. Streaming answer text with mixed Korean and English. '.repeat(220);

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A CLOVA v3 SSE body for `text`, framed exactly as the fake frames it. */
function sseBody(text: string): Uint8Array {
  const plan = planAnswer({ text }, { apiVersion: 'v3', promptTokens: 10, outputReserve: 1_000_000 });
  const events = [...tokenPayloads(plan).map((payload) => formatSseEvent('token', payload)), formatSseEvent('result', resultPayload(plan)), formatSseEvent('signal', { data: '[DONE]' })];
  return new TextEncoder().encode(events.join(''));
}

async function* slices(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function measureParseThroughput(): Promise<Record<string, number>> {
  const body = sseBody(STREAM_TEXT.repeat(4));
  const rates: number[] = [];
  let events = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    events = 0;
    const startedAt = performance.now();
    for await (const event of readServerSentEvents(slices(body, PARSE_CHUNK_BYTES))) if (event.data.length > 0) events += 1;
    const seconds = (performance.now() - startedAt) / 1000;
    rates.push(body.length / 1_048_576 / seconds);
  }
  return { bodyMegabytes: round(body.length / 1_048_576, 3), events, chunkBytes: PARSE_CHUNK_BYTES, medianMegabytesPerSecond: round(median(rates)), minMegabytesPerSecond: round(Math.min(...rates)) };
}

async function measurePerTokenOverhead(): Promise<Record<string, number>> {
  const fake = await startFakeClova({ acceptAnyKey: true });
  fake.scriptChat(() => ({ text: STREAM_TEXT }));
  const provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: silentLogger(), rateLimits: { 'HCX-005': {} } });
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'bench' }], maxTokens: 4_096 });
  const messages = [{ role: 'user' as const, content: 'bench' }];

  const bareRead = async (): Promise<number> => {
    const startedAt = performance.now();
    const response = await request(`${fake.url}/v3/chat-completions/HCX-005`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FAKE_CLOVA_API_KEY}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body,
    });
    for await (const chunk of response.body) void chunk;
    return performance.now() - startedAt;
  };
  const clientRead = async (): Promise<{ milliseconds: number; tokens: number; firstTokenMilliseconds: number }> => {
    const startedAt = performance.now();
    let tokens = 0;
    let firstTokenMilliseconds = 0;
    for await (const event of provider.chatModel.stream(messages, { maxTokens: 4_096 })) {
      if (event.type === 'text-delta') {
        if (tokens === 0) firstTokenMilliseconds = performance.now() - startedAt;
        tokens += 1;
      }
    }
    return { milliseconds: performance.now() - startedAt, tokens, firstTokenMilliseconds };
  };

  // Warm both paths (JIT, keep-alive sockets) before measuring.
  await bareRead();
  await clientRead();
  const bare: number[] = [];
  const client: number[] = [];
  const firstToken: number[] = [];
  let tokens = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    bare.push(await bareRead());
    const measured = await clientRead();
    client.push(measured.milliseconds);
    firstToken.push(measured.firstTokenMilliseconds);
    tokens = measured.tokens;
  }
  await provider.close();
  await fake.close();
  const perTokenOverheads = client.map((milliseconds, index) => ((milliseconds - (bare[index] ?? 0)) * 1000) / tokens);
  return {
    tokensPerStream: tokens,
    medianBareReadMilliseconds: round(median(bare)),
    medianClientStreamMilliseconds: round(median(client)),
    clientToBareRatio: round(median(client) / median(bare), 3),
    medianOverheadMicrosecondsPerToken: round(median(perTokenOverheads)),
    p99OverheadMicrosecondsPerToken: round(percentile(perTokenOverheads, 0.99)),
    medianFirstTokenMilliseconds: round(median(firstToken)),
  };
}

const parse = await measureParseThroughput();
const overhead = await measurePerTokenOverhead();
process.stdout.write(`${JSON.stringify({ bench: 'provider-client', rounds: ROUNDS, node: process.version, sseParse: parse, streamingClient: overhead }, null, 2)}\n`);
