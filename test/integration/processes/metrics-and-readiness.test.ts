import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { buildModelStack } from '../../../src/composition/model-stack.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { startFakeClova, FAKE_CLOVA_API_KEY, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakePromptTokens, type FakeCountableMessage } from '../../fakes/clova/fake-token-count.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { redisServerBinary, startRedisServer, type TestRedis } from '../../support/redis-server.js';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_WAIT_MS, startBotProcess, terminate, type BotProcess, cleanUpAfterEachTest } from '../../support/processes/bot-process.js';
import { startDiscordSetup, type DiscordSetup } from '../../support/processes/discord-interactions.js';
import { scrapeMetrics } from '../../support/processes/prometheus-text.js';

const cleanups = cleanUpAfterEachTest();

/** History this small holds one short exchange, so the second turn of a thread must slide. */
const HISTORY_TOKENS = 30;

describe('observability of a real bot process', () => {
  it('exposes every series on /metrics after real turns: outcomes, latencies, tokens, compactions, rate-limit waits, errors', async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = uniquePrefix('process-metrics');
    const discord = await startDiscordSetup();
    const clova = await startFakeClova();
    cleanups.push(() => discord.close(), () => clova.close(), () => deleteKeysWithPrefix(redisUrl, keyPrefix));
    const env: Record<string, string> = {
      ...discord.env,
      CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY,
      CLOVA_STUDIO_BASE_URL: clova.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      COMPACTION: 'sliding',
      DOCUMENT_TOKEN_BUDGET: '200',
      RAG_MAX_ROUNDS: '1',
    };
    env.HISTORY_TOKEN_BUDGET = String(await windowLeaving(HISTORY_TOKENS, env));
    const bot = await startBotProcess({ name: 'observed', env });

    // Turn 1 waits out one CLOVA 429 (Retry-After: 1 s) before it is answered.
    clova.injectFaults('rag-reasoning', { fault: 'rate-limit', retryAfterSeconds: 1 });
    const first = await askAndWait(discord, bot, 'How do I point the bot at Redis?');
    const threadId = discord.fake.originalResponse(first)!.id;
    // Turn 2, in the thread the first answer opened: its history no longer fits and slides.
    await askAndWait(discord, bot, 'And what happens when Redis is down for a while?', threadId);
    // Turn 3: CLOVA refuses the key.
    clova.injectFaults('rag-reasoning', { fault: 'status', httpStatus: 401, code: '40100', message: 'Unauthorized' });
    const refused = await discord.ask(bot.baseUrl, 'Which log levels are there?', { inThread: threadId });
    await expect.poll(() => discord.fake.originalResponse(refused.token)?.content ?? '', { timeout: PROCESS_WAIT_MS }).toContain('sign in to my language model');
    await expect.poll(async () => (await scrapeMetrics(bot.baseUrl)).value('threadline_turns_total', { outcome: 'failed' }), { timeout: PROCESS_WAIT_MS }).toBe(1);

    const metrics = await scrapeMetrics(bot.baseUrl);
    for (const [family, type] of Object.entries(EXPECTED_FAMILIES)) expect([family, metrics.families.get(family)]).toEqual([family, type]);
    expect(metrics.value('threadline_turns_total', { platform: 'discord', outcome: 'answered' })).toBe(2);
    expect(metrics.value('threadline_turns_total', { platform: 'discord', outcome: 'failed' })).toBe(1);
    expect(metrics.value('threadline_queue_wait_seconds_count')).toBe(3);
    expect(metrics.value('threadline_turn_seconds_count')).toBe(2);
    expect(metrics.value('threadline_retrieval_seconds_count')).toBe(2);
    expect(metrics.value('threadline_rerank_seconds_count')).toBe(2);
    // Turns 2 and 3 both met a history over budget.
    expect(metrics.value('threadline_compactions_total', { kind: 'sliding' })).toBe(2);
    expect(metrics.value('threadline_rate_limit_waits_total', { upstream: 'clova' })).toBe(1);
    // One refused call failed one turn: one error, though the provider and the engine both saw it.
    expect(metrics.value('threadline_errors_total', { code: 'clova_auth' })).toBe(1);
    // Input tokens are what CLOVA reported for the calls that succeeded, counted once.
    expect(metrics.value('threadline_model_tokens_total', { direction: 'input' })).toBe(reportedInputTokens(clova, 'rag-reasoning'));
    expect(metrics.value('threadline_model_tokens_total', { direction: 'output' })).toBeGreaterThan(0);
    // RAG Reasoning (the default) is never streamed: every call that succeeded is timed to its complete
    // response (the 429 it waited out included), and no first token is ever seen.
    const answeredReasoningCalls = clova.requestsFor('rag-reasoning').filter((request) => request.responseStatus === 200).length;
    expect(answeredReasoningCalls).toBeGreaterThan(0);
    expect(metrics.value('threadline_model_response_seconds_count', { streamed: 'false' })).toBe(answeredReasoningCalls);
    expect(metrics.value('threadline_model_first_token_seconds_count')).toBe(0);
    expect(await terminate(bot)).toEqual({ code: 0, signal: null });
  }, PROCESS_TEST_TIMEOUT_MS);

  it('observes the model\'s time to first token and to its complete response where the answer is streamed (CLOVA chat with function calling)', async () => {
    const discord = await startDiscordSetup();
    const clova = await startFakeClova();
    cleanups.push(() => discord.close(), () => clova.close());
    const bot = await startBotProcess({
      name: 'streaming',
      env: { ...discord.env, CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: clova.url, CLOVA_USE_RAG_REASONING: 'false' },
    });
    await askAndWait(discord, bot, 'How do I point the bot at Redis?');
    const streamedCalls = clova.requestsFor('chat').filter((request) => request.streaming && request.responseStatus === 200).length;
    expect(streamedCalls).toBeGreaterThan(0);
    await expect.poll(async () => (await scrapeMetrics(bot.baseUrl)).value('threadline_model_first_token_seconds_count'), { timeout: PROCESS_WAIT_MS }).toBe(streamedCalls);
    expect((await scrapeMetrics(bot.baseUrl)).value('threadline_model_response_seconds_count', { streamed: 'true' })).toBe(streamedCalls);
    // Counted once on this path too (the chat model counts its calls; nothing above it adds them again).
    expect((await scrapeMetrics(bot.baseUrl)).value('threadline_model_tokens_total', { direction: 'input' })).toBe(reportedInputTokens(clova, 'chat'));
    expect(await terminate(bot)).toEqual({ code: 0, signal: null });
  }, PROCESS_TEST_TIMEOUT_MS);

  it('turns /readyz unhealthy when its Redis stops and healthy again when it returns, then answers again', async () => {
    const binary = redisServerBinary();
    if (!binary) throw new Error('This test stops and restarts a redis-server of its own: install it (`apt-get install -y redis-server`).');
    const redis: TestRedis = await startRedisServer(binary);
    const discord = await startDiscordSetup();
    cleanups.push(() => redis.stop(), () => discord.close());
    const bot = await startBotProcess({ name: 'readiness', env: { ...discord.env, REDIS_URL: redis.url, LLM_PROVIDER: 'offline' } });

    expect(await readiness(bot)).toEqual({ status: 200, redis: true });
    await redis.stop();
    expect(await readinessBecomes(bot, 503)).toEqual({ status: 503, redis: false });
    expect(bot.hasExited()).toBe(false);
    await redis.restart!();
    expect(await readinessBecomes(bot, 200)).toEqual({ status: 200, redis: true });
    // Back for real: a question is answered through the reconnected client.
    await askAndWait(discord, bot, 'How do I configure Redis?');
    const messages = bot.logs().map((line) => line.msg);
    expect(messages.lastIndexOf('Redis connection restored')).toBeGreaterThan(messages.findLastIndex((message) => message?.startsWith('Redis is unreachable')));
    expect(messages.findLastIndex((message) => message?.startsWith('Redis is unreachable'))).toBeGreaterThan(-1);
    expect(await terminate(bot)).toEqual({ code: 0, signal: null });
  }, PROCESS_TEST_TIMEOUT_MS);
});

/** Every series issue 8 lists, with the type a scraper must see. */
const EXPECTED_FAMILIES = {
  threadline_turns_total: 'counter',
  threadline_queue_wait_seconds: 'histogram',
  threadline_retrieval_seconds: 'histogram',
  threadline_rerank_seconds: 'histogram',
  threadline_model_first_token_seconds: 'histogram',
  threadline_model_response_seconds: 'histogram',
  threadline_turn_seconds: 'histogram',
  threadline_model_tokens_total: 'counter',
  threadline_compactions_total: 'counter',
  threadline_rate_limit_waits_total: 'counter',
  threadline_errors_total: 'counter',
};

/** The HISTORY_TOKEN_BUDGET that leaves `historyTokens` for the thread once the answerer's reserve and output are set aside. */
async function windowLeaving(historyTokens: number, env: Record<string, string>): Promise<number> {
  const models = await buildModelStack(loadConfig(env), { logger: silentLogger(), metrics: new Metrics() });
  try {
    return models.answerer.reservedTokens + models.budget.maxOutputTokens + historyTokens;
  } finally {
    await models.close();
  }
}

/** Asks and waits until the final answer (with its buttons) is on the interaction's message; returns the interaction token. */
async function askAndWait(discord: DiscordSetup, bot: BotProcess, question: string, inThread?: string): Promise<string> {
  const asked = await discord.ask(bot.baseUrl, question, inThread ? { inThread } : {});
  expect(asked).toMatchObject({ status: 200, responseType: 5 });
  await expect.poll(() => discord.fake.originalResponse(asked.token)?.components.length ?? 0, { timeout: PROCESS_WAIT_MS }).toBeGreaterThan(0);
  return asked.token;
}

/** Σ promptTokens the fake reported to successful calls of `api` (it derives them from the request alone). */
function reportedInputTokens(clova: FakeClova, api: 'rag-reasoning' | 'chat'): number {
  return clova
    .requestsFor(api)
    .filter((request) => request.responseStatus === 200)
    .reduce((sum, request) => {
      const body = request.body as { messages: FakeCountableMessage[]; tools?: unknown };
      return sum + fakePromptTokens(body.messages, body.tools);
    }, 0);
}

async function readiness(bot: BotProcess): Promise<{ status: number; redis: boolean | undefined }> {
  const response = await fetch(`${bot.baseUrl}/readyz`);
  const body = (await response.json()) as { checks: Array<{ name: string; ok: boolean }> };
  return { status: response.status, redis: body.checks.find((check) => check.name === 'redis')?.ok };
}

/** Probes like a load balancer until `/readyz` answers `status`. */
async function readinessBecomes(bot: BotProcess, status: number, deadlineMs = PROCESS_WAIT_MS): Promise<{ status: number; redis: boolean | undefined }> {
  const deadline = Date.now() + deadlineMs;
  let last = await readiness(bot);
  while (last.status !== status && Date.now() < deadline) {
    await delay(100);
    last = await readiness(bot);
  }
  return last;
}
