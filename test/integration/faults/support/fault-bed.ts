/**
 * A whole bot for fault tests, in one process: the real engine on real Redis, the CLOVA answering
 * stack (see clova-answering.ts) against the fake CLOVA, and the real Discord adapter talking to the
 * fake Discord through a proxy that can fail requests. Tests inject a fault, run a whole turn and
 * check what the user saw, what was stored and what was posted.
 */
import { createConversationEngine } from '../../../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../../../src/engine/state-backends.js';
import type { RedisLivenessOptions } from '../../../../src/redis/liveness-watchdog.js';
import type { ConversationEngine } from '../../../../src/engine/types.js';
import type { ThreadState } from '../../../../src/history/thread-state.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { Metrics } from '../../../../src/observability/metrics.js';
import { searchThenCiteInChat } from '../../../fakes/clova/default-responders.js';
import { startFakeClova, type FakeClova } from '../../../fakes/clova/fake-clova-server.js';
import { createDiscordTestBed, waitFor, type DiscordProcess, type DiscordTestBed } from '../../../fakes/discord/discord-test-bed.js';
import type { FakeMessage } from '../../../fakes/discord/fake-discord-server.js';
import { slashCommandPayload } from '../../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../../fakes/discord/snowflakes.js';
import { uniquePrefix } from '../../../support/redis.js';
import { createClovaAnswering } from './clova-answering.js';
import { startInterposingProxy, type InjectedFailure, type InterposedExchange, type InterposedRequest, type InterposingProxy } from './interposing-proxy.js';

export interface FaultBedOptions {
  redisUrl: string;
  /** PING cadence and deadline that find a frozen Redis; production's by default. */
  redisLiveness?: Partial<RedisLivenessOptions>;
  /** Decides, per Discord REST request, whether the proxy fails it instead of forwarding. */
  failDiscord?: (request: InterposedRequest) => InjectedFailure | undefined;
  /** Tokens left for the thread's history once the answerer's reserve and the output are set aside; small values make it compact. Default: RAG Reasoning's 128k window. */
  historyTokens?: number;
  /** How long the provider waits for a model's response headers. Default 1 s. */
  modelHeadersTimeoutMs?: number;
  /** How long the provider waits between two pieces of a response body. Default 1 s; raise it when a test holds a stream. */
  modelBodyTimeoutMs?: number;
  /** How long a summary may take before the turn slides instead. Default 15 s (production). */
  summaryTimeoutMs?: number;
  turnTimeoutMs?: number;
  /** How long a finished answer waits for Redis to take it (engine default 15 s). */
  answerSaveGraceMs?: number;
  /** Thread lock expiry (default 30 s); short when a test needs a lock its turn could not release to lapse. */
  lockTtlMs?: number;
  /** How often the adapter finishes turns left in flight (the adapter's default 60 s). */
  recoverySweepMs?: number;
  /**
   * Who runs the search-and-answer loop: RAG Reasoning (default; JSON calls) or, as under
   * `CLOVA_USE_RAG_REASONING=false`, the chat model with function calling, streamed — then the fake
   * chat searches first and cites what it was given (`searchThenCiteInChat`) unless a test scripts it.
   */
  reasoner?: 'rag-reasoning' | 'chat';
}

/** One `/ask` as the user saw it. */
export interface AskedTurn {
  interactionId: string;
  token: string;
  /** The interaction's reply as it finally reads. */
  reply: FakeMessage;
  /** The Discord thread the conversation lives in. */
  threadId: string;
}

/** An `/ask` under way. */
export interface StartedAsk {
  token: string;
  /** The interaction's reply as it reads right now (status line, streamed preview, or final). */
  shown(): FakeMessage | undefined;
  /** Settles as `ask` does, once the reply is final. */
  turn: Promise<AskedTurn>;
}

export interface FaultBed {
  clova: FakeClova;
  discord: DiscordTestBed;
  process: DiscordProcess;
  proxy: InterposingProxy;
  engine: ConversationEngine;
  backends: StateBackends;
  /** `/ask` in the channel (opens a thread) or, with `threadId`, inside that thread; resolves once the reply is final. */
  ask(question: string, threadId?: string): Promise<AskedTurn>;
  /** Like `ask`, but returns at once, so a test can watch what the reply shows (`shown`) while the turn runs. */
  startAsk(question: string, threadId?: string): StartedAsk;
  /**
   * The stored state of a guild thread (or, with `'dm'`, a DM channel), read through the bot's own store once no turn is
   * in flight there: the engine clears the in-flight record only after Discord took the post, a moment after the fake
   * shows it, so reading earlier races the turn's last write.
   */
  stored(channelId: string, where?: 'guild' | 'dm'): Promise<ThreadState | undefined>;
  /**
   * Resolves once no turn holds the thread, by taking its lock as the next turn would: a turn stores its
   * end and lets go of the thread a moment after the user sees the answer, so a fault injected at that
   * moment would land in the turn before instead of the one a test means.
   */
  settled(channelId: string, where?: 'guild' | 'dm'): Promise<void>;
  /** Final replies (an answer with buttons, or a failure line) Discord accepted for one interaction; more than one is a duplicate. */
  finalRepliesSent(token: string): InterposedExchange[];
  close(): Promise<void>;
}

const user = { id: nextSnowflake(), username: 'grace' };
const MAX_OUTPUT_TOKENS = 1_024;

export async function createFaultBed(options: FaultBedOptions): Promise<FaultBed> {
  const logger = silentLogger();
  const metrics = new Metrics();
  const clova = await startFakeClova();
  const backends = await createStateBackends({
    redisUrl: options.redisUrl,
    keyPrefix: uniquePrefix('faults'),
    threadTtlMs: 3_600_000,
    logger,
    ...(options.redisLiveness ? { redisLiveness: options.redisLiveness } : {}),
    ...(options.lockTtlMs !== undefined ? { lockTtlMs: options.lockTtlMs } : {}),
  });
  if (options.reasoner === 'chat') clova.scriptChat(searchThenCiteInChat);
  const { answerer, compactor, close: closeAnswering } = await createClovaAnswering({
    clovaUrl: clova.url,
    logger,
    metrics,
    ...(options.modelHeadersTimeoutMs !== undefined ? { modelHeadersTimeoutMs: options.modelHeadersTimeoutMs } : {}),
    ...(options.modelBodyTimeoutMs !== undefined ? { modelBodyTimeoutMs: options.modelBodyTimeoutMs } : {}),
    ...(options.summaryTimeoutMs !== undefined ? { summaryTimeoutMs: options.summaryTimeoutMs } : {}),
    ...(options.reasoner !== undefined ? { reasoner: options.reasoner } : {}),
  });
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer,
    compactor,
    budget: { windowTokens: options.historyTokens === undefined ? 128_000 : answerer.reservedTokens + MAX_OUTPUT_TOKENS + options.historyTokens, maxOutputTokens: MAX_OUTPUT_TOKENS },
    logger,
    metrics,
    turnTimeoutMs: options.turnTimeoutMs ?? 15_000,
    maxMessageChars: 8_000,
    ...(options.answerSaveGraceMs !== undefined ? { answerSaveGraceMs: options.answerSaveGraceMs } : {}),
  });
  const discord = await createDiscordTestBed();
  const proxy = await startInterposingProxy({ target: new URL(discord.fake.apiUrl).origin, ...(options.failDiscord ? { inject: options.failDiscord } : {}) });
  const process = await discord.startProcess(engine, {
    apiUrl: `${proxy.url}/api`,
    metrics,
    ...(options.recoverySweepMs !== undefined ? { recoverySweepMs: options.recoverySweepMs } : {}),
  });

  const threadKeyOf = (channelId: string, where: 'guild' | 'dm') => `discord:${where === 'dm' ? 'dm' : discord.guildId}:${channelId}`;
  const isFinal = (message: FakeMessage | undefined) => message !== undefined && (message.components.length > 0 || message.content.startsWith('⚠️'));
  const finalRepliesSent = (token: string) =>
    proxy.exchanges.filter((exchange) => {
      if (exchange.method !== 'PATCH' || exchange.status >= 300 || !decodeURIComponent(exchange.path).endsWith(`/${token}/messages/@original`)) return false;
      const body = exchange.body as { content?: string; components?: unknown[] } | undefined;
      return (body?.components?.length ?? 0) > 0 || (body?.content?.startsWith('⚠️') ?? false);
    });
  const startAsk = (question: string, threadId?: string): StartedAsk => {
    const channel = threadId ? { id: threadId, type: 11, parentId: discord.channelId } : { id: discord.channelId, type: 0 };
    const ask = slashCommandPayload({ applicationId: discord.applicationId, guildId: discord.guildId, channel, user, name: 'ask', question });
    discord.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: channel.id, guildId: discord.guildId });
    process.injector.interactionCreate(ask);
    const turn = (async (): Promise<AskedTurn> => {
      await waitFor(`the final reply to "${question}"`, () => isFinal(discord.fake.originalResponse(ask.token)), 15_000);
      // The proxy records an exchange once its response is through, a moment after the fake applied it.
      await waitFor('the proxy to see the final reply', () => finalRepliesSent(ask.token).length > 0);
      const reply = discord.fake.originalResponse(ask.token) as FakeMessage;
      const opened = threadId ?? (discord.fake.threads.has(reply.id) ? reply.id : undefined);
      if (!opened) throw new Error('the /ask reply opened no thread');
      return { interactionId: ask.id, token: ask.token, reply, threadId: opened };
    })();
    // A test that fails while watching never awaits `turn`; its rejection must not go unhandled.
    turn.catch(() => undefined);
    return { token: ask.token, shown: () => discord.fake.originalResponse(ask.token), turn };
  };
  return {
    clova,
    discord,
    process,
    proxy,
    engine,
    backends,
    startAsk,
    ask: (question, threadId) => startAsk(question, threadId).turn,
    async stored(channelId, where = 'guild') {
      const key = threadKeyOf(channelId, where);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { state } = await backends.store.load(key);
        if (!state?.inFlight) return state;
        if (Date.now() > deadline) throw new Error(`a turn in ${key} stayed in flight for 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async settled(channelId, where = 'guild') {
      await backends.coordinator.withThreadLock(threadKeyOf(channelId, where), async () => undefined);
    },
    finalRepliesSent,
    async close() {
      await discord.close();
      await engine.close(5_000);
      await proxy.close();
      await closeAnswering();
      await backends.close();
      await clova.close();
    },
  };
}
