import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClovaAbortedError,
  ClovaAuthError,
  ClovaProtocolError,
  ClovaRateLimitError,
  ClovaServerError,
  ClovaTimeoutError,
  createClovaProvider,
  type ClovaProvider,
  type ClovaProviderOptions,
} from '../../../src/providers/clova/index.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { ChatEvent } from '../../../src/providers/types.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';

let fake: FakeClova;
const providers: ClovaProvider[] = [];

beforeAll(async () => {
  fake = await startFakeClova({ rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 3 } }, rateLimitWindowMs: 400 });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  fake.reset();
});
afterAll(() => fake.close());

/** Records every wait the retry loop asks for, and waits only a moment. */
function recordingSleep(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => { waits.push(ms); await new Promise((resolve) => setTimeout(resolve, 1)); } };
}

function provider(options: Partial<ClovaProviderOptions> = {}): ClovaProvider {
  const created = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: silentLogger(), ...options });
  providers.push(created);
  return created;
}

async function drain(events: AsyncIterable<ChatEvent>, onText?: (text: string) => void): Promise<void> {
  for await (const event of events) if (event.type === 'text-delta') onText?.(event.text);
}

const ask = [{ role: 'user' as const, content: '질문' }];

describe('CLOVA retries, limits, timeouts and aborts', () => {
  it('waits exactly what Retry-After asks (seconds) and then succeeds', async () => {
    const { waits, sleep } = recordingSleep();
    const metrics = new Metrics();
    fake.scriptChat([{ fault: 'rate-limit', retryAfterSeconds: 2 }, { text: '성공' }]);
    const completion = await provider({ sleep, metrics }).chatModel.complete(ask, { maxTokens: 10 });
    expect(completion.text).toBe('성공');
    expect(waits).toEqual([2000]);
    expect(fake.requests.map((request) => request.responseStatus)).toEqual([429, 200]);
    expect(await metrics.registry.getSingleMetricAsString('threadline_rate_limit_waits_total')).toContain('upstream="clova"} 1');
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    const { waits, sleep } = recordingSleep();
    fake.scriptChat([{ fault: 'rate-limit', retryAfterSeconds: 3, retryAfter: 'http-date' }, { text: 'ok' }]);
    await provider({ sleep }).chatModel.complete(ask, { maxTokens: 10 });
    expect(waits).toHaveLength(1);
    // An HTTP date has one-second resolution.
    expect(waits[0]).toBeGreaterThan(1000);
    expect(waits[0]).toBeLessThanOrEqual(3000);
  });

  it('gives up with a typed rate-limit error when Retry-After exceeds the cap', async () => {
    const { waits, sleep } = recordingSleep();
    fake.scriptChat([{ fault: 'rate-limit', retryAfterSeconds: 120 }]);
    const failure = await provider({ sleep }).chatModel.complete(ask, { maxTokens: 10 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaRateLimitError);
    expect(failure).toMatchObject({ retryAfterMs: 120_000, status: 429, providerCode: '42901' });
    expect(waits).toEqual([]);
  });

  it('backs off exponentially on 500s and stops after the attempt limit', async () => {
    const { waits, sleep } = recordingSleep();
    fake.scriptChat([{ fault: 'http-500' }, { fault: 'http-500' }, { fault: 'http-500' }]);
    const failure = await provider({ sleep, retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1000 } }).chatModel.complete(ask, { maxTokens: 10 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaServerError);
    expect(fake.requests).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
  });

  it('retries a connection cut before the response, but never a stream that already emitted text', async () => {
    const { sleep } = recordingSleep();
    fake.scriptChat([{ fault: 'cut-mid-stream', text: '가나다라마바사아자차', afterTokens: 4 }, { text: 'never requested' }]);
    const streamed: string[] = [];
    const failure = await drain(provider({ sleep }).chatModel.stream(ask, { maxTokens: 100 }), (text) => streamed.push(text)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaServerError);
    expect(failure).toMatchObject({ kind: 'connection', partialText: '가나다라' });
    expect(streamed.join('')).toBe('가나다라');
    expect(fake.requestsFor('chat')).toHaveLength(1);
    expect((failure as ClovaServerError).userMessage).toMatch(/^My answer broke off before it was finished/);

    fake.scriptChat([{ fault: 'cut-mid-stream', text: '응답 본문이 잘립니다' }, { text: '두 번째 시도' }]);
    const completion = await provider({ sleep }).chatModel.complete(ask, { maxTokens: 100 });
    expect(completion.text).toBe('두 번째 시도');
  });

  it('sends a stream again when it breaks after its headers but before its first event', async () => {
    const { sleep, waits } = recordingSleep();
    fake.scriptChat([{ fault: 'cut-mid-stream', text: '첫 번째 시도', afterTokens: 0 }, { text: '두 번째 시도' }]);
    const streamed: string[] = [];
    await drain(provider({ sleep }).chatModel.stream(ask, { maxTokens: 100 }), (text) => streamed.push(text));
    expect(streamed.join('')).toBe('두 번째 시도');
    expect(fake.requestsFor('chat').map((request) => [request.streaming, request.responseStatus])).toEqual([
      [true, 200],
      [true, 200],
    ]);
    expect(waits).toHaveLength(1);
  });

  it('queues a burst behind the local limiter so the server never answers 429', async () => {
    const metrics = new Metrics();
    const clova = provider({ model: 'HCX-DASH-002', rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 3 } }, rateLimitWindowMs: 400, metrics, retry: { maxAttempts: 1 } });
    fake.scriptChat((request) => ({ text: `answer ${request.messages.length}` }));
    const results = await Promise.all(Array.from({ length: 7 }, () => clova.chatModel.complete(ask, { maxTokens: 10 })));
    expect(results).toHaveLength(7);
    expect(fake.requests.map((request) => request.responseStatus)).toEqual(new Array(7).fill(200));
    expect(await metrics.registry.getSingleMetricAsString('threadline_rate_limit_waits_total')).toContain('upstream="local_limiter"');
  });

  it('without the local limiter the same burst does hit 429s (the fake enforces QPM)', async () => {
    const strictFake = await startFakeClova({ rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 3 } } });
    const clova = provider({ baseUrl: strictFake.url, model: 'HCX-DASH-002', rateLimits: { 'HCX-DASH-002': {} }, retry: { maxAttempts: 1 } });
    const outcomes = await Promise.allSettled(Array.from({ length: 7 }, () => clova.chatModel.complete(ask, { maxTokens: 10 })));
    await strictFake.close();
    expect(outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason)).toEqual(
      expect.arrayContaining([expect.any(ClovaRateLimitError)]),
    );
  });

  it('fails with a timeout error when the first byte is too slow, leaving no response open', async () => {
    fake.scriptChat([{ fault: 'slow-first-byte', delayMs: 5_000 }]);
    const failure = await provider({ http: { headersTimeoutMs: 200 }, retry: { maxAttempts: 1 } }).chatModel.complete(ask, { maxTokens: 10 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaTimeoutError);
    await expect.poll(() => fake.activeResponses()).toBe(0);
  });

  it('fails with a timeout error when a stream stalls longer than the body timeout', async () => {
    fake.scriptChat([{ fault: 'stall-mid-stream', text: '처음 조금 그리고 멈춤', afterTokens: 2, stallMs: 5_000 }]);
    const streamed: string[] = [];
    const failure = await drain(provider({ http: { bodyTimeoutMs: 200 } }).chatModel.stream(ask, { maxTokens: 100 }), (text) => streamed.push(text)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaTimeoutError);
    expect(failure).toMatchObject({ partialText: '처음' });
    await expect.poll(() => fake.activeResponses()).toBe(0);
  });

  it('aborts a stream on the caller signal and closes its connection', async () => {
    fake.scriptChat([{ fault: 'stall-mid-stream', text: '하나 둘 셋 넷', afterTokens: 1, stallMs: 5_000 }]);
    const controller = new AbortController();
    const failure = await drain(provider().chatModel.stream(ask, { maxTokens: 100, signal: controller.signal }), () => controller.abort()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaAbortedError);
    expect(failure).toMatchObject({ code: 'clova_aborted', partialText: '하' });
    await expect.poll(() => fake.activeResponses()).toBe(0);
  });

  it('aborts a call waiting in the limiter queue without sending it', async () => {
    const clova = provider({ model: 'HCX-DASH-002', rateLimits: { 'HCX-DASH-002': { requestsPerMinute: 1 } }, rateLimitWindowMs: 60_000 });
    await clova.chatModel.complete(ask, { maxTokens: 10 });
    const controller = new AbortController();
    const pending = clova.chatModel.complete(ask, { maxTokens: 10, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(ClovaAbortedError);
    expect(fake.requests).toHaveLength(1);
  });

  it('turns malformed JSON bodies and malformed stream events into protocol errors', async () => {
    fake.scriptChat([{ fault: 'malformed-json' }, { fault: 'malformed-json' }]);
    const clova = provider({ retry: { maxAttempts: 1 } });
    await expect(clova.chatModel.complete(ask, { maxTokens: 10 })).rejects.toBeInstanceOf(ClovaProtocolError);
    await expect(drain(clova.chatModel.stream(ask, { maxTokens: 10 }))).rejects.toBeInstanceOf(ClovaProtocolError);
  });

  it('maps a wrong key to an auth error that is not retried and does not quote the key', async () => {
    const failure = await provider({ apiKey: 'nv-wrong-key-abcdef' }).chatModel.complete(ask, { maxTokens: 10 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaAuthError);
    expect(failure).toMatchObject({ status: 401, providerCode: '40100' });
    expect(String((failure as Error).message)).not.toContain('nv-wrong-key-abcdef');
    expect(fake.requests).toHaveLength(1);
  });
});
