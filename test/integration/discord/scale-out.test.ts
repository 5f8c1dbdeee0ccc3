import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { buttonClickPayload, messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'linus' };

describe('discord with two processes sharing Redis', () => {
  let bed: DiscordTestBed | undefined;
  const engines: TestEngine[] = [];
  let keyPrefix = '';

  afterEach(async () => {
    await bed?.close();
    for (const engine of engines.splice(0)) await engine.close();
    if (keyPrefix) await deleteKeysWithPrefix(requireRedisUrl(), keyPrefix);
  });

  async function twoProcesses(answerer: ReturnType<typeof scriptedAnswerer>) {
    const redisUrl = requireRedisUrl();
    keyPrefix = uniquePrefix('discord');
    for (let index = 0; index < 2; index += 1) engines.push(await createTestEngine({ answerer, redisUrl, keyPrefix }));
    bed = await createDiscordTestBed();
    const first = await bed.startProcess(engines[0]!.engine);
    const second = await bed.startProcess(engines[1]!.engine);
    return { first, second, bed };
  }

  it('answers an interaction delivered to both clients once, and stores one feedback click once', async () => {
    const answerer = scriptedAnswerer([{ text: 'Restart the agent.', citations: [{ after: 'agent.', source: 1 }], sources: [{ docId: 'd1', title: 'Agent runbook', url: 'https://docs.example.com/agent', snippet: '' }] }]);
    const { first, second, bed } = await twoProcesses(answerer);
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'The agent is stuck' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });

    // Both processes hold the same token and shard: the gateway gives each of them the interaction.
    first.injector.interactionCreate(ask);
    second.injector.interactionCreate(ask);
    await waitFor('the answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    await Promise.all([first.adapter.stop(5_000), second.adapter.stop(5_000)].map((stopping) => stopping.catch(() => undefined)));

    const callbacks = bed.fake.requests.filter((request) => request.path.endsWith('/callback'));
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]?.status).toBe(204);
    expect(answerer.requests).toHaveLength(1);
    expect(bed.fake.threads.size).toBe(1);
    expect(bed.fake.requests.filter((request) => request.status >= 400)).toEqual([]);

    // A click on "Helpful", also delivered to both, is stored once under the thread and answer.
    const original = bed.fake.originalResponse(ask.token)!;
    const helpful = (original.components[0] as { components: Array<{ custom_id: string }> }).components[0]!.custom_id;
    const third = await bed.startProcess(engines[0]!.engine);
    const fourth = await bed.startProcess(engines[1]!.engine);
    const click = buttonClickPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channelId: bed.channelId, user, customId: helpful, message: bed.fake.messageObject(original) });
    bed.fake.registerInteraction({ id: click.id, token: click.token, channelId: bed.channelId, guildId: bed.guildId });
    third.injector.interactionCreate(click);
    fourth.injector.interactionCreate(click);
    await waitFor('the feedback acknowledgement', () => bed.fake.requests.some((request) => request.path === `/interactions/${click.id}/${click.token}/callback`));
    await Promise.all([third.adapter.stop(5_000), fourth.adapter.stop(5_000)]);

    const clickCallbacks = bed.fake.requests.filter((request) => request.path === `/interactions/${click.id}/${click.token}/callback`);
    expect(clickCallbacks).toHaveLength(1);
    expect(clickCallbacks[0]?.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const threadKey = `discord:${bed.guildId}:${original.id}`;
    const answerId = (await engines[1]!.backends.store.load(threadKey)).state?.messages.find((message) => message.role === 'assistant')?.answerId;
    expect(helpful).toBe(`feedback:helpful:${original.id}:${answerId}`);
    const stored = await engines[0]!.backends.store.loadFeedback(threadKey, answerId ?? '', user.id);
    expect(stored).toMatchObject({ platform: 'discord', value: 'helpful', userId: user.id, answerId });
  });

  it('answers a thread message delivered to both clients once', async () => {
    const answerer = scriptedAnswerer([{ text: 'First answer.' }, { text: 'Second answer.' }]);
    const { first, second, bed } = await twoProcesses(answerer);
    const mention = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}> hello`, mentions: [{ id: bed.applicationId, username: 'threadline' }] });
    first.injector.messageCreate(mention);
    second.injector.messageCreate(mention);
    await waitFor('the answer', () => bed.fake.channelMessages(mention.id).some((message) => message.components.length > 0));
    await Promise.all([first.adapter.stop(5_000), second.adapter.stop(5_000)]);

    expect(answerer.requests).toHaveLength(1);
    expect(bed.fake.requests.filter((request) => request.path.endsWith('/threads'))).toHaveLength(1);
    expect(bed.fake.channelMessages(mention.id).map((message) => message.content)).toEqual(['First answer.']);
  });
});
