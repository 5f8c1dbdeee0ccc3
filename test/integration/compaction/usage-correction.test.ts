import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCompactor, SLIDING_NOTICE } from '../../../src/compaction/compactor.js';
import { toChatMessage } from '../../../src/compaction/conversation-turns.js';
import { createTokenEstimator, estimateMessageTokens } from '../../../src/compaction/token-estimator.js';
import type { Answer } from '../../../src/engine/answer.js';
import { createConversationEngine } from '../../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { ConversationEngine, ReplySink } from '../../../src/engine/types.js';
import type { StoredMessage } from '../../../src/history/thread-state.js';
import { createEmbeddedRetriever } from '../../../src/knowledge/embedded-retriever.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { toOpenAiMessages } from '../../../src/providers/openai-compatible/chat-model.js';
import { createOpenAiCompatibleProvider, type OpenAiCompatibleProvider } from '../../../src/providers/openai-compatible/index.js';
import { toV3Messages } from '../../../src/providers/clova/chat-mapping.js';
import { createClovaError } from '../../../src/providers/clova/clova-errors.js';
import type { ChatCompletion, ChatMessage, ChatParams, Reasoner, ToolDefinition } from '../../../src/providers/types.js';
import { createLocalReranker } from '../../../src/rag/local-reranker.js';
import { createRagAnswerer } from '../../../src/rag/rag-answerer.js';
import { SEARCH_TOOL } from '../../../src/rag/search-tool.js';
import { buildSystemPrompt } from '../../../src/rag/system-prompt.js';
import { searchThenCite } from '../../fakes/clova/default-responders.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { FAKE_MESSAGE_OVERHEAD_TOKENS, fakeContentTokens, fakePromptTokens, type FakeCountableMessage } from '../../fakes/clova/fake-token-count.js';
import { fakeOpenAiPromptTokens, startFakeOpenAi, type FakeOpenAi } from '../../fakes/openai/fake-openai-server.js';
import { incomingMessage } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';

/**
 * Cached token counts over long threads, with the engine, the real RAG answerer and the compactor:
 * the counts must follow what the model reports for the history (never the usage summed over the
 * several calls of one answer, never with the whole document reserve taken off), so requests stay
 * inside the window and the window is used.
 */

const TURNS = 36;
const WINDOW_TOKENS = 8_000;
const OUTPUT_TOKENS = 1_024;
const DOCUMENT_TOKEN_BUDGET = 1_500;
const estimator = createTokenEstimator();

const chunks = [
  {
    id: 'kb/refunds.md#0',
    source: 'kb/refunds.md',
    documentId: '',
    title: 'Refunds',
    text: 'Refunds are issued within 30 days of purchase to the original payment method. Gift cards cannot be refunded. '.repeat(4),
  },
  {
    id: 'kb/refunds.md#1',
    source: 'kb/refunds.md',
    documentId: '',
    title: 'Refunds › Partial',
    text: 'A partial refund is possible when only some items of an order are returned; shipping is refunded only for damaged items. '.repeat(4),
  },
];

/** A long user message (about 260 estimated tokens), different every turn. */
function userText(turn: number): string {
  return `Question ${turn}: how long do refunds take for order 2024-${String(turn).padStart(4, '0')}, and can a gift card be refunded? `.repeat(6);
}

const discardingSink: ReplySink = { emit: async () => {} };

let redisUrl: string;
const cleanups: Array<() => Promise<void>> = [];
beforeAll(() => {
  redisUrl = requireRedisUrl();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Thread {
  engine: ConversationEngine;
  backends: StateBackends;
  /** Tokens of history a request may carry: the window less the output reserve and all the answerer may add. */
  historyBudget: number;
}

async function thread(reasoner: Reasoner): Promise<Thread> {
  const logger = silentLogger();
  const keyPrefix = uniquePrefix('usage-correction');
  const backends = await createStateBackends({ redisUrl, keyPrefix, threadTtlMs: 3_600_000, logger });
  const answerer = createRagAnswerer({
    reasoner,
    retriever: createEmbeddedRetriever({ chunks }),
    reranker: createLocalReranker(),
    tokenCounter: estimator,
    maxRounds: 2,
    topK: 4,
    documentTokenBudget: DOCUMENT_TOKEN_BUDGET,
    logger,
  });
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer,
    compactor: createCompactor({ strategy: 'sliding', estimator, logger }),
    budget: { windowTokens: WINDOW_TOKENS, maxOutputTokens: OUTPUT_TOKENS },
    logger,
    turnTimeoutMs: 15_000,
    maxMessageChars: 8_000,
  });
  cleanups.push(async () => {
    await engine.close(5_000);
    await backends.close();
    await deleteKeysWithPrefix(redisUrl, keyPrefix);
  });
  return { engine, backends, historyBudget: WINDOW_TOKENS - OUTPUT_TOKENS - answerer.reservedTokens };
}

/** Runs the thread; every turn must be answered (a request over the window fails its turn). */
async function converse(engine: ConversationEngine, threadKey: string): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let turn = 1; turn <= TURNS; turn += 1) {
    const outcome = await engine.handle(incomingMessage(threadKey, userText(turn)), discardingSink);
    expect(outcome, `turn ${turn}`).toMatchObject({ kind: 'answered' });
    if (outcome.kind === 'answered') answers.push(outcome.answer);
  }
  return answers;
}

async function storedMessages(backends: StateBackends, threadKey: string): Promise<StoredMessage[]> {
  const loaded = await backends.store.load(threadKey);
  return loaded.state?.messages ?? [];
}

/** Every counted message with its count beside `truth(message)`. */
async function countsBeside(messages: StoredMessage[], truth: (message: StoredMessage) => Promise<number>) {
  const counted = messages.filter((message) => message.tokens !== undefined);
  return Promise.all(counted.map(async (message) => ({ stored: message.tokens!.count, source: message.tokens!.source, truth: await truth(message) })));
}

/** What the answerer's first call carries besides the history: its system prompt and the search tool's schema. */
const FIRST_CALL_ADDITIONS = estimateMessageTokens({ role: 'system', content: buildSystemPrompt(undefined) }) + estimator.countText(JSON.stringify(SEARCH_TOOL));

const estimateOf = async (message: StoredMessage): Promise<number> => (await estimator.countMessages([toChatMessage(message)]))[0]!;

describe('with a model that counts `factor` times our estimate of what it is sent', () => {
  /**
   * Reports, per call, `factor` × our estimator's count of the messages and tool schemas it was sent,
   * and refuses (as CLOVA does with 40003) any call whose prompt and output reserve exceed the window.
   */
  function countingReasoner(options: { factor: number; search: boolean; enforceWindow: boolean }): Reasoner & { prompts: number[] } {
    const prompts: number[] = [];
    return {
      prompts,
      async reason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): Promise<ChatCompletion> {
        const counted = (await estimator.countMessages(messages)).reduce((sum, count) => sum + count, 0) + estimator.countText(JSON.stringify(tools));
        const prompt = Math.round(options.factor * counted);
        prompts.push(prompt);
        if (options.enforceWindow && prompt + params.maxTokens > WINDOW_TOKENS) {
          throw createClovaError({ kind: 'context_too_long', message: `context length exceeded: ${prompt} + ${params.maxTokens} > ${WINDOW_TOKENS}`, providerCode: '40003', status: 400, retryable: false });
        }
        const usage = { inputTokens: prompt, outputTokens: 20 };
        if (options.search && messages.at(-1)?.role === 'user') {
          return { text: '', toolCalls: [{ id: `call-${prompts.length}`, name: 'knowledge_search', arguments: { query: 'refund gift card' } }], finishReason: 'tool_calls', usage };
        }
        return { text: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.', toolCalls: [], finishReason: 'stop', usage };
      },
    };
  }

  for (const search of [false, true]) {
    const path = search ? 'searching every turn' : 'without searching';

    it(`${path}: counts stay within 5% of the estimate when the model agrees with it; no request overflows and history fills the budget`, async () => {
      const reasoner = countingReasoner({ factor: 1, search, enforceWindow: true });
      const { engine, backends, historyBudget } = await thread(reasoner);
      const threadKey = `test:usage:agree:${search}`;
      const answers = await converse(engine, threadKey);
      expect(reasoner.prompts.length).toBe(search ? 2 * TURNS : TURNS);
      expect(Math.max(...reasoner.prompts) + OUTPUT_TOKENS).toBeLessThanOrEqual(WINDOW_TOKENS);
      // The window was binding: history was dropped, so the counts decided what was sent, and they let it fill the budget.
      expect(answers.at(-1)?.notices).toContain(SLIDING_NOTICE);
      expect(answers.every((answer) => answer.mode === (search ? 'generated' : 'chat'))).toBe(true);
      const lastFirstCall = reasoner.prompts[search ? reasoner.prompts.length - 2 : reasoner.prompts.length - 1]!;
      expect(lastFirstCall - FIRST_CALL_ADDITIONS).toBeGreaterThanOrEqual(0.9 * historyBudget);

      const counts = await countsBeside(await storedMessages(backends, threadKey), estimateOf);
      expect(counts.filter((count) => count.source === 'api').length).toBeGreaterThan(20);
      for (const count of counts) expect(Math.abs(count.stored - count.truth), JSON.stringify(count)).toBeLessThanOrEqual(Math.max(1, 0.05 * count.truth));
    });

    it(`${path}: a thread whose confirmed counts are far too small is refused once as too long, then counted afresh and answered`, async () => {
      const options = { factor: 1, search, enforceWindow: false };
      const reasoner = countingReasoner(options);
      const { engine, backends } = await thread(reasoner);
      const threadKey = `test:usage:stale:${search}`;
      await converse(engine, threadKey);
      // What an older release left behind: counts confirmed at 40% of what the model counts.
      const stored = (await backends.store.load(threadKey)).state!;
      const shrunk = stored.messages.map((message) => (message.tokens?.source === 'api' ? { ...message, tokens: { ...message.tokens, count: Math.round(0.4 * message.tokens.count) } } : message));
      await backends.store.save({ ...stored, messages: shrunk });
      options.enforceWindow = true;

      const refused = await engine.handle(incomingMessage(threadKey, userText(TURNS + 1)), discardingSink);
      expect(refused).toMatchObject({ kind: 'failed', code: 'clova_context_too_long' });
      const afterRefusal = await storedMessages(backends, threadKey);
      expect(afterRefusal.filter((message) => message.tokens?.source === 'api')).toEqual([]);
      expect(afterRefusal.at(-1)).toMatchObject({ role: 'user', status: 'failed' });

      const answered = await engine.handle(incomingMessage(threadKey, userText(TURNS + 2)), discardingSink);
      expect(answered).toMatchObject({ kind: 'answered' });
      expect(reasoner.prompts.at(search ? -2 : -1)! + OUTPUT_TOKENS).toBeLessThanOrEqual(WINDOW_TOKENS);
    });

    it(`${path}: counts move to the model's figure when it consistently counts 1.3 times the estimate`, async () => {
      const reasoner = countingReasoner({ factor: 1.3, search, enforceWindow: false });
      const { engine, backends } = await thread(reasoner);
      const threadKey = `test:usage:higher:${search}`;
      await converse(engine, threadKey);

      const counts = await countsBeside(await storedMessages(backends, threadKey), async (message) => 1.3 * (await estimateOf(message)));
      const confirmed = counts.filter((count) => count.source === 'api');
      expect(confirmed.length).toBeGreaterThan(20);
      for (const count of confirmed) expect(Math.abs(count.stored - count.truth), JSON.stringify(count)).toBeLessThanOrEqual(Math.max(1, 0.05 * count.truth));
    });
  }
});

describe('against the fake CLOVA server through RAG Reasoning', () => {
  let fake: FakeClova;
  let provider: ClovaProvider;
  beforeAll(async () => {
    fake = await startFakeClova();
    provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: silentLogger(), retry: { maxAttempts: 1 } });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  /** What the fake charges for a stored message: its own tokenizer's count plus the special tokens. */
  const fakeCountOf = async (message: StoredMessage): Promise<number> => {
    const [wire] = toV3Messages([toChatMessage(message)]);
    return fakeContentTokens(wire as FakeCountableMessage) + FAKE_MESSAGE_OVERHEAD_TOKENS;
  };

  for (const search of [false, true]) {
    const path = search ? 'searching every turn' : 'without searching';

    it(`${path}: every request fits the window by the server's own count, and the counts move to the server's`, async () => {
      fake.scriptRagReasoning((view) => {
        if (!search) return { text: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.' };
        // A short query, as a model writes one; then the default answer citing what was found.
        if (view.messages.at(-1)?.role === 'user') return { toolCalls: [{ name: 'knowledge_search', arguments: { query: 'refund gift card' } }] };
        return searchThenCite(view);
      });
      const { engine, backends } = await thread(provider.reasoner);
      const threadKey = `test:usage:fake:${search}`;
      const answers = await converse(engine, threadKey);
      const requests = fake.requestsFor('rag-reasoning');
      expect(requests.length).toBe(search ? 2 * TURNS : TURNS);
      for (const request of requests) {
        const body = request.body as { messages: FakeCountableMessage[]; tools: unknown; maxTokens: number };
        expect(fakePromptTokens(body.messages, body.tools) + body.maxTokens).toBeLessThanOrEqual(WINDOW_TOKENS);
      }
      // The window was binding: history was dropped, so the counts decided what was sent.
      expect(answers.at(-1)?.notices).toContain(SLIDING_NOTICE);
      expect(answers.every((answer) => answer.mode === (search ? 'generated' : 'chat'))).toBe(true);

      // Our estimator over-counts this English by about half under the fake's tokenizer; the confirmed counts must have moved to the fake's own.
      const counts = (await countsBeside(await storedMessages(backends, threadKey), fakeCountOf)).filter((count) => count.source === 'api');
      expect(counts.length).toBeGreaterThan(20);
      const stored = counts.reduce((sum, count) => sum + count.stored, 0);
      const truth = counts.reduce((sum, count) => sum + count.truth, 0);
      expect(stored / truth).toBeGreaterThan(0.95);
      expect(stored / truth).toBeLessThan(1.05);
    });
  }
});

describe('against a fake OpenAI-compatible server, streaming', () => {
  let fake: FakeOpenAi;
  let provider: OpenAiCompatibleProvider;
  beforeAll(async () => {
    fake = await startFakeOpenAi();
    provider = createOpenAiCompatibleProvider({ baseUrl: fake.url, model: 'qwen2.5:7b', contextWindow: WINDOW_TOKENS, maxOutputTokens: OUTPUT_TOKENS, logger: silentLogger(), retry: { maxAttempts: 1 } });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  /** What the fake charges for a stored message as it goes on the OpenAI wire. */
  const fakeCountOf = async (message: StoredMessage): Promise<number> => fakeOpenAiPromptTokens({ messages: toOpenAiMessages([toChatMessage(message)]) });

  for (const search of [false, true]) {
    const path = search ? 'searching every turn' : 'without searching';

    it(`${path}: every request fits the window by the server's own count, and the counts move to the server's`, async () => {
      fake.scriptChat((view) => {
        if (search && view.messages.at(-1)?.role === 'user') return { toolCalls: [{ name: 'knowledge_search', arguments: { query: 'refund gift card' } }] };
        return { text: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.' };
      });
      const { engine, backends } = await thread(provider.chatReasoner);
      const threadKey = `test:usage:openai:${search}`;
      const answers = await converse(engine, threadKey);
      const requests = fake.requests.filter((request) => request.path.endsWith('/chat/completions'));
      expect(requests.length).toBe(search ? 2 * TURNS : TURNS);
      for (const request of requests) {
        const body = request.body as Record<string, unknown> & { max_tokens: number; stream: boolean };
        expect(body.stream).toBe(true);
        expect(fakeOpenAiPromptTokens(body) + body.max_tokens).toBeLessThanOrEqual(WINDOW_TOKENS);
      }
      expect(answers.at(-1)?.notices).toContain(SLIDING_NOTICE);
      expect(answers.every((answer) => answer.mode === (search ? 'generated' : 'chat'))).toBe(true);

      const counts = (await countsBeside(await storedMessages(backends, threadKey), fakeCountOf)).filter((count) => count.source === 'api');
      expect(counts.length).toBeGreaterThan(20);
      const stored = counts.reduce((sum, count) => sum + count.stored, 0);
      const truth = counts.reduce((sum, count) => sum + count.truth, 0);
      expect(stored / truth).toBeGreaterThan(0.95);
      expect(stored / truth).toBeLessThan(1.05);
    });
  }
});
