import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordProcess, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'barbara' };

describe('discord conversations without slash commands', () => {
  let bed: DiscordTestBed;
  let testEngine: TestEngine;
  let process: DiscordProcess;
  const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));

  beforeEach(async () => {
    answerer.requests.length = 0;
    testEngine = await createTestEngine({ answerer });
    bed = await createDiscordTestBed();
    process = await bed.startProcess(testEngine.engine);
  });
  afterEach(async () => {
    await bed.close();
    await testEngine.close();
  });

  it('answers direct messages in the DM channel, quoting the question, and keeps the DM history', async () => {
    const dm = nextSnowflake();
    const first = messagePayload({ channelId: dm, channelType: 1, author: user, content: 'What are your hours?' });
    process.injector.messageCreate(first);
    await waitFor('the first DM answer', () => bed.fake.channelMessages(dm).length === 1 && bed.fake.channelMessages(dm)[0]!.components.length > 0);
    process.injector.messageCreate(messagePayload({ channelId: dm, channelType: 1, author: user, content: 'And on weekends?' }));
    await waitFor('the second DM answer', () => bed.fake.channelMessages(dm).filter((message) => message.components.length > 0).length === 2);

    expect(bed.fake.channelMessages(dm).map((message) => message.content)).toEqual(['Answer to: What are your hours?', 'Answer to: And on weekends?']);
    expect(bed.fake.channelMessages(dm)[0]?.message_reference).toEqual({ message_id: first.id });
    expect(answerer.requests[1]?.message.threadKey).toBe(`discord:dm:${dm}`);
    expect(answerer.requests[1]?.history).toHaveLength(3);
  });

  it('ignores its own messages, other bots, and un-mentioned messages outside its threads', async () => {
    const bot = { id: nextSnowflake(), username: 'otherbot', bot: true };
    process.injector.messageCreate(messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: bot, content: `<@${bed.applicationId}> ping`, mentions: [{ id: bed.applicationId, username: 'threadline' }] }));
    process.injector.messageCreate(messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: { id: bed.applicationId, username: 'threadline', bot: true }, content: 'my own words' }));
    process.injector.messageCreate(messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: 'just chatting with people' }));
    // A DM proves the handler is alive and ran after the three messages above.
    const dm = nextSnowflake();
    process.injector.messageCreate(messagePayload({ channelId: dm, channelType: 1, author: user, content: 'hello' }));
    await waitFor('the DM answer', () => bed.fake.channelMessages(dm).some((message) => message.components.length > 0));

    expect(answerer.requests.map((request) => request.message.text)).toEqual(['hello']);
    expect(bed.fake.channelMessages(bed.channelId)).toEqual([]);
  });

  it('continues a bot thread with /ask inside it, and /reset starts that thread over', async () => {
    const mention = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}> first question`, mentions: [{ id: bed.applicationId, username: 'threadline' }] });
    process.injector.messageCreate(mention);
    await waitFor('the thread answer', () => bed.fake.channelMessages(mention.id).some((message) => message.components.length > 0));
    const thread = { id: mention.id, type: 11, parentId: bed.channelId };

    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: thread, user, name: 'ask', question: 'second question' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: thread.id, guildId: bed.guildId });
    process.injector.interactionCreate(ask);
    await waitFor('the /ask answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    expect(bed.fake.originalResponse(ask.token)?.content).toBe('Answer to: second question');
    expect(bed.fake.threads.size).toBe(1);
    expect(answerer.requests[1]?.history.map((message) => message.content)).toEqual(['first question', 'Answer to: first question', 'second question']);
    expect(answerer.requests[1]?.message.scope).toEqual({ workspaceId: bed.guildId, channelId: bed.channelId });

    const reset = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: thread, user, name: 'reset' });
    bed.fake.registerInteraction({ id: reset.id, token: reset.token, channelId: thread.id, guildId: bed.guildId });
    process.injector.interactionCreate(reset);
    await waitFor('the reset confirmation', () => bed.fake.originalResponse(reset.token)?.content.startsWith('Done') ?? false);
    expect(bed.fake.requests.find((request) => request.path === `/interactions/${reset.id}/${reset.token}/callback`)?.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(await testEngine.engine.hasThread(`discord:${bed.guildId}:${thread.id}`)).toBe(false);
  });

  it('answers /help privately and explains /reset outside a conversation', async () => {
    const help = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'help' });
    const reset = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'reset' });
    for (const interaction of [help, reset]) {
      bed.fake.registerInteraction({ id: interaction.id, token: interaction.token, channelId: bed.channelId, guildId: bed.guildId });
      process.injector.interactionCreate(interaction);
    }
    await waitFor('both replies', () => bed.fake.requests.filter((request) => request.path.endsWith('/callback')).length === 2);
    const bodies = bed.fake.requests.filter((request) => request.path.endsWith('/callback')).map((request) => request.body as { type: number; data: { content: string; flags: number } });
    expect(bodies.every((body) => body.type === 4 && body.data.flags === 64)).toBe(true);
    const contents = bodies.map((body) => body.data.content).join('\n');
    expect(contents).toContain('/ask question:<text>');
    expect(contents).toContain('Use `/reset` inside a conversation thread');
    // discord.js applies the client-wide allowed mentions to these replies too.
    expect(bodies.every((body) => JSON.stringify((body.data as { allowed_mentions?: unknown }).allowed_mentions) === '{"parse":[],"replied_user":false}')).toBe(true);
  });
});
