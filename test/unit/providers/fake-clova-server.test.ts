import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakePromptTokens, fakeTokenCount } from '../../fakes/clova/fake-token-count.js';

let fake: FakeClova;

beforeAll(async () => {
  fake = await startFakeClova({ models: { 'HCX-DASH-002': { contextWindow: 300 } }, rateLimits: { reranker: { requestsPerMinute: 1 } }, rateLimitWindowMs: 60_000 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

async function post(path: string, body: unknown, accept = 'application/json', key = FAKE_CLOVA_API_KEY) {
  const response = await request(`${fake.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

describe('fake CLOVA server', () => {
  it('counts tokens with the documented rule: one per Hangul syllable, one per 4 bytes otherwise', () => {
    expect(fakeTokenCount('안녕하세요')).toBe(5);
    expect(fakeTokenCount('abcdefgh')).toBe(2);
    expect(fakeTokenCount('ab 안녕')).toBe(3);
    expect(fakePromptTokens([{ role: 'user', content: '안녕' }])).toBe(5);
  });

  it('rejects an overflowing prompt with 40003 as HTTP 400 JSON, and as HTTP 200 + event:error when streaming', async () => {
    const body = { messages: [{ role: 'user', content: '가'.repeat(250) }], maxTokens: 100 };
    const json = await post('/v3/chat-completions/HCX-DASH-002', body);
    expect(json.status).toBe(400);
    expect(JSON.parse(json.text)).toEqual({ status: { code: '40003', message: 'Context length exceeded' } });
    const streamed = await post('/v3/chat-completions/HCX-DASH-002', body, 'text/event-stream');
    expect(streamed.status).toBe(200);
    expect(streamed.text).toMatch(/^id:[0-9a-f-]{36}\nevent:error\ndata:\{"status":\{"code":"40003"/);
  });

  it('answers 401 40100 for a wrong key and 40080 for an unknown model', async () => {
    const unauthorised = await post('/v3/chat-completions/HCX-005', { messages: [{ role: 'user', content: 'hi' }] }, 'application/json', 'nv-wrong-key');
    expect(unauthorised.status).toBe(401);
    expect(JSON.parse(unauthorised.text).status.code).toBe('40100');
    const unknown = await post('/v3/chat-completions/HCX-999', { messages: [{ role: 'user', content: 'hi' }] });
    expect(JSON.parse(unknown.text).status.code).toBe('40080');
  });

  it('slides away the oldest whole turns after the system message until the excess is covered', async () => {
    const messages = [
      { role: 'system', content: 'rules' },
      { role: 'user', content: '가'.repeat(100) },
      { role: 'assistant', content: '나'.repeat(100) },
      { role: 'user', content: '다'.repeat(50) },
      { role: 'assistant', content: '라'.repeat(10) },
      { role: 'user', content: '마'.repeat(20) },
    ];
    const response = await post('/v1/api-tools/sliding/chat-messages/HCX-DASH-002', { messages, maxTokens: 50 });
    const kept = JSON.parse(response.text).result.messages as Array<{ content: string }>;
    expect(kept.map((message) => message.content[0])).toEqual(['r', '다', '라', '마']);
  });

  it('answers 429 42901 with Retry-After once the QPM window is full', async () => {
    const body = { query: '질문', documents: [{ id: 'a', doc: '질문에 대한 답' }] };
    expect((await post('/v1/api-tools/reranker', body)).status).toBe(200);
    const limited = await post('/v1/api-tools/reranker', body);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited.text).status.code).toBe('42901');
  });

  it('records the request path, prefix, app id and parsed body', async () => {
    await post('/testapp/v1/api-tools/summarization/v2/app42', { texts: ['첫 문장. 둘째 문장.'] });
    const recorded = fake.requestsFor('summarization')[0];
    expect(recorded).toMatchObject({ routePath: '/v1/api-tools/summarization/v2', pathPrefix: '/testapp', appId: 'app42', body: { texts: ['첫 문장. 둘째 문장.'] }, responseStatus: 200 });
  });
});
