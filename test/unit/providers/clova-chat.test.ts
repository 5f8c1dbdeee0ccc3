import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/observability/metrics.js';
import { ClovaContextTooLongError, ClovaInvalidParameterError, createClovaProvider, type ClovaProvider, type ClovaProviderOptions } from '../../../src/providers/clova/index.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakeTokenCount } from '../../fakes/clova/fake-token-count.js';
import { captureLogger } from './log-capture.js';
import { collect } from '../../support/collect.js';

let fake: FakeClova;
const providers: ClovaProvider[] = [];

beforeAll(async () => {
  fake = await startFakeClova({ legacyKeys: [{ apiKey: 'legacy-app-key-123', apigwKey: 'gateway-key-456' }] });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  fake.reset();
});
afterAll(() => fake.close());

function provider(options: Partial<ClovaProviderOptions> = {}): ClovaProvider {
  const created = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: captureLogger().logger, ...options });
  providers.push(created);
  return created;
}

describe('CLOVA chat completions', () => {
  it('sends v3 field names with a Bearer key and a request id, and parses usage', async () => {
    fake.scriptChat([{ text: '안녕하세요, 무엇을 도와드릴까요?' }]);
    const completion = await provider().chatModel.complete(
      [
        { role: 'system', content: '친절하게' },
        { role: 'user', content: '안녕' },
      ],
      { maxTokens: 300, temperature: 0, repetitionPenalty: 1.2, stop: ['###'], seed: 7 },
    );
    const sent = fake.requests[0];
    expect(sent?.routePath).toBe('/v3/chat-completions/HCX-005');
    expect(sent?.headers.authorization).toBe(`Bearer ${FAKE_CLOVA_API_KEY}`);
    expect(sent?.headers['x-ncp-clovastudio-request-id']).toMatch(/^threadline-[0-9a-f-]{36}$/);
    expect(sent?.body).toEqual({
      messages: [
        { role: 'system', content: '친절하게' },
        { role: 'user', content: '안녕' },
      ],
      maxTokens: 300,
      temperature: 0,
      repetitionPenalty: 1.2,
      stop: ['###'],
      seed: 7,
    });
    expect(completion).toMatchObject({ text: '안녕하세요, 무엇을 도와드릴까요?', finishReason: 'stop', toolCalls: [] });
    // 안녕 = 2 syllables + 3 special tokens, 친절하게 = 4 + 3.
    expect(completion.usage).toEqual({ inputTokens: 12, outputTokens: fakeTokenCount('안녕하세요, 무엇을 도와드릴까요?') });
    expect(completion.requestId).toBe(sent?.headers['x-ncp-clovastudio-request-id']);
  });

  it('sends v1 field names (repeatPenalty, stopBefore) and reads stopReason and inputLength', async () => {
    fake.scriptChat([{ text: '네' }]);
    const completion = await provider({ model: 'HCX-003' }).chatModel.complete([{ role: 'user', content: '질문' }], { maxTokens: 100, repetitionPenalty: 5, stop: ['\n\n'], temperature: 0 });
    const sent = fake.requests[0];
    expect(sent?.routePath).toBe('/v1/chat-completions/HCX-003');
    expect(sent?.body).toEqual({ messages: [{ role: 'user', content: '질문' }], maxTokens: 100, repeatPenalty: 5, stopBefore: ['\n\n'], temperature: 0.01 });
    expect(completion).toMatchObject({ text: '네', finishReason: 'stop', usage: { inputTokens: 5, outputTokens: 1 } });
  });

  it('merges several system messages into the one v3 allows', async () => {
    fake.scriptChat([{ text: 'ok' }]);
    await provider().chatModel.complete(
      [
        { role: 'system', content: 'persona' },
        { role: 'system', content: 'summary so far' },
        { role: 'user', content: 'hi' },
      ],
      { maxTokens: 50 },
    );
    expect((fake.requests[0]?.body as { messages: unknown[] }).messages).toEqual([
      { role: 'system', content: 'persona\n\nsummary so far' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('streams text from token events only and never appends the result text again', async () => {
    fake.scriptChat([{ text: '서울의 날씨는 맑습니다.' }]);
    const events = await collect(provider().chatModel.stream([{ role: 'user', content: '날씨' }], { maxTokens: 100 }));
    const deltas = events.filter((event) => event.type === 'text-delta').map((event) => (event.type === 'text-delta' ? event.text : ''));
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join('')).toBe('서울의 날씨는 맑습니다.');
    const last = events[events.length - 1];
    expect(last?.type).toBe('completed');
    expect(events.filter((event) => event.type === 'completed')).toHaveLength(1);
    if (last?.type === 'completed') expect(last.completion).toMatchObject({ text: '서울의 날씨는 맑습니다.', finishReason: 'stop' });
    expect(fake.requests[0]?.headers.accept).toBe('text/event-stream');
  });

  it('keeps Korean intact when the SSE body arrives one byte at a time', async () => {
    const text = '한글 음절이 바이트 경계에서 잘려도 깨지지 않아야 합니다. 😀 emoji too.';
    fake.scriptChat([{ text, byteChunkSize: 1 }]);
    const events = await collect(provider({ model: 'HCX-003' }).chatModel.stream([{ role: 'user', content: 'x' }], { maxTokens: 500 }));
    const streamed = events.map((event) => (event.type === 'text-delta' ? event.text : '')).join('');
    expect(streamed).toBe(text);
    expect(streamed).not.toContain('\uFFFD');
  });

  it('returns tool calls with object arguments, and sends them back as objects', async () => {
    fake.scriptChat([{ toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: { location: '서울', unit: 'celsius' } }] }, { text: '맑음' }]);
    const model = provider().chatModel;
    const tools = [{ name: 'get_weather', description: '날씨 조회', parameters: { type: 'object', properties: { location: { type: 'string' } } } }];
    const first = await model.complete([{ role: 'user', content: '서울 날씨?' }], { maxTokens: 200, tools });
    expect(first.finishReason).toBe('tool_calls');
    expect(first.toolCalls).toEqual([{ id: 'call_abc', name: 'get_weather', arguments: { location: '서울', unit: 'celsius' } }]);
    expect(fake.requests[0]?.body).toMatchObject({ maxTokens: 1024, tools: [{ type: 'function', function: { name: 'get_weather', description: '날씨 조회' } }] });
    await model.complete(
      [
        { role: 'user', content: '서울 날씨?' },
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: 'call_abc', content: '{"weather":"맑음"}' },
      ],
      { maxTokens: 200, tools },
    );
    expect((fake.requests[1]?.body as { messages: unknown[] }).messages).toEqual([
      { role: 'user', content: '서울 날씨?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: { location: '서울', unit: 'celsius' } } }] },
      { role: 'tool', toolCallId: 'call_abc', content: '{"weather":"맑음"}' },
    ]);
  });

  it('assembles streamed tool calls from partialJson fragments', async () => {
    fake.scriptChat([{ toolCalls: [{ name: 'search', arguments: { query: 'VPC 삭제 방법', topK: 3 } }] }]);
    const events = await collect(provider({ model: 'HCX-DASH-002' }).chatModel.stream([{ role: 'user', content: 'VPC?' }], { maxTokens: 1024, tools: [{ name: 'search', description: 'search', parameters: { type: 'object' } }] }));
    const completed = events.find((event) => event.type === 'completed');
    expect(completed?.type === 'completed' && completed.completion.toolCalls).toEqual([{ id: expect.stringMatching(/^call_/), name: 'search', arguments: { query: 'VPC 삭제 방법', topK: 3 } }]);
    expect(events.some((event) => event.type === 'text-delta')).toBe(false);
  });

  it('streams thinking separately from the answer on HCX-007 and sends maxCompletionTokens with an effort', async () => {
    fake.scriptChat([{ thinking: '먼저 생각하자.', text: '답입니다.' }]);
    const events = await collect(provider({ model: 'HCX-007' }).chatModel.stream([{ role: 'user', content: 'q' }], { maxTokens: 2000, thinking: 'low' }));
    expect(fake.requests[0]?.body).toMatchObject({ maxCompletionTokens: 2000, thinking: { effort: 'low' } });
    expect(fake.requests[0]?.body).not.toHaveProperty('maxTokens');
    expect(events.filter((event) => event.type === 'thinking-delta').map((event) => (event.type === 'thinking-delta' ? event.text : '')).join('')).toBe('먼저 생각하자.');
    const completed = events[events.length - 1];
    expect(completed?.type === 'completed' && completed.completion).toMatchObject({ text: '답입니다.', thinking: '먼저 생각하자.' });
  });

  it('turns an error event mid-stream into a typed error that keeps the partial text', async () => {
    fake.scriptChat([{ fault: 'error-event', text: '부분 답변', code: '40003', message: 'Context length exceeded' }]);
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of provider().chatModel.stream([{ role: 'user', content: 'q' }], { maxTokens: 100 })) if (event.type === 'text-delta') seen.push(event.text);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaContextTooLongError);
    expect(failure).toMatchObject({ code: 'clova_context_too_long', providerCode: '40003', status: 200, partialText: '부분 답변' });
    expect(seen.join('')).toBe('부분 답변');
  });

  it('rejects an overflowing prompt before streaming with the fake window check (HTTP 200 + event:error)', async () => {
    const failure = await collect(provider({ model: 'HCX-DASH-001' }).chatModel.stream([{ role: 'user', content: '가'.repeat(4_000) }], { maxTokens: 200 })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaContextTooLongError);
    expect(fake.requests[0]?.responseStatus).toBe(200);
  });

  it('treats a non-20000 code on HTTP 200 as an error', async () => {
    fake.scriptChat([{ fault: 'status', httpStatus: 200, code: '40001', message: 'Invalid parameter: topK' }]);
    const failure = await provider().chatModel.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClovaInvalidParameterError);
    expect(failure).toMatchObject({ status: 200, providerCode: '40001', code: 'clova_invalid_parameter' });
  });

  it('uses the legacy header pair, path prefix and app id when configured', async () => {
    const legacy = provider({ apiKey: 'legacy-app-key-123', apigwKey: 'gateway-key-456', pathPrefix: '/testapp', appId: 'app0190be7a', model: 'HCX-003' });
    fake.scriptChat([{ text: 'ok' }]);
    await legacy.chatModel.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 });
    await legacy.summarizer.summarize(['첫 문장. 둘째 문장.']);
    const [chat, summary] = fake.requests;
    expect(chat?.path).toBe('/testapp/v1/chat-completions/HCX-003');
    expect(chat?.headers).toMatchObject({ 'x-ncp-clovastudio-api-key': 'legacy-app-key-123', 'x-ncp-apigw-api-key': 'gateway-key-456' });
    expect(chat?.headers.authorization).toBeUndefined();
    expect(summary?.path).toBe('/testapp/v1/api-tools/summarization/v2/app0190be7a');
    expect(summary?.responseStatus).toBe(200);
  });

  it('never writes the key to the logs, but logs the request id and path', async () => {
    const capture = captureLogger();
    const metrics = new Metrics();
    const clova = provider({ logger: capture.logger, metrics, retry: { maxAttempts: 2 }, sleep: async () => undefined });
    fake.scriptChat([{ fault: 'http-500' }, { text: 'ok' }]);
    const completion = await clova.chatModel.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 });
    const output = capture.output();
    expect(output).toContain(completion.requestId);
    expect(output).toContain('/v3/chat-completions/HCX-005');
    expect(output).not.toContain(FAKE_CLOVA_API_KEY);
    expect(output).not.toContain('0123456789abcdef');
    expect(await metrics.registry.getSingleMetricAsString('threadline_model_tokens_total')).toContain('direction="output"');
  });
});
