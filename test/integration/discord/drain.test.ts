import type { KeyObject } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/engine/answerer.js';
import { RESTARTING_TEXT } from '../../../adapters/discord/interaction-handler.js';
import { scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { sendInteraction, signInteraction, startInteractionsEndpoint, type InteractionsEndpoint } from '../../support/discord-http-interactions.js';
import { waitFor, type DiscordProcess, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import type { FakeMessage } from '../../fakes/discord/fake-discord-server.js';
import { buttonClickPayload, messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'dorothy' };
/** Discord's flag on a deferred response that still shows "thinking…". */
const LOADING_FLAG = 128;

/** Answers at once, except questions containing "slow", which wait until the test opens the gate. */
function gatedAnswerer(): Answerer & { requests: { message: { text: string } }[]; open: () => void } {
  const inner = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
  const requests: { message: { text: string } }[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    reservedTokens: 0,
    requests,
    open,
    async answer(request) {
      requests.push(request);
      if (request.message.text.includes('slow')) await gate;
      return inner.answer(request);
    },
  };
}

const answered = (messages: FakeMessage[]) => messages.filter((message) => message.components.length > 0);

describe('discord while the process drains (SIGTERM)', () => {
  let served: InteractionsEndpoint;
  let bed: DiscordTestBed;
  let testEngine: TestEngine;
  let answerer: ReturnType<typeof gatedAnswerer>;
  let process: DiscordProcess;
  let endpoint: string;
  let privateKey: KeyObject;

  beforeEach(async () => {
    answerer = gatedAnswerer();
    served = await startInteractionsEndpoint(answerer);
    ({ bed, testEngine, process, url: endpoint, privateKey } = served);
  });
  afterEach(async () => {
    answerer.open();
    await served.close();
  });

  /** A conversation thread the bot holds, started by a mention and answered. */
  async function conversationThread(): Promise<string> {
    const mention = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}> first question`, mentions: [{ id: bed.applicationId, username: 'threadline' }] });
    process.injector.messageCreate(mention);
    await waitFor('the first answer', () => answered(bed.fake.channelMessages(mention.id)).length === 1);
    return mention.id;
  }

  it('answers an /ask and a thread message that arrive during the drain, and only then disconnects', async () => {
    const thread = await conversationThread();
    const directMessages = nextSnowflake();
    process.injector.messageCreate(messagePayload({ channelId: directMessages, channelType: 1, author: user, content: 'a slow question' }));
    await waitFor('the slow turn to reach the model', () => answerer.requests.some((request) => request.message.text === 'a slow question'));

    let stopped = false;
    const stopping = process.adapter.stop(30_000).then(() => (stopped = true));
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'asked during the drain' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    process.injector.interactionCreate(ask);
    process.injector.messageCreate(messagePayload({ guildId: bed.guildId, channelId: thread, channelType: 11, author: user, content: 'follow-up during the drain' }));

    await waitFor('the /ask answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    await waitFor('the follow-up answer', () => answered(bed.fake.channelMessages(thread)).length === 2);
    expect(bed.fake.originalResponse(ask.token)?.content).toBe('Answer to: asked during the drain');
    expect(answered(bed.fake.channelMessages(thread)).at(-1)?.content).toBe('Answer to: follow-up during the drain');
    // The turn that was running when the drain began still holds the adapter open.
    expect(stopped).toBe(false);

    answerer.open();
    await stopping;
    expect(answered(bed.fake.channelMessages(directMessages)).map((message) => message.content)).toEqual(['Answer to: a slow question']);
    expect([...bed.fake.messages.values()].filter((message) => (message.flags & LOADING_FLAG) !== 0)).toEqual([]);
  });

  it('after the drain, tells interactions privately and at once that it is restarting, starting nothing', async () => {
    const thread = await conversationThread();
    const answer = answered(bed.fake.channelMessages(thread))[0]!;
    await process.adapter.stop(5_000);
    const requestsBefore = bed.fake.requests.length;

    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'asked after the drain' });
    const click = buttonClickPayload({
      applicationId: bed.applicationId,
      guildId: bed.guildId,
      channelId: thread,
      channelType: 11,
      parentId: bed.channelId,
      user,
      customId: (answer.components as Array<{ components: Array<{ custom_id: string }> }>)[0]!.components[0]!.custom_id,
      message: bed.fake.messageObject(answer),
    });
    for (const interaction of [ask, click]) {
      const { status, json } = await sendInteraction(endpoint, signInteraction(interaction, privateKey));
      expect({ status, json }).toEqual({
        status: 200,
        json: { type: 4, data: { content: RESTARTING_TEXT, flags: 64, allowed_mentions: { parse: [], replied_user: false } } },
      });
    }
    expect(RESTARTING_TEXT).toMatch(/restarting.*again in a moment/);
    expect(answerer.requests.map((request) => request.message.text)).toEqual(['first question']);
    expect(bed.fake.requests.slice(requestsBefore)).toEqual([]);
  });

  it('lets a turn that outlives the drain deadline post its answer with the bot token afterwards', async () => {
    const thread = await conversationThread();
    process.injector.messageCreate(messagePayload({ guildId: bed.guildId, channelId: thread, channelType: 11, author: user, content: 'a slow follow-up' }));
    await waitFor('the slow turn to reach the model', () => answerer.requests.some((request) => request.message.text === 'a slow follow-up'));

    // The adapter gives up waiting; the engine's own close would keep waiting for the turn.
    await process.adapter.stop(50);
    answerer.open();

    await waitFor('the late answer', () => answered(bed.fake.channelMessages(thread)).length === 2);
    expect(answered(bed.fake.channelMessages(thread)).at(-1)?.content).toBe('Answer to: a slow follow-up');
    const lateCreates = bed.fake.requests.filter((request) => request.method === 'POST' && request.path === `/channels/${thread}/messages`).slice(1);
    expect(lateCreates.map((request) => `${request.auth} ${request.status}`)).toEqual(['bot 200']);
  });

  it('when the engine already refuses new turns, an /ask and a thread message are told it is restarting, with no "thinking…" left', async () => {
    const thread = await conversationThread();
    await testEngine.engine.close(1_000);

    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: thread, type: 11, parentId: bed.channelId }, user, name: 'ask', question: 'asked while closing' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: thread, guildId: bed.guildId });
    process.injector.interactionCreate(ask);
    const followUp = messagePayload({ guildId: bed.guildId, channelId: thread, channelType: 11, author: user, content: 'follow-up while closing' });
    process.injector.messageCreate(followUp);

    await waitFor('the notice in the /ask reply', () => bed.fake.originalResponse(ask.token)?.content.includes('restarting') ?? false);
    await waitFor('the notice under the follow-up', () => bed.fake.channelMessages(thread).some((message) => message.message_reference?.message_id === followUp.id));
    expect(bed.fake.originalResponse(ask.token)?.content).toBe(`⚠️ ${RESTARTING_TEXT}`);
    expect((bed.fake.originalResponse(ask.token)!.flags & LOADING_FLAG) !== 0).toBe(false);
    expect(bed.fake.channelMessages(thread).find((message) => message.message_reference?.message_id === followUp.id)?.content).toBe(`⚠️ ${RESTARTING_TEXT}`);
    expect(answerer.requests.map((request) => request.message.text)).toEqual(['first question']);
  });
});
