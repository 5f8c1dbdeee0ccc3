import { REST } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { DiscordRest } from '../../../adapters/discord/discord-rest.js';
import { DiscordReplySink, INTERACTION_TOKEN_LIFETIME_MS } from '../../../adapters/discord/reply-sink.js';
import { FakeDiscordServer } from '../../fakes/discord/fake-discord-server.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const TOKEN = 'sink-test-bot-token-0123456789';

describe('DiscordReplySink against the fake Discord REST API', () => {
  let fake: FakeDiscordServer;
  let rest: DiscordRest;
  const applicationId = nextSnowflake();

  beforeEach(async () => {
    fake = new FakeDiscordServer(applicationId, TOKEN);
    const api = await fake.start();
    rest = new DiscordRest(new REST({ api }).setToken(TOKEN), applicationId);
  });
  afterEach(async () => {
    await fake.stop();
  });

  function deferredInteraction(channelId: string) {
    const interaction = { id: nextSnowflake(), token: `token-${nextSnowflake()}`, channelId };
    fake.registerInteraction(interaction);
    fake.acknowledgeFromHttpResponse(interaction.token, { type: 5 });
    return interaction;
  }

  it('batches a burst of text deltas into a few edits instead of one per delta', async () => {
    const channel = nextSnowflake();
    const interaction = deferredInteraction(channel);
    const sink = new DiscordReplySink({ rest, conversationChannelId: channel, interaction: { token: interaction.token, receivedAt: Date.now() }, logger: silentLogger(), editIntervalMs: 1_000 });
    for (let index = 0; index < 200; index += 1) await sink.emit({ type: 'text-delta', text: `w${index} ` });
    await sink.emit({ type: 'answer-completed', answer: { id: 'a', parts: [{ type: 'text', text: 'final words' }], sources: [], mode: 'chat', notices: [] } });

    const edits = fake.requests.filter((request) => request.method === 'PATCH');
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeLessThanOrEqual(3);
    expect(fake.originalResponse(interaction.token)?.content).toBe('final words');
  });

  it('hands over from the interaction token to thread messages before the token expires', async () => {
    const thread = nextSnowflake();
    const interaction = deferredInteraction(nextSnowflake());
    const receivedAt = Date.now() - (INTERACTION_TOKEN_LIFETIME_MS - 60_000);
    const sink = new DiscordReplySink({ rest, conversationChannelId: thread, interaction: { token: interaction.token, receivedAt }, logger: silentLogger() });
    await sink.emit({ type: 'text-delta', text: 'partial…' });
    await sink.emit({ type: 'answer-completed', answer: { id: 'late', parts: [{ type: 'text', text: 'The complete late answer.' }], sources: [], mode: 'chat', notices: [] } });

    expect(fake.originalResponse(interaction.token)?.content).toBe('-# This answer continues in the messages below.');
    const [posted] = fake.channelMessages(thread);
    expect(posted?.content).toBe('The complete late answer.');
    expect(posted?.components).toHaveLength(1);
    const webhookCalls = fake.requests.filter((request) => request.path.startsWith('/webhooks/'));
    expect(webhookCalls).toHaveLength(1);
  });

  it('replaces streamed text with one friendly line when the turn fails', async () => {
    const channel = nextSnowflake();
    const sink = new DiscordReplySink({ rest, conversationChannelId: channel, logger: silentLogger(), editIntervalMs: 0 });
    await sink.emit({ type: 'text-delta', text: `${'a'.repeat(1_900)}\n\n${'b'.repeat(1_900)}` });
    await waitUntil(() => fake.channelMessages(channel).length === 2);
    await sink.emit({ type: 'turn-failed', code: 'model_timeout', userMessage: 'The model took too long. @everyone' });

    const messages = fake.channelMessages(channel);
    expect(messages.map((message) => message.content)).toEqual(['⚠️ The model took too long. @\u200beveryone']);
    expect(fake.requests.some((request) => request.method === 'DELETE')).toBe(true);
  });

  describe('handoff to a person', () => {
    const agent = nextSnowflake();
    const supportRole = nextSnowflake();
    const bystander = nextSnowflake();
    const handoff = (contacts: string[]) => ({
      type: 'handoff-requested' as const,
      contacts,
      summary: `Order ORD-88412 @everyone\nLatest from the user:\n- ask <@${bystander}> **now**`,
      text: 'I have asked a person to take over this conversation.',
    });

    it('posts one new message that pings exactly the contact user and role, with the summary defused', async () => {
      const thread = nextSnowflake();
      const sink = new DiscordReplySink({ rest, conversationChannelId: thread, logger: silentLogger() });
      await sink.emit(handoff([agent, `&${supportRole}`, 'not-an-id', `&${supportRole}`]));

      const [posted] = fake.channelMessages(thread);
      expect(fake.channelMessages(thread)).toHaveLength(1);
      expect(posted!.content.startsWith(`<@${agent}> <@&${supportRole}> A person is needed in this conversation.`)).toBe(true);
      expect(posted!.content).toContain('> Order ORD-88412 @\u200beveryone');
      expect(posted!.content).toContain(`<@\u200b${bystander}>`);
      expect(posted!.content).toContain('\\*\\*now\\*\\*');
      expect(posted!.content.endsWith('I have asked a person to take over this conversation.')).toBe(true);
      const body = fake.requests.find((request) => request.method === 'POST' && request.path === `/channels/${thread}/messages`)!.body as Record<string, unknown>;
      expect(body.allowed_mentions).toEqual({ users: [agent], roles: [supportRole], replied_user: false });
      expect(fake.pings).toEqual([{ messageId: posted!.id, everyone: false, users: [agent], roles: [supportRole] }]);
    });

    it('turns a slash command reply into a pointer and posts the handoff anew, since edits never ping', async () => {
      const channel = nextSnowflake();
      const interaction = deferredInteraction(channel);
      const sink = new DiscordReplySink({ rest, conversationChannelId: channel, interaction: { token: interaction.token, receivedAt: Date.now() }, logger: silentLogger() });
      await sink.emit({ type: 'status-changed', status: 'thinking', text: 'Thinking…' });
      await sink.emit(handoff([agent]));

      expect(fake.originalResponse(interaction.token)?.content).toBe('-# A person was asked to take over this conversation.');
      const messages = fake.channelMessages(channel);
      expect(messages).toHaveLength(2);
      expect(messages[1]!.content.startsWith(`<@${agent}> `)).toBe(true);
      expect(fake.pings.map((ping) => ping.users)).toEqual([[agent]]);
    });

    it('keeps a long summary inside one 2,000-character message', async () => {
      const thread = nextSnowflake();
      const sink = new DiscordReplySink({ rest, conversationChannelId: thread, logger: silentLogger() });
      await sink.emit({ ...handoff([agent]), summary: '*'.repeat(5_000) });
      const [posted] = fake.channelMessages(thread);
      expect(posted!.content.length).toBeLessThanOrEqual(2_000);
      expect(posted!.content.endsWith('I have asked a person to take over this conversation.')).toBe(true);
    });
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
