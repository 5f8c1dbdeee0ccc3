import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'ada' };
const resetGuide = { docId: 'doc-reset', title: 'Password reset guide', url: 'https://docs.example.com/reset', snippet: 'Open Settings' };
const tokenDoc = { docId: 'doc-tokens', title: 'Token lifetime', url: 'https://docs.example.com/tokens', snippet: 'Tokens expire' };

describe('discord /ask over the gateway', () => {
  let bed: DiscordTestBed;
  let testEngine: TestEngine;

  beforeEach(async () => {
    bed = await createDiscordTestBed();
  });
  afterEach(async () => {
    await bed.close();
    await testEngine?.close();
  });

  it('defers first, then ends with one complete cited answer in a new thread, and answers a follow-up with the earlier turns', async () => {
    const answerer = scriptedAnswerer([
      { text: 'Open Settings and choose Reset password.', citations: [{ after: 'Reset password.', source: 1 }], sources: [resetGuide], deltas: ['Open Settings ', 'and choose Reset password.'] },
      { text: 'Reset links expire after one day.', citations: [{ after: 'one day.', source: 1 }], sources: [tokenDoc] },
    ]);
    testEngine = await createTestEngine({ answerer });
    const { injector } = await bed.startProcess(testEngine.engine);
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'How do I reset my password?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });

    injector.interactionCreate(ask);
    await waitFor('the final answer with buttons', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);

    // The very first request acknowledges the interaction (deferred, non-ephemeral) without the bot token.
    const first = bed.fake.requests[0];
    expect(first).toMatchObject({ method: 'POST', path: `/interactions/${ask.id}/${ask.token}/callback`, auth: 'none', status: 204 });
    expect(first?.body).toEqual({ type: 5, data: { flags: 0 } });

    const original = bed.fake.originalResponse(ask.token);
    expect(original?.content).toBe(
      'Open Settings and choose Reset password.[1]\n\n**Sources**\n[1] [Password reset guide](<https://docs.example.com/reset>)',
    );
    const thread = bed.fake.threads.get(original?.id ?? '');
    expect(thread).toMatchObject({ parentId: bed.channelId, name: 'How do I reset my password?' });
    const buttons = (original?.components[0] as { components: Array<{ custom_id: string }> }).components.map((button) => button.custom_id);
    expect(buttons).toEqual([
      expect.stringMatching(new RegExp(`^feedback:helpful:${thread?.id}:`)),
      expect.stringMatching(/^feedback:not-helpful:/),
      expect.stringMatching(new RegExp(`^handoff:${thread?.id}:`)),
    ]);
    // Everything after the acknowledgement went to the interaction webhook or the thread; nothing else.
    const paths = bed.fake.requests.map((request) => `${request.method} ${request.path}`);
    expect(paths.filter((path) => path.includes('/webhooks/')).every((path) => path.endsWith('/messages/@original'))).toBe(true);
    expect(bed.fake.channelMessages(thread?.id ?? '')).toEqual([]);

    const state = await testEngine.backends.store.load(`discord:${bed.guildId}:${thread?.id}`);
    expect(state.state?.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'How do I reset my password?'],
      ['assistant', 'Open Settings and choose Reset password.[1]'],
    ]);

    // A plain message in the bot's thread (no mention, no command) continues the conversation.
    const followUp = messagePayload({ guildId: bed.guildId, channelId: thread?.id ?? '', channelType: 11, author: user, content: 'How long is the link valid?' });
    injector.messageCreate(followUp);
    await waitFor('the follow-up answer', () => bed.fake.channelMessages(thread?.id ?? '').some((message) => message.components.length > 0));

    const [reply] = bed.fake.channelMessages(thread?.id ?? '');
    expect(reply?.content).toBe('Reset links expire after one day.[1]\n\n**Sources**\n[1] [Token lifetime](<https://docs.example.com/tokens>)');
    expect(reply?.message_reference).toEqual({ message_id: followUp.id });
    expect(answerer.requests[1]?.history.map((message) => [message.role, message.content])).toEqual([
      ['user', 'How do I reset my password?'],
      ['assistant', 'Open Settings and choose Reset password.[1]'],
      ['user', 'How long is the link valid?'],
    ]);
  });
});
