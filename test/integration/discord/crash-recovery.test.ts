import { describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { createDiscordTestBed, waitFor, type DiscordProcess } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

describe('discord turns left unfinished by a process that died', () => {
  it('are finished by another process in the message the dead one had posted, with the bot token', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('discord-crash');
    const hanging = scriptedAnswerer([{ text: 'never finished', delayMs: 60_000 }]);
    const dying = await createTestEngine({ answerer: hanging, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const answerer = scriptedAnswerer([{ text: 'Recovered answer.' }]);
    const survivor = await createTestEngine({ answerer, redisUrl: url, keyPrefix, lockTtlMs: 300 });
    const bed = await createDiscordTestBed();
    try {
      const doomedProcess = await bed.startProcess(dying.engine);
      const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user: { id: nextSnowflake(), username: 'ken' }, name: 'ask', question: 'Why is the build red?' });
      bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
      doomedProcess.injector.interactionCreate(ask);
      await waitFor('the answerer to be called', () => hanging.requests.length === 1);
      const original = bed.fake.originalResponse(ask.token)!;
      const threadKey = `discord:${bed.guildId}:${original.id}`;
      await expect.poll(async () => (await dying.backends.store.load(threadKey)).state?.inFlight?.replyHandle).toEqual({
        conversationChannelId: original.id,
        firstChannelId: bed.channelId,
        firstMessageId: original.id,
      });
      // The process dies: its Redis connection is gone and its lock is never released.
      dying.backends.redis!.destroy();

      await bed.startProcess(survivor.engine, { recoverySweepMs: 100 });
      await waitFor('the recovered answer', () => original.content === 'Recovered answer.' && original.components.length > 0);
      const finalEdit = bed.fake.requests.find((request) => request.method === 'PATCH' && request.path === `/channels/${bed.channelId}/messages/${original.id}`);
      expect(finalEdit?.auth).toBe('bot');
      expect(answerer.requests[0]?.message.text).toBe('Why is the build red?');
      // Cleared right after the post (the answer stays recorded as in flight until it is on Discord).
      await expect.poll(async () => (await survivor.backends.store.load(threadKey)).state?.inFlight).toBeUndefined();
    } finally {
      await dying.engine.close(100).catch(() => {});
      await bed.close();
      await survivor.close();
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });

  it('answer a DM that was waiting behind the dead process\'s turn after that turn, in the DM, though nothing of it had been posted', async () => {
    const url = requireRedisUrl();
    const keyPrefix = uniquePrefix('discord-crash-queued');
    // The waiting message's lease follows the waiter's expiry: short here, so recovery comes within a second.
    const tuning = { redisUrl: url, keyPrefix, lockTtlMs: 300, waiterTtlMs: 600 };
    const hanging = scriptedAnswerer([{ text: 'never finished', delayMs: 60_000 }]);
    const dying = await createTestEngine({ answerer: hanging, ...tuning });
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const survivor = await createTestEngine({ answerer, ...tuning });
    const bed = await createDiscordTestBed();
    const dm = nextSnowflake();
    const user = { id: nextSnowflake(), username: 'barbara' };
    const threadKey = `discord:dm:${dm}`;
    let doomedProcess: DiscordProcess | undefined;
    try {
      doomedProcess = await bed.startProcess(dying.engine);
      doomedProcess.injector.messageCreate(messagePayload({ channelId: dm, channelType: 1, author: user, content: 'Why is the build red?' }));
      await waitFor('the answerer to be called', () => hanging.requests.length === 1);
      // In a DM the waiting message shows only "typing…": no message to finish, so the answer is a new post.
      doomedProcess.injector.messageCreate(messagePayload({ channelId: dm, channelType: 1, author: user, content: 'Is it the flaky test again?' }));
      await expect.poll(async () => (await dying.backends.coordinator.listPending(threadKey)).length).toBe(1);
      expect(bed.fake.channelMessages(dm)).toEqual([]);
      // The process dies: its Redis connection is gone, no lock or record is released, and nothing more it
      // sends is accepted (a live process that merely lost Redis would tell the waiting user it failed).
      doomedProcess.adapter.client.rest.setToken('token-of-a-dead-process');
      dying.backends.redis!.destroy();

      await bed.startProcess(survivor.engine, { recoverySweepMs: 100 });
      await waitFor('both answers', () => bed.fake.channelMessages(dm).filter((message) => message.components.length > 0).length === 2);
      expect(bed.fake.channelMessages(dm).map((message) => message.content.split('\n')[0])).toEqual(['Answer to: Why is the build red?', 'Answer to: Is it the flaky test again?']);
      expect(answerer.requests.map((request) => request.message.text)).toEqual(['Why is the build red?', 'Is it the flaky test again?']);
      await expect.poll(() => survivor.backends.coordinator.listInFlight()).toEqual([]);
      expect(await survivor.backends.coordinator.listPending(threadKey)).toEqual([]);
    } finally {
      await dying.engine.close(100).catch(() => {});
      // What the dead process still holds (its failed reply to Discord) is not worth waiting for.
      await doomedProcess?.adapter.stop(100);
      await bed.close();
      await survivor.close();
      await deleteKeysWithPrefix(url, keyPrefix);
    }
  });
});
