import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../../support/close-after-each.js';
import { createTestEngine, scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createDiscordTestBed, waitFor } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import type { MessageReport } from '../../../adapters/discord/message-handler.js';
import { SLACK_IDS, startSlackHarness } from '../slack/slack-harness.js';

/** Mentions with nothing to answer: bare, padded with spaces, or with only invisible characters. */
const EMPTY_AFTER_MENTION = ['', '   ', ' \u200B\u200C\u200D\u2060\uFEFF ', '\n\t'];

describe('a mention with nothing after it', () => {
  const closeLater = closeAfterEach();

  it('Slack: gets one hint in its thread, never reaches the model and leaves no conversation behind', async () => {
    const answerer = scriptedAnswerer([{ text: 'should never be sent' }]);
    const slack = closeLater(await startSlackHarness({ answerer }));
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

  it('Discord: gets one hint where a mention is answered (its own thread, or the bot thread it was sent in), never reaching the model or the history', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    const engine = closeLater(await createTestEngine({ answerer }));
    const bed = closeLater(await createDiscordTestBed());
    const reports: MessageReport[] = [];
    const { injector } = await bed.startProcess(engine.engine, { onMessageProcessed: (report) => reports.push(report) });
    const user = { id: nextSnowflake(), username: 'quiet' };
    const bot = { id: bed.applicationId, username: 'threadline' };
    const mentions = EMPTY_AFTER_MENTION.map((rest) =>
      messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}>${rest}`, mentions: [bot] }),
    );
    for (const mention of mentions) injector.messageCreate(mention);
    await waitFor('a hint for every mention', () => reports.length === mentions.length);

    expect(reports.map((report) => report.result)).toEqual(mentions.map(() => 'failed'));
    expect(answerer.requests).toEqual([]);
    for (const mention of mentions) {
      expect(bed.fake.threads.get(mention.id)?.parentId).toBe(bed.channelId);
      expect(bed.fake.channelMessages(mention.id).map((message) => message.content)).toEqual([expect.stringContaining('Ask me a question after the mention')]);
      expect(await engine.engine.hasThread(`discord:${bed.guildId}:${mention.id}`)).toBe(false);
    }

    // Inside a conversation the hint goes into that thread, quoting the mention, and the history stays as it was.
    const question = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: `<@${bed.applicationId}> where is my order?`, mentions: [bot] });
    injector.messageCreate(question);
    await waitFor('the first answer', () => bed.fake.channelMessages(question.id).some((message) => message.components.length > 0));
    const threadKey = `discord:${bed.guildId}:${question.id}`;
    const historyBefore = (await engine.backends.store.load(threadKey)).state!.messages;
    const bare = messagePayload({ guildId: bed.guildId, channelId: question.id, channelType: 11, author: user, content: `<@!${bed.applicationId}>`, mentions: [bot] });
    injector.messageCreate(bare);
    await waitFor('the hint in the conversation', () => bed.fake.channelMessages(question.id).length === 2);
    const hint = bed.fake.channelMessages(question.id)[1]!;
    expect(hint.content).toMatch(/^⚠️ Ask me a question after the mention/);
    expect(hint.message_reference).toEqual({ message_id: bare.id });
    expect((await engine.backends.store.load(threadKey)).state!.messages).toEqual(historyBefore);
    expect(answerer.requests.map((request) => request.message.text)).toEqual(['where is my order?']);
    const hintRequest = bed.fake.requests.find((request) => request.path === `/channels/${question.id}/messages` && (request.body as { content?: string }).content === hint.content);
    expect((hintRequest?.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(bed.fake.pings).toEqual([]);

    // A reply to the bot's answer that carries no text (an image, say) is not a question: no hint.
    const attachmentOnly = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: user, content: '', mentions: [bot] });
    injector.messageCreate(attachmentOnly);
    await waitFor('the attachment-only message to be handled', () => reports.some((report) => report.messageId === attachmentOnly.id));
    expect(reports.find((report) => report.messageId === attachmentOnly.id)?.result).toBe('not-for-us');
    expect(bed.fake.threads.has(attachmentOnly.id)).toBe(false);
  });
});
