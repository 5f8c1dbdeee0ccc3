import { afterEach, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/engine/answerer.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import type { FakeMessage } from '../../fakes/discord/fake-discord-server.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'grace' };

/** About 5,000 characters: prose paragraphs around a code block that alone is longer than one message. */
function longAnswerText(): string {
  const paragraph = (index: number) => `Paragraph ${index}: ${'the deployment guide explains each step in detail. '.repeat(6)}`.trim();
  const code = ['```ts', ...Array.from({ length: 60 }, (_, index) => `await deployStep(${index}, { retries: 3, verbose: true });`), '```'].join('\n');
  return [paragraph(1), paragraph(2), paragraph(3), code, paragraph(4), paragraph(5), paragraph(6)].join('\n\n');
}

function fenceCount(content: string): number {
  return content.split('\n').filter((line) => line.startsWith('```')).length;
}

describe('discord long answers, mentions and rate limits', () => {
  let bed: DiscordTestBed | undefined;
  let testEngine: TestEngine | undefined;

  afterEach(async () => {
    await bed?.close();
    await testEngine?.close();
  });

  it('posts each part once even when Discord posted it but the response was lost and the post is retried', async () => {
    const text = longAnswerText();
    testEngine = await createTestEngine({ answerer: scriptedAnswerer([{ text }]) });
    bed = await createDiscordTestBed();
    const { injector } = await bed.startProcess(testEngine.engine);
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'How do I deploy?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    // The first follow-up part is created, but its response is lost twice: the client retries the same post.
    bed.fake.loseCreateResponses(2);
    injector.interactionCreate(ask);
    const fake = bed.fake;
    const visible = (): FakeMessage[] => {
      const original = fake.originalResponse(ask.token);
      return original ? [original, ...fake.channelMessages(original.id)] : [];
    };
    await waitFor('the last part with buttons', () => visible().some((message) => message.components.length > 0), 20_000);
    const creates = fake.requests.filter((request) => request.method === 'POST' && /^\/channels\/\d+\/messages$/.test(request.path));
    expect(creates.filter((request) => request.status === 502).length).toBe(2);
    // Every part appears once: the retried posts carried the same nonce.
    const contents = visible().map((message) => message.content);
    expect(new Set(contents).size).toBe(contents.length);
    const rejoined = contents.join('\n');
    expect(rejoined.split('\n').filter((line) => line.startsWith('await deployStep('))).toHaveLength(60);
  });

  it('delivers a 5,000-character answer complete across messages with code fences intact', async () => {
    const text = longAnswerText();
    expect(text.length).toBeGreaterThan(4_500);
    testEngine = await createTestEngine({ answerer: scriptedAnswerer([{ text, deltas: text.match(/[\s\S]{1,250}/g) ?? [] }]) });
    bed = await createDiscordTestBed();
    const { injector } = await bed.startProcess(testEngine.engine);
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'How do I deploy?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    injector.interactionCreate(ask);
    const fake = bed.fake;
    const visible = (): FakeMessage[] => {
      const original = fake.originalResponse(ask.token);
      return original ? [original, ...fake.channelMessages(original.id)] : [];
    };
    await waitFor('the last part with buttons', () => visible().some((message) => message.components.length > 0));

    const messages = visible();
    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const message of messages) {
      expect(message.content.length).toBeLessThanOrEqual(2_000);
      expect(fenceCount(message.content) % 2).toBe(0);
    }
    // Only the last message carries the feedback buttons.
    expect(messages.map((message) => message.components.length > 0)).toEqual(messages.map((_, index) => index === messages.length - 1));
    // Re-joining the parts (dropping the fence lines added at cuts) gives back every line of the answer.
    const rejoined = messages.map((message) => message.content).join('\n');
    for (const line of text.split('\n').filter((line) => line.trim().length > 0)) expect(rejoined).toContain(line);
    const codeLines = rejoined.split('\n').filter((line) => line.startsWith('await deployStep('));
    expect(codeLines).toHaveLength(60);
    // No request Discord refused (an over-long message would have been a 400).
    expect(fake.requests.filter((request) => request.status >= 400)).toEqual([]);
  });

  it('lets a model answer with @everyone, @here and user mentions ping nobody', async () => {
    const text = '@everyone the outage is over. @here please retry, and <@123456789012345678> owns the fix.';
    testEngine = await createTestEngine({ answerer: scriptedAnswerer([{ text, deltas: [text] }]) });
    bed = await createDiscordTestBed();
    const { injector } = await bed.startProcess(testEngine.engine);
    const mention = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}> is it fixed?`, mentions: [{ id: bed.applicationId, username: 'threadline' }] });
    injector.messageCreate(mention);
    const fake = bed.fake;
    await waitFor('the answer in the new thread', () => fake.channelMessages(mention.id).some((message) => message.components.length > 0));

    // A mention in a channel starts a thread on the user's message (the thread takes its id).
    expect(fake.threads.get(mention.id)).toMatchObject({ parentId: bed.channelId, name: 'is it fixed?' });
    const [answer] = fake.channelMessages(mention.id);
    expect(answer?.content.replace(/\u200b/g, '')).toContain(text);
    expect(fake.pings).toEqual([]);
    const writes = fake.requests.filter((request) => (request.method === 'POST' || request.method === 'PATCH') && /\/messages(\/[^/]+)?$/.test(request.path));
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) expect((write.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [], replied_user: false });
  });

  it('waits out a 429 on an edit and still delivers every streamed character', async () => {
    const text = Array.from({ length: 40 }, (_, index) => `Sentence ${index} of a streamed answer.`).join(' ');
    const streaming: Answerer = {
      reservedTokens: 0,
      async answer(request) {
        for (const piece of text.match(/[\s\S]{1,60}/g) ?? []) {
          await request.progress({ type: 'text-delta', text: piece });
          await new Promise((resolve) => setTimeout(resolve, 15));
        }
        return { id: 'answer-429', parts: [{ type: 'text', text }], sources: [], mode: 'chat', notices: [] };
      },
    };
    testEngine = await createTestEngine({ answerer: streaming });
    bed = await createDiscordTestBed();
    const { injector, metrics } = await bed.startProcess(testEngine.engine);
    const fake = bed.fake;
    const direct = nextSnowflake();
    // The first edit of the streamed reply is refused with Retry-After: 0.6 s.
    fake.rateLimit('PATCH', new RegExp(`^/channels/${direct}/messages/`), 0.6);
    injector.messageCreate(messagePayload({ channelId: direct, channelType: 1, author: user, content: 'Tell me everything.' }));
    await waitFor('the final answer', () => fake.channelMessages(direct).some((message) => message.components.length > 0));

    const edits = fake.requests.filter((request) => request.method === 'PATCH' && request.path.startsWith(`/channels/${direct}/`));
    const limited = edits.findIndex((request) => request.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const retried = edits[limited + 1];
    expect(retried?.status).toBe(200);
    // Honoured: the retry did not come before the delay Discord asked for.
    expect((retried?.at ?? 0) - (edits[limited]?.at ?? 0)).toBeGreaterThanOrEqual(600);
    const [message] = fake.channelMessages(direct);
    expect(message?.content).toBe(text);
    expect(await metrics.registry.getSingleMetricAsString('threadline_rate_limit_waits_total')).toContain('upstream="discord"} 1');
  });
});
