import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { createOpenAiCompatibleProvider, OpenAiCompatibleError, type OpenAiCompatibleProvider, type OpenAiCompatibleProviderOptions } from '../../../src/providers/openai-compatible/index.js';
import { fakeEmbedding } from '../../fakes/clova/default-responders.js';
import { startFakeOpenAi, type FakeOpenAi } from '../../fakes/openai/fake-openai-server.js';
import { collect } from '../../support/collect.js';

const API_KEY = 'sk-fake-openai-key-0123456789';
let fake: FakeOpenAi;
const providers: OpenAiCompatibleProvider[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAi({ apiKey: API_KEY });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  fake.reset();
});
afterAll(() => fake.close());

function provider(options: Partial<OpenAiCompatibleProviderOptions> = {}): OpenAiCompatibleProvider {
  const created = createOpenAiCompatibleProvider({ apiKey: API_KEY, baseUrl: fake.url, model: 'qwen2.5:7b', logger: silentLogger(), ...options });
  providers.push(created);
  return created;
}

const tools = [{ name: 'search', description: 'search the knowledge base', parameters: { type: 'object', properties: { query: { type: 'string' } } } }];

describe('OpenAI-compatible provider', () => {
  it('sends snake_case fields and string tool arguments, and parses them back into objects', async () => {
    fake.scriptChat([{ toolCalls: [{ id: 'call_1', name: 'search', arguments: { query: '환불 정책' } }] }]);
    const completion = await provider().chatReasoner.reason(
      [
        { role: 'user', content: '환불?' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_0', name: 'search', arguments: { query: '이전' } }] },
        { role: 'tool', toolCallId: 'call_0', content: '{"search_result":[]}' },
      ],
      tools,
      { maxTokens: 256, temperature: 0.2, topP: 0.9, stop: ['###'] },
    );
    expect(completion).toMatchObject({ toolCalls: [{ id: 'call_1', name: 'search', arguments: { query: '환불 정책' } }], finishReason: 'tool_calls' });
    const sent = fake.requests[0];
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.body).toMatchObject({
      model: 'qwen2.5:7b',
      max_tokens: 256,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['###'],
      stream: false,
      tools: [{ type: 'function', function: { name: 'search' } }],
      messages: [
        { role: 'user', content: '환불?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'search', arguments: '{"query":"이전"}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: '{"search_result":[]}' },
      ],
    });
  });

  it('streams text deltas, assembles streamed tool-call fragments and reads the usage chunk', async () => {
    fake.scriptChat([{ text: '검색해 볼게요.', toolCalls: [{ name: 'search', arguments: { query: '배송 조회 방법', limit: 3 } }] }]);
    const events = await collect(provider().chatModel.stream([{ role: 'user', content: '배송?' }], { maxTokens: 100, tools }));
    expect(events.map((event) => (event.type === 'text-delta' ? event.text : '')).join('')).toBe('검색해 볼게요.');
    const completed = events[events.length - 1];
    expect(completed?.type).toBe('completed');
    if (completed?.type !== 'completed') return;
    expect(completed.completion.toolCalls).toEqual([{ id: expect.stringMatching(/^call_0_/), name: 'search', arguments: { query: '배송 조회 방법', limit: 3 } }]);
    expect(completed.completion.usage.inputTokens).toBeGreaterThan(0);
    expect(fake.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('rejects malformed tool arguments with a typed protocol error', async () => {
    fake.scriptChat([{ toolCalls: [{ name: 'search', arguments: '{"query": "unterminated' }] }, { toolCalls: [{ name: 'search', arguments: '["not","an","object"]' }] }]);
    const failure = await provider().chatReasoner.reason([{ role: 'user', content: 'q' }], tools, { maxTokens: 50 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAiCompatibleError);
    expect(failure).toMatchObject({ code: 'openai_protocol', kind: 'protocol' });
    await expect(provider().chatReasoner.reason([{ role: 'user', content: 'q' }], tools, { maxTokens: 50 })).rejects.toMatchObject({ code: 'openai_protocol' });
  });

  it('retries a 429 after Retry-After, and maps context overflows and bad keys to typed errors', async () => {
    const waits: number[] = [];
    fake.scriptChat([{ fault: 'rate-limit', retryAfterSeconds: 2 }, { text: 'ok' }, { fault: 'context-too-long' }]);
    const chat = provider({ sleep: async (ms) => void waits.push(ms) }).chatModel;
    expect((await chat.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 })).text).toBe('ok');
    expect(waits).toEqual([2000]);
    await expect(chat.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 })).rejects.toMatchObject({ kind: 'context_too_long', status: 400, providerCode: 'context_length_exceeded' });
    await expect(provider({ apiKey: 'sk-wrong-key-000000' }).chatModel.complete([{ role: 'user', content: 'q' }], { maxTokens: 10 })).rejects.toMatchObject({ kind: 'auth', status: 401 });
  });

  it('turns a malformed stream chunk into a protocol error', async () => {
    fake.scriptChat([{ fault: 'malformed-chunk' }]);
    await expect(collect(provider().chatModel.stream([{ role: 'user', content: 'q' }], { maxTokens: 10 }))).rejects.toMatchObject({ code: 'openai_protocol' });
  });

  it('embeds in batches, in input order, and learns the dimensions', async () => {
    const embedder = provider({ embeddingModel: 'bge-m3', embeddingBatchSize: 2 }).embedder;
    expect(embedder).toBeDefined();
    const texts = ['첫째 문서', '둘째 문서', '셋째 문서'];
    expect(await embedder?.embed(texts)).toEqual(texts.map((text) => fakeEmbedding(text)));
    expect(embedder?.dimensions).toBe(1024);
    expect(fake.requests.map((request) => (request.body as { input: string[] }).input)).toEqual([['첫째 문서', '둘째 문서'], ['셋째 문서']]);
    expect(fake.requests[0]?.body).toMatchObject({ model: 'bge-m3', encoding_format: 'float' });
  });
});
