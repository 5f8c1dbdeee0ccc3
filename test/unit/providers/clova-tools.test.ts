import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { ClovaInvalidParameterError, createClovaProvider, type ClovaProvider, type ClovaProviderOptions } from '../../../src/providers/clova/index.js';
import type { ChatMessage, Doc } from '../../../src/providers/types.js';
import { fakeEmbedding } from '../../fakes/clova/default-responders.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakeContentTokens } from '../../fakes/clova/fake-token-count.js';
import { citeSpan } from '../../fakes/clova/scripts.js';

let fake: FakeClova;
const providers: ClovaProvider[] = [];

beforeAll(async () => {
  fake = await startFakeClova({ models: { 'HCX-DASH-002': { contextWindow: 120 } } });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  fake.reset();
});
afterAll(() => fake.close());

function provider(options: Partial<ClovaProviderOptions> = {}): ClovaProvider {
  const created = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: silentLogger(), ...options });
  providers.push(created);
  return created;
}

const docs: Doc[] = [
  { id: 'doc-1', content: 'VPC를 삭제하려면 먼저 모든 리소스를 반납해야 합니다.', title: 'VPC 삭제' },
  { id: 'doc-2', content: 'A100 GPU 서버는 KR-1 존에서만 생성할 수 있습니다.' },
  { id: 'doc-3', content: '요금은 매월 1일에 청구됩니다.' },
];

describe('CLOVA api-tools', () => {
  it('reranks: maps cited documents back to the caller\'s Doc objects in citation order and keeps suggestions', async () => {
    fake.scriptReranker([{ citedIds: ['doc-2', 'doc-1'], suggestedQueries: ['GPU 생성 방법'] }]);
    const result = await provider().reranker.rerank('GPU와 VPC', docs);
    expect(result.ranked.map((entry) => entry.doc)).toEqual([docs[1], docs[0]]);
    expect(result.ranked[0]?.doc).toBe(docs[1]);
    expect(result.ranked[0]?.score).toBeGreaterThan(result.ranked[1]?.score ?? 1);
    expect(result.suggestedQueries).toEqual(['GPU 생성 방법']);
    expect(fake.requests[0]?.body).toEqual({
      query: 'GPU와 VPC',
      documents: [
        { id: 'doc-1', doc: 'VPC 삭제\nVPC를 삭제하려면 먼저 모든 리소스를 반납해야 합니다.' },
        { id: 'doc-2', doc: docs[1]?.content },
        { id: 'doc-3', doc: docs[2]?.content },
      ],
      maxTokens: 1024,
    });
  });

  it('reranks with nothing found: no documents, re-search suggestions', async () => {
    fake.scriptReranker([{ citedIds: [], suggestedQueries: ['현재 날씨 상태', '일기 예보'] }]);
    expect(await provider().reranker.rerank('날씨', docs)).toEqual({ ranked: [], suggestedQueries: ['현재 날씨 상태', '일기 예보'] });
  });

  it('runs RAG Reasoning: a search tool call first, then an answer with <doc-ID> spans', async () => {
    const tools = [{ name: 'search', description: '지식 검색', parameters: { type: 'object', properties: { query: { type: 'string' } } } }];
    fake.scriptRagReasoning([{ thinking: '검색이 필요하다', toolCalls: [{ id: 'call_1', name: 'search', arguments: { query: 'A100 GPU' } }] }, { text: `${citeSpan('doc-2', 'A100은 KR-1에서만 됩니다')}.` }]);
    const reasoner = provider().reasoner;
    const question: ChatMessage[] = [{ role: 'user', content: 'A100 어디서 빌려요?' }];
    const step = await reasoner.reason(question, tools, { maxTokens: 500, temperature: 0 });
    expect(step).toMatchObject({ toolCalls: [{ id: 'call_1', name: 'search', arguments: { query: 'A100 GPU' } }], thinking: '검색이 필요하다', finishReason: 'tool_calls' });
    const sent = fake.requests[0]?.body as Record<string, unknown>;
    expect(sent).toMatchObject({ maxTokens: 1024, temperature: 0.01, includeAiFilters: false, tools: [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }] });
    const answer = await reasoner.reason(
      [...question, { role: 'assistant', content: '', toolCalls: step.toolCalls }, { role: 'tool', toolCallId: 'call_1', content: JSON.stringify({ search_result: [{ id: 'doc-2', doc: docs[1]?.content }] }) }],
      tools,
      { maxTokens: 500 },
    );
    expect(answer.text).toBe('<doc-2>A100은 KR-1에서만 됩니다</doc-2>.');
    expect(fake.requests[1]?.routePath).toBe('/v1/api-tools/rag-reasoning');
    expect((fake.requests[1]?.body as { messages: unknown[] }).messages[1]).toEqual({ role: 'assistant', content: '', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: { query: 'A100 GPU' } } }] });
  });

  it('uses the chat model for reasoning when asked, and refuses tools on a v1 model', async () => {
    fake.scriptChat([{ toolCalls: [{ name: 'search', arguments: { query: 'x' } }] }]);
    const step = await provider().chatReasoner.reason([{ role: 'user', content: 'q' }], [{ name: 'search', description: 'd', parameters: { type: 'object' } }], { maxTokens: 100 });
    expect(step.toolCalls[0]?.name).toBe('search');
    await expect(provider({ model: 'HCX-003' }).chatReasoner.reason([{ role: 'user', content: 'q' }], [{ name: 'search', description: 'd', parameters: {} }], { maxTokens: 100 })).rejects.toBeInstanceOf(ClovaInvalidParameterError);
  });

  it('summarises with the prior summary carried first among the texts', async () => {
    fake.scriptSummarization((request) => ({ text: `요약(${request.texts.length}): ${request.texts[0]}` }));
    const summary = await provider().summarizer.summarize(['사용자: 환불은 어떻게 하나요?', '봇: 주문 내역에서 신청합니다.'], { priorSummary: '- 이전 요약' });
    expect(summary).toBe('요약(3): - 이전 요약');
    expect(fake.requests[0]?.body).toMatchObject({ texts: ['- 이전 요약', '사용자: 환불은 어떻게 하나요?', '봇: 주문 내역에서 신청합니다.'] });
  });

  it('summarises input over the 35,000-character limit in batches, then summarises the summaries', async () => {
    fake.scriptSummarization((request) => ({ text: `S${request.texts.join('').length}` }));
    const summary = await provider().summarizer.summarize(['가'.repeat(30_000), '나'.repeat(30_000)]);
    expect(fake.requests).toHaveLength(3);
    expect(summary).toBe('S12');
    for (const request of fake.requests) expect((request.body as { texts: string[] }).texts.join('').length).toBeLessThanOrEqual(35_000);
  });

  it('counts tokens per message with the v3 and v1 chat tokenizers', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: '시스템 규칙' },
      { role: 'user', content: '내일 서울 날씨 어때?' },
    ];
    const expected = messages.map((message) => fakeContentTokens(message));
    expect(await provider().tokenCounter.countMessages(messages)).toEqual(expected);
    expect(fake.requests[0]?.routePath).toBe('/v3/api-tools/chat-tokenize/HCX-005');
    expect(await provider({ model: 'HCX-003' }).tokenCounter.countMessages(messages)).toEqual(expected);
    expect(fake.requests[1]?.routePath).toBe('/v1/api-tools/chat-tokenize/HCX-003');
    expect(provider().tokenCounter.source).toBe('tokenizer');
  });

  it('embeds one text per call with bounded concurrency and keeps order', async () => {
    const texts = Array.from({ length: 9 }, (_, index) => `문서 ${index} 내용`);
    const vectors = await provider({ embeddingConcurrency: 3 }).embedder.embed(texts);
    expect(vectors).toEqual(texts.map((text) => fakeEmbedding(text)));
    expect(fake.requestsFor('embedding')).toHaveLength(9);
    expect(fake.requestsFor('embedding').every((request) => request.routePath === '/v1/api-tools/embedding/v2')).toBe(true);
  });

  it('slides the oldest turns away and returns the original messages, tool fields included', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'rules' },
      { role: 'user', content: '가'.repeat(40) },
      { role: 'assistant', content: '나'.repeat(40) },
      { role: 'user', content: '다'.repeat(10) },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'search', arguments: {} }] },
      { role: 'user', content: '라'.repeat(10) },
    ];
    const kept = await provider({ model: 'HCX-DASH-002' }).slidingWindow(messages, 30);
    expect(kept).toEqual([messages[0], messages[3], messages[4], messages[5]]);
    expect(kept[2]).toBe(messages[4]);
    expect(fake.requests[0]?.body).toMatchObject({ maxTokens: 30 });
  });
});
