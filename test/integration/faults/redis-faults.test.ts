import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { searchThenCite } from '../../fakes/clova/default-responders.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { createFaultBed, type FaultBed } from './support/fault-bed.js';
import { startPersistentRedis, type PersistentRedis } from '../../support/persistent-redis.js';

const user = { id: nextSnowflake(), username: 'edsger' };

describe('a conversation across a Redis restart', () => {
  let bed: FaultBed | undefined;
  let redis: PersistentRedis | undefined;
  afterEach(async () => {
    await bed?.close();
    await redis?.close();
    bed = undefined;
    redis = undefined;
  });

  /** Holds the thread's next model call until `release`; `reached` settles once the call arrived. */
  function holdNextModelCall(target: FaultBed): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    let held = false;
    target.clova.scriptRagReasoning(async (request) => {
      if (!held) {
        held = true;
        arrived();
        await released;
      }
      return searchThenCite(request);
    });
    return { reached, release };
  }

  it('finishes a turn whose model call spans the restart: one complete answer, and the thread keeps both turns in order', async () => {
    redis = await startPersistentRedis();
    bed = await createFaultBed({ redisUrl: redis.url, modelHeadersTimeoutMs: 10_000 });
    const first = await bed.ask('How do I configure Redis for several replicas?');

    // Hold the second turn's first model call until Redis has gone away and come back.
    const model = holdNextModelCall(bed);
    const second = bed.ask('Redis를 어떻게 설정하나요?', first.threadId);
    await model.reached;
    await redis.stop();
    await redis.start();
    const backends = bed.backends;
    await waitFor('the bot to reconnect to Redis', () => backends.redis?.isReady === true);
    model.release();
    const turn = await second;

    expect(turn.reply.components.length).toBeGreaterThan(0);
    expect(turn.reply.content).not.toMatch(/^⚠️/);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    const state = await bed.stored(first.threadId);
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.id : 'answer', message.status])).toEqual([
      ['user', first.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', turn.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });

  it('keeps an answer that is ready while Redis restarts until Redis takes it, then posts it once', async () => {
    redis = await startPersistentRedis();
    bed = await createFaultBed({ redisUrl: redis.url, modelHeadersTimeoutMs: 10_000 });
    const first = await bed.ask('How do I configure Redis for several replicas?');
    const model = holdNextModelCall(bed);
    const second = bed.startAsk('Redis를 어떻게 설정하나요?', first.threadId);
    await model.reached;
    await redis.stop();
    // The answer is ready while Redis is gone: the turn must wait for it rather than drop the answer.
    model.release();
    // The answer-writing call (the turn's second) has been answered: the turn is saving into the outage now.
    await waitFor('the answer to be written', () => bed?.clova.requestsFor('rag-reasoning')[3]?.responseStatus === 200, 10_000);
    await delay(500);
    await redis.start();
    const turn = await second.turn;

    expect(turn.reply.content).not.toMatch(/^⚠️/);
    expect(turn.reply.components.length).toBeGreaterThan(0);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(4);
    const state = await bed.stored(first.threadId);
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.id : 'answer', message.status])).toEqual([
      ['user', first.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', turn.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });

  /**
   * Opens a thread, then lets its second question's answer be written while Redis is stopped for
   * longer than the answer may wait: the turn ends telling the user the saved message will be answered.
   * Redis stays stopped; the test starts it again.
   */
  async function deferSecondAnswer(recoverySweepMs: number) {
    const server = await startPersistentRedis();
    redis = server;
    const opened = await createFaultBed({ redisUrl: server.url, modelHeadersTimeoutMs: 10_000, answerSaveGraceMs: 300, lockTtlMs: 1_000, recoverySweepMs });
    bed = opened;
    const first = await opened.ask('How do I configure Redis for several replicas?');
    const model = holdNextModelCall(opened);
    const second = opened.startAsk('Redis를 어떻게 설정하나요?', first.threadId);
    await model.reached;
    await server.stop();
    model.release();
    return { server, bed: opened, first, deferred: await second.turn };
  }

  it('when Redis stays away longer than the answer can wait, says the saved message will be answered, and answers it once Redis is back', async () => {
    const { server, bed, first, deferred } = await deferSecondAnswer(200);
    const fake = bed.discord.fake;
    const answersInThread = () => fake.channelMessages(first.threadId).filter((message) => message.components.length > 0).map((message) => message.id);

    // Not "send it again": the question was saved before the model was asked, and sending it again would answer it twice.
    expect(deferred.reply.content).toBe('⚠️ I lost the connection to my conversation memory while finishing this answer. Your message is saved, and I will answer it here once the connection is back.');
    await server.start();
    await waitFor('the recovered answer', () => (fake.originalResponse(deferred.token)?.components.length ?? 0) > 0, 20_000);

    const recovered = fake.originalResponse(deferred.token)!;
    expect(recovered.content).not.toMatch(/^⚠️/);
    expect(recovered.content).toMatch(/Redis/);
    // Finished in the reply that said it would be, not posted again beside it.
    expect(answersInThread()).toEqual([recovered.id]);
    const state = await bed.stored(first.threadId);
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.id : 'answer', message.status])).toEqual([
      ['user', first.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', deferred.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });

  it('keeps that promise when the user writes again before any sweep: the saved message is answered first, then the new one, once each', async () => {
    // No sweep after the one at startup: only the next turn in the thread can keep the promise.
    const { server, bed, first, deferred } = await deferSecondAnswer(3_600_000);
    expect(deferred.reply.content).toMatch(/^⚠️ .*I will answer it here once the connection is back\.$/);
    await server.start();
    const backends = bed.backends;
    await waitFor('the bot to reconnect to Redis', () => backends.redis?.isReady === true);

    const third = await bed.ask('What happens if Redis goes away?', first.threadId);

    // Writes Discord took that put an answer (it carries buttons) on a reply: by the interaction's own route, or as a channel edit from recovery.
    const answersPut = (reply: { token: string; id: string }) =>
      bed.proxy.exchanges.filter((exchange) => {
        const path = decodeURIComponent(exchange.path);
        const onReply = path.endsWith(`/${reply.token}/messages/@original`) || path.endsWith(`/messages/${reply.id}`);
        return onReply && exchange.status < 300 && ((exchange.body as { components?: unknown[] } | undefined)?.components?.length ?? 0) > 0;
      });
    // The promised answer, in the reply that promised it, and the new question's own: one each, nothing posted beside them.
    const recovered = bed.discord.fake.originalResponse(deferred.token)!;
    expect(recovered.content).not.toMatch(/^⚠️/);
    expect(recovered.components.length).toBeGreaterThan(0);
    expect(answersPut({ token: deferred.token, id: recovered.id })).toHaveLength(1);
    expect(third.reply.content).not.toMatch(/^⚠️/);
    expect(answersPut({ token: third.token, id: third.reply.id })).toHaveLength(1);
    expect(bed.discord.fake.channelMessages(first.threadId).filter((message) => message.components.length > 0).map((message) => message.id)).toEqual([recovered.id, third.reply.id]);
    const state = await bed.stored(first.threadId);
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.id : 'answer', message.status])).toEqual([
      ['user', first.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', deferred.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', third.interactionId, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });

  /** Two ways Redis goes away: stopped (connections refused at once) and frozen (connections open, nothing answered). */
  const outages = [
    {
      kind: 'down',
      liveness: undefined,
      begin: async (server: PersistentRedis) => server.stop(),
      end: async (server: PersistentRedis) => server.start(),
    },
    {
      // Frozen, Redis keeps every connection open and answers nothing: without a deadline of our own the turn would wait for TCP to give up.
      kind: 'frozen',
      liveness: { intervalMs: 100, deadlineMs: 500 },
      begin: async (server: PersistentRedis) => server.pause(),
      end: async (server: PersistentRedis) => server.resume(),
    },
  ] as const;

  it.each(outages.map((outage) => [outage.kind, outage] as const))('tells a user plainly that their message was not taken while Redis is %s, instead of leaving them waiting, and carries on with nothing lost once it is back', async (_kind, outage) => {
    redis = await startPersistentRedis();
    bed = await createFaultBed({ redisUrl: redis.url, ...(outage.liveness ? { redisLiveness: outage.liveness } : {}) });
    const dm = nextSnowflake();
    const fake = bed.discord.fake;
    const send = (content: string) => bed?.process.injector.messageCreate(messagePayload({ channelId: dm, channelType: 1, author: user, content }));
    const replies = () => fake.channelMessages(dm);

    send('How do I configure Redis for several replicas?');
    await waitFor('the first answer', () => replies().length === 1 && replies()[0]!.components.length > 0);
    // The first turn stores its end a moment after the answer shows; the outage is meant for the second.
    await bed.settled(dm, 'dm');
    await outage.begin(redis);
    send('What happens if Redis goes away?');
    await waitFor('the outage line', () => replies().length === 2);
    expect(replies()[1]?.content).toBe(
      '⚠️ I cannot reach my conversation memory right now, so I could not take your message. Please send it again in a minute.',
    );

    await outage.end(redis);
    const backends = bed.backends;
    await waitFor('the bot to reconnect to Redis', () => backends.redis?.isReady === true);
    send('Redis를 어떻게 설정하나요?');
    await waitFor('the answer after the outage', () => replies().length === 3 && replies()[2]!.components.length > 0);

    expect(replies().map((message) => message.content.startsWith('⚠️'))).toEqual([false, true, false]);
    const state = await bed.stored(dm, 'dm');
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.content : 'answer', message.status])).toEqual([
      ['user', 'How do I configure Redis for several replicas?', 'answered'],
      ['assistant', 'answer', undefined],
      ['user', 'Redis를 어떻게 설정하나요?', 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });

  it('answers /ask privately with a plain line while Redis is down, instead of letting Discord say the interaction failed', async () => {
    redis = await startPersistentRedis();
    bed = await createFaultBed({ redisUrl: redis.url });
    const { discord } = bed;
    await redis.stop();
    const ask = slashCommandPayload({ applicationId: discord.applicationId, guildId: discord.guildId, channel: { id: discord.channelId, type: 0 }, user, name: 'ask', question: 'Is anyone there?' });
    discord.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: discord.channelId, guildId: discord.guildId });
    bed.process.injector.interactionCreate(ask);
    const callbackPath = `/interactions/${ask.id}/${ask.token}/callback`;
    await waitFor('the interaction to be answered', () => discord.fake.requests.some((request) => request.path === callbackPath));
    const callback = discord.fake.requests.find((request) => request.path === callbackPath)!;
    expect(callback.status).toBe(204);
    // Type 4: a message right away, flagged ephemeral (64): only the asker sees it.
    expect(callback.body).toMatchObject({ type: 4, data: { content: expect.stringMatching(/cannot reach my conversation memory/), flags: 64 } });
  });
});
