import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatAnswerer } from '../../../src/answering/chat-answerer.js';
import { createCompactor, SLIDING_NOTICE, SUMMARY_NOTICE, type CompactorOptions } from '../../../src/compaction/compactor.js';
import { createTokenEstimator } from '../../../src/compaction/token-estimator.js';
import { createConversationEngine } from '../../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { Answer } from '../../../src/engine/answer.js';
import type { ConversationEngine, ReplySink } from '../../../src/engine/types.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { modelInfo } from '../../../src/providers/model-catalogue.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakePromptTokens, type FakeCountableMessage } from '../../fakes/clova/fake-token-count.js';
import type { ChatRequestView } from '../../fakes/clova/scripts.js';
import { incomingMessage } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';

// HCX-DASH-001: a 4,096-token window with at most 3,500 of input, so a 60-turn thread overflows many times.
const MODEL = 'HCX-DASH-001';
const INFO = modelInfo(MODEL);
const OUTPUT_TOKENS = 256;
// The prompt may take neither more than the input limit nor more than the window less the output reserve.
const WINDOW_TOKENS = Math.min(INFO.contextWindow, INFO.maxInputTokens + OUTPUT_TOKENS);
const ORDER_NUMBER = '2024-0815-7731';
const FINAL_QUESTION = '처음에 알려드린 제 주문번호가 뭐였죠?';
const SYSTEM_PROMPT = '당신은 온라인 쇼핑몰의 친절한 고객지원 상담원입니다. 짧고 정확하게 답하세요.';

/** The user's side of the thread: the order number at turn 2, the question about it at turn 60. */
function userTurn(turn: number): string {
  if (turn === 1) return '배송이 너무 늦어요. 주문한 지 일주일이 넘었는데 아직 준비중이라고만 나옵니다.';
  if (turn === 2) return `주문번호는 ${ORDER_NUMBER}입니다. 확인 부탁드립니다.`;
  if (turn === 60) return FINAL_QUESTION;
  return `${turn}번째 문의입니다. 배송 조회 화면이 계속 같은 상태로 멈춰 있고 판매자에게 보낸 메시지에도 답이 없어서 걱정됩니다. 언제쯤 받을 수 있을까요?`;
}

/** The model: remembers the order number only if it is somewhere in the prompt it was sent. */
function replyTo(request: ChatRequestView): { text: string } {
  const texts = request.messages.map((message) => (typeof message.content === 'string' ? message.content : ''));
  const newest = texts.at(-1) ?? '';
  if (newest === FINAL_QUESTION) {
    return { text: texts.some((text) => text.includes(ORDER_NUMBER)) ? `주문번호는 ${ORDER_NUMBER}입니다.` : '이전 대화가 보이지 않아 주문번호를 알 수 없습니다. 다시 알려주시겠어요?' };
  }
  return { text: '확인해 보니 물류센터에서 출고를 준비하고 있습니다. 출고되면 알림이 갈 예정이니 조금만 더 기다려 주세요.' };
}

const discardingSink: ReplySink = { emit: async () => {} };

let fake: FakeClova;
let redisUrl: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redisUrl = requireRedisUrl();
  fake = await startFakeClova();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  fake.reset();
});
afterAll(() => fake.close());

interface Harness {
  engine: ConversationEngine;
  backends: StateBackends;
  provider: ClovaProvider;
  metrics: Metrics;
}

async function harness(compaction: (provider: ClovaProvider) => Omit<CompactorOptions, 'estimator' | 'logger'>): Promise<Harness> {
  const logger = silentLogger();
  const metrics = new Metrics();
  // The thread runs in seconds, not the hour a person would take: the documented per-minute limits would only slow it down.
  const unlimited = { requestsPerMinute: 100_000, tokensPerMinute: 100_000_000 };
  const rateLimits = Object.fromEntries([MODEL, 'tokenize', 'sliding', 'summarization'].map((bucket) => [bucket, unlimited]));
  const provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: MODEL, logger, retry: { maxAttempts: 1 }, rateLimits });
  const keyPrefix = uniquePrefix('compaction');
  const backends = await createStateBackends({ redisUrl, keyPrefix, threadTtlMs: 3_600_000, logger });
  const estimator = createTokenEstimator();
  const compactor = createCompactor({ estimator, logger, metrics, ...compaction(provider) });
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer: createChatAnswerer({ model: provider.chatModel, systemPrompt: SYSTEM_PROMPT, tokenCounter: estimator }),
    compactor,
    budget: { windowTokens: WINDOW_TOKENS, maxOutputTokens: OUTPUT_TOKENS },
    logger,
    metrics,
    turnTimeoutMs: 15_000,
    maxMessageChars: 8_000,
  });
  cleanups.push(async () => {
    await engine.close(5_000);
    await backends.close();
    await provider.close();
    await deleteKeysWithPrefix(redisUrl, keyPrefix);
  });
  return { engine, backends, provider, metrics };
}

/** Runs the 60 turns; every one must be answered (a 40003 from the fake would fail its turn). */
async function converse(engine: ConversationEngine, threadKey: string, beforeTurn?: (turn: number) => void): Promise<Answer[]> {
  fake.scriptChat(replyTo);
  const answers: Answer[] = [];
  for (let turn = 1; turn <= 60; turn += 1) {
    beforeTurn?.(turn);
    const outcome = await engine.handle(incomingMessage(threadKey, userTurn(turn)), discardingSink);
    expect(outcome, `turn ${turn}`).toMatchObject({ kind: 'answered' });
    if (outcome.kind === 'answered') answers.push(outcome.answer);
  }
  return answers;
}

/** Every chat request the fake saw fits the window and the input limit by the fake's own count. */
function expectNoOverflowingRequest(): void {
  const chats = fake.requestsFor('chat');
  expect(chats).toHaveLength(60);
  for (const request of chats) {
    const body = request.body as { messages: FakeCountableMessage[]; maxTokens: number };
    const prompt = fakePromptTokens(body.messages);
    expect(prompt).toBeLessThanOrEqual(INFO.maxInputTokens);
    expect(prompt + body.maxTokens).toBeLessThanOrEqual(INFO.contextWindow);
    expect(request.responseStatus).toBe(200);
  }
}

function finalPrompt(): string {
  const last = fake.requestsFor('chat').at(-1)?.body as { messages: Array<{ content: string }> };
  return last.messages.map((message) => message.content).join('\n');
}

describe('a 60-turn thread against the fake CLOVA server', () => {
  it('with summary: the order number from turn 2 is in the prompt at turn 60, and the summary is stored for operators', async () => {
    const { engine, backends, metrics } = await harness((provider) => ({
      strategy: 'summary',
      summarizer: provider.summarizer,
      tokenizer: provider.tokenCounter,
    }));
    const answers = await converse(engine, 'test:long:summary');
    expectNoOverflowingRequest();
    expect(finalPrompt()).toContain(ORDER_NUMBER);
    expect(answers.at(-1)?.parts).toEqual([{ type: 'text', text: `주문번호는 ${ORDER_NUMBER}입니다.` }]);
    expect(answers.filter((answer) => answer.notices.includes(SUMMARY_NOTICE)).length).toBeGreaterThanOrEqual(2);
    expect(fake.requestsFor('summarization').length).toBeGreaterThanOrEqual(2);
    expect(fake.requestsFor('tokenize').length).toBeGreaterThan(0);
    const stored = (await backends.store.load('test:long:summary')).state;
    expect(stored?.summary?.text).toContain(ORDER_NUMBER);
    expect(stored?.messages).toHaveLength(120);
    const compactions = (await metrics.compactions.get()).values;
    expect(compactions.find((value) => value.labels.kind === 'summary')?.value).toBeGreaterThanOrEqual(2);
  });

  it('with sliding: the reply at turn 60 says early messages were dropped', async () => {
    const { engine } = await harness(() => ({ strategy: 'sliding' }));
    const answers = await converse(engine, 'test:long:sliding');
    expectNoOverflowingRequest();
    expect(finalPrompt()).not.toContain(ORDER_NUMBER);
    expect(answers.at(-1)?.notices).toContain(SLIDING_NOTICE);
    expect(answers.at(-1)?.parts).toEqual([{ type: 'text', text: '이전 대화가 보이지 않아 주문번호를 알 수 없습니다. 다시 알려주시겠어요?' }]);
  });

  it('with sliding through the CLOVA sliding API: its exact counts choose the window, which still fits', async () => {
    const { engine } = await harness((provider) => ({
      strategy: 'sliding',
      remoteSliding: provider.slidingWindow,
      remoteSlidingWindowTokens: INFO.contextWindow,
    }));
    const answers = await converse(engine, 'test:long:remote');
    expectNoOverflowingRequest();
    const slidingCalls = fake.requestsFor('sliding');
    expect(slidingCalls.length).toBeGreaterThan(0);
    const reserved = createTokenEstimator().countText(SYSTEM_PROMPT) + 8;
    // Our output reserve, the answerer's additions and the part of the model window our budget does not use.
    expect((slidingCalls[0]?.body as { maxTokens: number }).maxTokens).toBe(OUTPUT_TOKENS + reserved + (INFO.contextWindow - WINDOW_TOKENS));
    expect(answers.at(-1)?.notices).toContain(SLIDING_NOTICE);
    // Every prompt after the first slide starts, after the system prompt, with a user message.
    for (const request of fake.requestsFor('chat')) {
      const roles = (request.body as { messages: Array<{ role: string }> }).messages.map((message) => message.role).filter((role) => role !== 'system');
      expect(roles[0]).toBe('user');
    }
  });

  it('a summariser failing mid-conversation loses nothing: the thread slides, then summarises later', async () => {
    const { engine, metrics } = await harness((provider) => ({ strategy: 'summary', summarizer: provider.summarizer }));
    let failing = false;
    const answers = await converse(engine, 'test:long:failure', (turn) => {
      // The summarisation API goes down from turn 15 to turn 35.
      if (turn === 15) {
        failing = true;
        fake.injectFaults('summarization', ...Array.from({ length: 100 }, () => ({ fault: 'http-500' as const })));
      }
      if (turn === 36 && failing) {
        failing = false;
        fake.reset();
        fake.scriptChat(replyTo);
      }
    });
    const duringOutage = answers.slice(14, 35);
    expect(duringOutage.some((answer) => answer.notices.includes(SLIDING_NOTICE))).toBe(true);
    expect(duringOutage.some((answer) => answer.notices.includes(SUMMARY_NOTICE))).toBe(false);
    expect(answers.slice(35).some((answer) => answer.notices.includes(SUMMARY_NOTICE))).toBe(true);
    expect(answers.at(-1)?.parts).toEqual([{ type: 'text', text: `주문번호는 ${ORDER_NUMBER}입니다.` }]);
    const failures = (await metrics.compactions.get()).values.find((value) => value.labels.kind === 'summary_failed');
    expect(failures?.value).toBeGreaterThan(0);
  });
});
