import { describe, expect, it } from 'vitest';
import { decideEvent, slackMessageEventSchema, type EventPolicy } from '../../../adapters/slack/slack-event.js';
import { readableText, toIncomingMessage } from '../../../adapters/slack/incoming-message.js';
import { isResetCommand } from '../../../adapters/slack/thread-controls.js';
import { loadFixture, type SlackFixture } from '../../fakes/slack/slack-events.js';

const BOT = { botUserId: 'U0BOTUSER1', botId: 'B0BOTID001' };
const POLICY: EventPolicy = { requireMention: false, answerBots: false };

function eventOf(name: SlackFixture) {
  return slackMessageEventSchema.parse((loadFixture(name) as { event: unknown }).event);
}

describe('decideEvent', () => {
  it('answers a mention and a direct message', () => {
    expect(decideEvent(eventOf('app-mention'), BOT, POLICY)).toEqual({ action: 'answer', trigger: 'mention' });
    expect(decideEvent(eventOf('message-with-mention'), BOT, POLICY)).toEqual({ action: 'answer', trigger: 'mention' });
    expect(decideEvent(eventOf('direct-message'), BOT, POLICY)).toEqual({ action: 'answer', trigger: 'direct-message' });
  });

  it('answers an un-mentioned thread reply only in threads the bot knows, unless mentions are required', () => {
    expect(decideEvent(eventOf('thread-reply'), BOT, POLICY)).toEqual({ action: 'answer-if-known-thread' });
    expect(decideEvent(eventOf('thread-reply'), BOT, { ...POLICY, requireMention: true })).toEqual({ action: 'ignore', reason: 'mention-required' });
  });

  it('ignores its own messages, other bots, edits and joins', () => {
    expect(decideEvent(eventOf('own-message'), BOT, POLICY)).toEqual({ action: 'ignore', reason: 'own-message' });
    expect(decideEvent(eventOf('own-message'), BOT, { ...POLICY, answerBots: true })).toEqual({ action: 'ignore', reason: 'own-message' });
    expect(decideEvent(eventOf('other-bot-message'), BOT, POLICY)).toEqual({ action: 'ignore', reason: 'subtype:bot_message' });
    expect(decideEvent(eventOf('message-changed'), BOT, POLICY)).toEqual({ action: 'ignore', reason: 'subtype:message_changed' });
    expect(decideEvent(eventOf('channel-join'), BOT, POLICY)).toEqual({ action: 'ignore', reason: 'subtype:channel_join' });
  });

  it('answers another bot only when configured to', () => {
    expect(decideEvent(eventOf('other-bot-message'), BOT, { ...POLICY, answerBots: true })).toEqual({ action: 'answer', trigger: 'mention' });
  });

  it('ignores top-level channel chatter and keeps thread replies addressed to someone else only as context', () => {
    const chatter = { ...eventOf('thread-reply'), thread_ts: undefined, text: 'lunch?' };
    expect(decideEvent(chatter, BOT, POLICY)).toEqual({ action: 'ignore', reason: 'not-addressed' });
    const aside = { ...eventOf('thread-reply'), text: '<@U0COLLEAG1> can you check this?' };
    expect(decideEvent(aside, BOT, POLICY)).toEqual({ action: 'record-if-known-thread' });
  });
});

describe('toIncomingMessage', () => {
  it('keys the thread and the event the same way for app_mention and message deliveries', async () => {
    const names = async (userId: string) => (userId === 'U0COLLEAG1' ? 'Dana' : undefined);
    const mention = await toIncomingMessage(eventOf('app-mention'), 'T0TEAM0001', BOT.botUserId, names, true);
    const message = await toIncomingMessage(eventOf('message-with-mention'), 'T0TEAM0001', BOT.botUserId, names, true);
    expect(mention).toEqual(message);
    expect(mention).toMatchObject({
      platform: 'slack',
      threadKey: 'slack:T0TEAM0001:C0SUPPORT1:1763719200.000100',
      eventId: 'slack:T0TEAM0001:C0SUPPORT1:1763719200.000100',
      scope: { workspaceId: 'T0TEAM0001', channelId: 'C0SUPPORT1' },
      author: { id: 'U0ASKER001' },
      text: 'how do I reset my password? @Dana asked too',
      receivedAt: 1763719200000,
    });
  });

  it('puts a thread reply in the thread of its root message', async () => {
    const reply = await toIncomingMessage(eventOf('thread-reply'), 'T0TEAM0001', BOT.botUserId, async () => undefined, false);
    expect(reply.threadKey).toBe('slack:T0TEAM0001:C0SUPPORT1:1763719200.000100');
    expect(reply.eventId).toBe('slack:T0TEAM0001:C0SUPPORT1:1763719260.000200');
  });
});

describe('readableText', () => {
  it('strips the bot mention and makes every other token readable and inert', async () => {
    const text = await readableText(
      '<@U0BOTUSER1|threadline> ping <@U0OTHER01> in <#C0GENERAL|general> <!here> <!subteam^S01|@ops> see <https://kb.example.com|the KB> &amp; &lt;b&gt;',
      'U0BOTUSER1',
      async () => undefined,
    );
    expect(text).toBe('ping @U0OTHER01 in #general @here @ops see the KB (https://kb.example.com) & <b>');
  });
});

describe('isResetCommand', () => {
  it('recognises start-over commands and nothing else', () => {
    for (const command of ['reset', 'Reset.', 'start over!', '/reset', '초기화']) expect(isResetCommand(command)).toBe(true);
    for (const question of ['how do I reset my password?', 'resetting', '']) expect(isResetCommand(question)).toBe(false);
  });
});
