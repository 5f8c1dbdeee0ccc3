import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatSummarizer, SUMMARY_INSTRUCTIONS } from '../../../src/compaction/chat-summarizer.js';
import { createCompactor } from '../../../src/compaction/compactor.js';
import { createTokenEstimator } from '../../../src/compaction/token-estimator.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { HistoryBuilder } from '../../unit/compaction/history-builder.js';

let fake: FakeClova;
const providers: ClovaProvider[] = [];

beforeAll(async () => {
  fake = await startFakeClova();
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
  fake.reset();
});
afterAll(() => fake.close());

function provider(model = 'HCX-005'): ClovaProvider {
  const created = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model, logger: silentLogger(), retry: { maxAttempts: 1 } });
  providers.push(created);
  return created;
}

function longThread(): HistoryBuilder {
  const builder = new HistoryBuilder().user('주문번호는 2024-0815-7731입니다. 배송이 안 와요.').assistant('확인 후 연락드리겠습니다.');
  for (let turn = 0; turn < 20; turn += 1) {
    builder.user(`${turn}번째 문의: 배송 조회 화면이 계속 같은 상태로 멈춰 있습니다. 언제쯤 받을 수 있을까요?`);
    builder.assistant(`${turn}번째 답변: 물류센터에 확인 중이며 출고되면 바로 알림을 보내드리겠습니다.`);
  }
  return builder.user('제 주문번호가 뭐였죠?');
}

describe('summarisers over the CLOVA wire format', () => {
  it('the chat summariser sends the instructions, the previous summary and the new messages, and returns the model’s summary', async () => {
    fake.scriptChat([{ text: '- 주문번호 2024-0815-7731 배송 지연 문의, 물류센터 확인 중' }]);
    const summarizer = createChatSummarizer(provider().chatModel, { maxOutputTokens: 400 });
    const summary = await summarizer.summarize(['User: 주문번호는 2024-0815-7731입니다.', 'Assistant: 확인 후 연락드리겠습니다.'], { priorSummary: '- 배송 지연 문의' });
    expect(summary).toBe('- 주문번호 2024-0815-7731 배송 지연 문의, 물류센터 확인 중');
    const [request] = fake.requestsFor('chat');
    const body = request?.body as { messages: Array<{ role: string; content: string }>; maxTokens: number };
    expect(request?.routePath).toBe('/v3/chat-completions/HCX-005');
    expect(body.maxTokens).toBe(400);
    expect(body.messages[0]).toEqual({ role: 'system', content: SUMMARY_INSTRUCTIONS });
    expect(body.messages[1]?.content).toContain('Previous summary:\n- 배송 지연 문의');
    expect(body.messages[1]?.content).toContain('User: 주문번호는 2024-0815-7731입니다.');
  });

  it('a summarisation call slower than the timeout is abandoned: the turn slides and no request is left open', async () => {
    fake.injectFaults('summarization', { fault: 'slow-first-byte', delayMs: 3_000 });
    const clova = provider();
    const compactor = createCompactor({ strategy: 'summary', estimator: createTokenEstimator(), summarizer: clova.summarizer, summaryTimeoutMs: 100, logger: silentLogger() });
    const result = await compactor.fit(longThread().state(), { windowTokens: 2_000, maxOutputTokens: 300, reservedTokens: 200 });
    expect(result.kind).toBe('sliding');
    expect(result.state.summary).toBeUndefined();
    expect(result.state.compaction?.summaryRetryPending).toBe(true);
    expect(fake.requestsFor('summarization')).toHaveLength(1);
    await expect.poll(() => fake.activeResponses(), { timeout: 5_000 }).toBe(0);
  });

  it('the summarisation API summary is folded with the key facts and sent as a system message', async () => {
    fake.scriptSummarization([{ text: '- 배송 지연으로 여러 차례 문의함' }]);
    const clova = provider();
    const compactor = createCompactor({ strategy: 'summary', estimator: createTokenEstimator(), summarizer: clova.summarizer, logger: silentLogger() });
    const result = await compactor.fit(longThread().state(), { windowTokens: 2_000, maxOutputTokens: 300, reservedTokens: 200 });
    expect(result.kind).toBe('summary');
    const [request] = fake.requestsFor('summarization');
    expect((request?.body as { texts: string[] }).texts[0]).toBe('User: 주문번호는 2024-0815-7731입니다. 배송이 안 와요.');
    expect(result.messages[0]?.role).toBe('system');
    expect(result.messages[0]?.content).toContain('- 배송 지연으로 여러 차례 문의함');
    expect(result.messages[0]?.content).toContain('2024-0815-7731');
  });
});
