import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { count, denseRuns, expectWellFormed, TRICKY } from './unicode-samples.js';

describe('unusual Unicode through Discord', () => {
  let discord: DiscordTestBed | undefined;
  let engine: TestEngine | undefined;

  afterEach(async () => {
    await discord?.close();
    await engine?.close();
    discord = engine = undefined;
  });

  it('splits and bounds an emoji-dense answer and names a thread after an emoji question without breaking a pair', async () => {
    // Longer than the 16,000 characters Discord may show, so the cut with its note is exercised too.
    const [evenRun, oddRun] = denseRuns(17_000);
    const answerer = scriptedAnswerer((request) => {
      if (request.message.text.includes('🎉')) return { text: 'Noted.' };
      const text = request.message.text.includes('odd') ? oddRun! : evenRun!;
      return { text, deltas: text.match(/[\s\S]{1,4001}/g)! };
    });
    engine = await createTestEngine({ answerer });
    discord = await createDiscordTestBed();
    const bed = discord;
    const { injector } = await bed.startProcess(engine.engine);
    const user = { id: nextSnowflake(), username: 'yuna' };
    const directMessages = { even: nextSnowflake(), odd: nextSnowflake() };
    for (const [phase, channelId] of Object.entries(directMessages)) {
      injector.messageCreate(messagePayload({ channelId, channelType: 1, author: user, content: `${TRICKY} — tell me everything (${phase})` }));
    }
    const asks = ['', 'x'].map((prefix) => {
      const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: `${prefix}${'🎉'.repeat(120)}` });
      bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
      injector.interactionCreate(ask);
      return ask;
    });
    for (const channelId of Object.values(directMessages)) {
      await waitFor('the long answer', () => bed.fake.channelMessages(channelId).some((message) => message.components.length > 0), 15_000);
    }
    for (const ask of asks) await waitFor('the /ask answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);

    expect(answerer.requests.find((request) => request.message.text.includes('(even)'))?.message.text).toBe(`${TRICKY} — tell me everything (even)`);
    expectWellFormed(bed.fake.requests.map((request) => request.body));
    for (const [phase, channelId] of Object.entries(directMessages)) {
      const messages = bed.fake.channelMessages(channelId);
      expect(messages.length).toBeGreaterThanOrEqual(8);
      const delivered = messages.map((message) => message.content).join('');
      const text = phase === 'odd' ? oddRun! : evenRun!;
      expect(count(delivered, '😀')).toBeGreaterThan(count(text, '😀') * 0.9);
      expect(delivered).toContain('was cut');
    }
    const names = [...bed.fake.threads.values()].map((thread) => thread.name);
    expect(names).toHaveLength(2);
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(100);
      expect(name).toMatch(/^x?🎉🎉.*…$/u);
    }
  });
});
