import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';

/** Mentions with nothing to answer: bare, padded with spaces, or with only invisible characters. */
const EMPTY_AFTER_MENTION = ['', '   ', ' \u200B\u200C\u200D\u2060\uFEFF ', '\n\t'];

describe('a mention with nothing after it', () => {
  let slack: SlackHarness | undefined;
  let discord: DiscordTestBed | undefined;
  let engine: TestEngine | undefined;

  afterEach(async () => {
    await slack?.close();
    await discord?.close();
    await engine?.close();
    slack = discord = engine = undefined;
  });

  it('Slack: gets one hint in its thread, never reaches the model and leaves no conversation behind', async () => {
    const answerer = scriptedAnswerer([{ text: 'should never be sent' }]);
    slack = await startSlackHarness({ answerer });
    const timestamps = EMPTY_AFTER_MENTION.map((_, index) => `1763720000.00010${index}`);
    for (const [index, rest] of EMPTY_AFTER_MENTION.entries()) {
      const envelope = envelopeFrom('app-mention', { text: `<@${SLACK_IDS.botUserId}>${rest}`, ts: timestamps[index]!, eventId: `Ev0EMPTY000${index}` });
      expect((await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelope)).status).toBe(200);
    }
    const reports = await slack.waitForReports(EMPTY_AFTER_MENTION.length);

    expect(reports.map((report) => `${report.result}:${report.reason}`)).toEqual(EMPTY_AFTER_MENTION.map(() => 'failed:empty_message'));
    expect(answerer.requests).toEqual([]);
    for (const ts of timestamps) {
      const thread = slack.fake.store.threadReplies(SLACK_IDS.channel, ts);
      expect(thread.map((message) => message.text)).toEqual([expect.stringContaining('Ask me a question after the mention')]);
      expect(await slack.engine.engine.hasThread(`slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${ts}`)).toBe(false);
    }
  });

  it('Discord: a bare mention is left alone and one with only invisible characters gets a hint, neither reaching the model', async () => {
    const answerer = scriptedAnswerer([{ text: 'should never be sent' }]);
    engine = await createTestEngine({ answerer });
    discord = await createDiscordTestBed();
    const bed = discord;
    const { injector } = await bed.startProcess(engine.engine);
    const user = { id: nextSnowflake(), username: 'quiet' };
    const mentions = EMPTY_AFTER_MENTION.map((rest) =>
      messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}>${rest}`, mentions: [{ id: bed.applicationId, username: 'threadline' }] }),
    );
    for (const mention of mentions) injector.messageCreate(mention);
    // A direct message afterwards proves the handler ran past the mentions.
    const directMessages = nextSnowflake();
    injector.messageCreate(messagePayload({ channelId: directMessages, channelType: 1, author: user, content: '\u200B' }));
    await waitFor('the hint in the direct messages', () => bed.fake.channelMessages(directMessages).length > 0);
    const invisible = mentions[2]!;
    await waitFor('the hint in the invisible mention thread', () => bed.fake.channelMessages(invisible.id).length > 0);

    expect(answerer.requests).toEqual([]);
    expect(bed.fake.channelMessages(directMessages).map((message) => message.content)).toEqual([expect.stringContaining('Ask me a question')]);
    expect(bed.fake.channelMessages(invisible.id).map((message) => message.content)).toEqual([expect.stringContaining('Ask me a question')]);
    // Mentions that are empty once the mention is gone are not questions: no thread, no message.
    for (const mention of [mentions[0]!, mentions[1]!, mentions[3]!]) expect(bed.fake.channelMessages(mention.id)).toEqual([]);
    expect(bed.fake.threads.size).toBe(1);
    for (const mention of mentions) expect(await engine.engine.hasThread(`discord:${bed.guildId}:${mention.id}`)).toBe(false);
  });
});
