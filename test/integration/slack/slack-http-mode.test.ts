import { afterEach, describe, expect, it } from 'vitest';
import type { AnswerSource } from '../../../src/engine/answer.js';
import type { CompactionResult, HistoryCompactor } from '../../../src/compaction/types.js';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, deliverInteraction, envelopeFrom, loadFixture, slackSignature } from '../../fakes/slack/slack-events.js';
import type { StoredSlackMessage } from '../../fakes/slack/message-store.js';
import { pacedAnswerer, SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const SOURCES: AnswerSource[] = [
  { docId: 'kb-17', title: 'Reset your password', url: 'https://kb.example.com/account/reset', snippet: 'Open Settings…' },
  { docId: 'kb-42', title: 'Recovery | codes\n(internal)', snippet: 'Codes expire…' },
];

const RESET_ANSWER = {
  text: 'Open Settings and choose Reset password. Recovery codes expire after 10 minutes.',
  sources: SOURCES,
  citations: [
    { after: 'Reset password.', source: 1 },
    { after: '10 minutes.', source: 2 },
  ],
};

const CHALLENGE = { token: 'ZZZZZZWSxiZZZ2yIvs3peJ', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' };

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function mentionThread(): StoredSlackMessage[] {
  return harness!.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
}

describe('Slack adapter over the HTTP Events API', () => {
  it('answers a mention with exactly one threaded reply carrying numbered citations and a sources section', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    const response = await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    expect(response.status).toBe(200);
    await harness.waitForReports(1);

    expect(answerer.requests).toHaveLength(1);
    expect(answerer.requests[0]!.message.text).toBe('how do I reset my password? @Dana asked too');
    expect(answerer.requests[0]!.message.threadKey).toBe(`slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`);
    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Reset password.<https://kb.example.com/account/reset|[1]>');
    expect(thread[0]!.text).toContain('10 minutes.[2]');
    expect(thread[0]!.text).toContain('*Sources*\n1. <https://kb.example.com/account/reset|Reset your password>\n2. Recovery ¦ codes (internal)');
    expect(thread[0]!.blocks?.map((block) => (block as { type: string }).type)).toEqual(['section', 'section', 'actions']);
    expect(harness.fake.store.messages.filter((message) => !message.threadTs)).toHaveLength(0);
  });

  it('answers Slack\'s URL verification challenge on the events route', async () => {
    harness = await startSlackHarness({ answerer: scriptedAnswerer([RESET_ANSWER]) });
    const response = await fetch(harness.eventsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...slackSignature(SLACK_IDS.signingSecret, JSON.stringify(CHALLENGE)) },
      body: JSON.stringify(CHALLENGE),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ challenge: CHALLENGE.challenge });
  });

  it('refuses a request with a bad signature (401) and does nothing with it', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    const forged = await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'), { signWith: 'someone-elses-secret-000' });
    expect(forged.status).toBe(401);
    // A real delivery afterwards proves the pipeline was idle, not slow.
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('direct-message'));
    await harness.waitForReports(1);
    expect(harness.reports).toHaveLength(1);
    expect(answerer.requests.map((request) => request.message.scope.channelId)).toEqual([SLACK_IDS.directChannel]);
    expect(mentionThread()).toHaveLength(0);
  });

  it('answers a mention once although it arrives as app_mention, as message, and as two retries', async () => {
    const answerer = scriptedAnswerer([{ ...RESET_ANSWER, delayMs: 50 }]);
    harness = await startSlackHarness({ answerer });
    const deliveries = [
      deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention')),
      deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('message-with-mention')),
      deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'), { retry: { num: 1, reason: 'http_timeout' } }),
      deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'), { retry: { num: 2, reason: 'http_timeout' } }),
    ];
    expect((await Promise.all(deliveries)).map((response) => response.status)).toEqual([200, 200, 200, 200]);
    const reports = await harness.waitForReports(4);

    expect(reports.filter((report) => report.result === 'answered')).toHaveLength(1);
    expect(reports.filter((report) => report.result === 'duplicate')).toHaveLength(3);
    expect(answerer.requests).toHaveLength(1);
    expect(mentionThread()).toHaveLength(1);
  });

  it('answers a thread follow-up without a mention, with the earlier turns in context', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER, { text: 'Then contact an administrator to verify your identity.' }]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply'));
    await harness.waitForReports(2);

    expect(answerer.requests).toHaveLength(2);
    const history = answerer.requests[1]!.history.map((message) => `${message.role}: ${message.content}`);
    expect(history).toEqual([
      'user: how do I reset my password? @Dana asked too',
      'assistant: Open Settings and choose Reset password.[1] Recovery codes expire after 10 minutes.[2]',
      'user: and what if I no longer have access to my email?',
    ]);
    const thread = mentionThread();
    expect(thread).toHaveLength(2);
    expect(thread[1]!.text).toContain('contact an administrator');
  });

  it('ignores an un-mentioned reply in a thread the bot is not part of', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply', { threadTs: '1763710000.000900' }));
    const [report] = await harness.waitForReports(1);
    expect(report).toMatchObject({ result: 'ignored', reason: 'unknown-thread' });
    expect(answerer.requests).toHaveLength(0);
  });

  it('never answers its own messages, other bots, edits or joins', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    // Make the thread known first, so "unknown thread" cannot be why the rest is ignored.
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const callsBefore = harness.fake.calls.length;
    for (const fixture of ['own-message', 'other-bot-message', 'message-changed', 'channel-join'] as const) {
      expect((await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom(fixture))).status).toBe(200);
    }
    const reports = await harness.waitForReports(5);
    expect(reports.slice(1).map((report) => report.reason).sort()).toEqual(['own-message', 'subtype:bot_message', 'subtype:channel_join', 'subtype:message_changed']);
    expect(answerer.requests).toHaveLength(1);
    expect(harness.fake.calls.slice(callsBefore)).toHaveLength(0);
  });

  it('answers a direct message in a thread under it, streaming without recipient ids', async () => {
    const answerer = pacedAnswerer(() => harness!.fake, ['정산은 ', '구매확정 다음 영업일에 ', '진행됩니다.']);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('direct-message'));
    await harness.waitForReports(1);
    const thread = harness.fake.store.threadReplies(SLACK_IDS.directChannel, '1763719300.000300');
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('정산은 구매확정 다음 영업일에 진행됩니다.');
    const start = harness.fake.callsTo('chat.startStream')[0]!;
    expect(start.params).toMatchObject({ channel: SLACK_IDS.directChannel, thread_ts: '1763719300.000300', markdown_text: '정산은 ' });
    expect(harness.fake.callsTo('chat.appendStream').map((call) => call.params.markdown_text)).toEqual(['구매확정 다음 영업일에 ', '진행됩니다.']);
  });

  it('delivers a 12,000-character answer complete, in several parts, with every code fence intact', async () => {
    const paragraphs: string[] = [];
    for (let index = 0; paragraphs.join('\n\n').length < 12_000; index += 1) {
      paragraphs.push(
        index % 4 === 1
          ? `\`\`\`bash\n${Array.from({ length: 15 }, (_, line) => `kubectl rollout status deploy/api-${index}-${line}`).join('\n')}\n\`\`\``
          : `Step ${index}: ${'Check the configuration before you continue. '.repeat(10).trim()}`,
      );
    }
    const text = paragraphs.join('\n\n');
    const answerer = scriptedAnswerer([{ text, sources: SOURCES.slice(0, 1), citations: [{ after: 'Step 0:', source: 1 }] }]);
    harness = await startSlackHarness({ answerer, adapter: { streaming: 'update' } });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);

    const thread = mentionThread();
    expect(thread.length).toBeGreaterThanOrEqual(3);
    for (const message of thread) {
      expect(message.text.length).toBeLessThanOrEqual(4_000);
      expect((message.text.match(/```/g) ?? []).length % 2).toBe(0);
    }
    const delivered = thread.map((message) => message.text).join('\n\n');
    for (const paragraph of paragraphs.slice(1)) expect(delivered).toContain(paragraph.replace(/^Step 0:/, ''));
    expect(thread.at(-1)!.text).toContain('*Sources*');
    expect(thread.map((message) => (message.blocks ?? []).some((block) => (block as { type: string }).type === 'actions'))).toEqual(thread.map((_, index) => index === thread.length - 1));
  });

  const hostile = 'Attention <!channel> and <!here>: ask <@U0ADMIN001> or <!subteam^S0OPS|@ops>.';

  it('posts no ping when the model writes <!channel>, <!here> or a user mention, in previews or the answer', async () => {
    for (const streaming of ['native', 'update'] as const) {
      const answerer = pacedAnswerer(() => harness!.fake, ['Attention <!channel> ', 'and <!here>: ask <@U0ADMIN001> or <!subteam^S0OPS|@ops>.']);
      harness = await startSlackHarness({ answerer, adapter: { streaming } });
      await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
      await harness.waitForReports(1);
      expect(answerer.requests).toHaveLength(1);
      const previewCalls = harness.fake.calls.filter((call) => ['chat.startStream', 'chat.appendStream', 'chat.update'].includes(call.method));
      expect(previewCalls.length).toBeGreaterThanOrEqual(2);
      const outgoing = JSON.stringify(harness.fake.calls.map((call) => call.params));
      expect(outgoing).not.toMatch(/<!channel>|<!here>|<@U0ADMIN001>|<!subteam/);
      expect(mentionThread()[0]!.text).toContain('&lt;!channel&gt;');
      await harness.close();
      harness = undefined;
    }
  });

  it('escapes the final answer even when no preview was streamed', async () => {
    const answerer = scriptedAnswerer([{ text: hostile }]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);

    const outgoing = JSON.stringify(harness.fake.calls.map((call) => call.params));
    expect(outgoing).not.toMatch(/<!channel>|<!here>|<@U0ADMIN001>|<!subteam/);
    expect(mentionThread()[0]!.text).toContain('&lt;!channel&gt;');
  });

  it('waits out a 429 on chat.update and still delivers the whole answer', async () => {
    const answerer = scriptedAnswerer([{ ...RESET_ANSWER, deltas: ['Open Settings ', 'and choose Reset password.'] }]);
    harness = await startSlackHarness({ answerer, adapter: { streaming: 'update' } });
    harness.fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    harness.fake.failNext('chat.update', { kind: 'http-429', retryAfterSeconds: 1 }, 2);
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);

    const updates = harness.fake.callsTo('chat.update');
    expect(updates.filter((call) => call.status === 429)).toHaveLength(2);
    expect(updates.at(-1)!.status).toBe(200);
    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Recovery codes expire after 10 minutes.[2]');
    expect(thread[0]!.text).toContain('*Sources*');
  });

  it('stores a feedback click with the thread and answer ids and thanks the clicker privately', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const answerMessage = mentionThread()[0]!;
    const buttons = (answerMessage.blocks!.at(-1) as { elements: Array<{ action_id: string; value: string }> }).elements;
    const notHelpful = buttons.find((button) => button.action_id === 'threadline_feedback_not_helpful')!;

    const click = loadFixture('block-actions-feedback') as Record<string, any>;
    click.message.ts = answerMessage.ts;
    click.container.message_ts = answerMessage.ts;
    click.actions[0].action_id = notHelpful.action_id;
    click.actions[0].value = notHelpful.value;
    const response = await deliverInteraction(harness.eventsUrl, SLACK_IDS.signingSecret, click);
    expect(response.status).toBe(200);
    await harness.waitForReports(2);

    const threadKey = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
    const stored = await harness.engine.backends.store.loadFeedback(threadKey, notHelpful.value, SLACK_IDS.asker);
    expect(stored).toMatchObject({ platform: 'slack', threadKey, answerId: notHelpful.value, userId: SLACK_IDS.asker, value: 'not-helpful' });
    expect(harness.fake.store.ephemerals).toEqual([
      { channel: SLACK_IDS.channel, user: SLACK_IDS.asker, threadTs: SLACK_IDS.mentionTs, text: expect.stringContaining('feedback was recorded') },
    ]);
  });

  it('starts the thread over on "reset" and confirms once', async () => {
    const answerer = scriptedAnswerer([RESET_ANSWER]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const threadKey = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
    expect(await harness.engine.engine.hasThread(threadKey)).toBe(true);

    const reset = envelopeFrom('thread-reply', { text: '<@U0BOTUSER1> reset', eventId: 'Ev0RESET0001' });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, reset);
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, reset, { retry: { num: 1, reason: 'http_timeout' } });
    const reports = await harness.waitForReports(3);

    expect(reports.slice(1).map((report) => report.result).sort()).toEqual(['duplicate', 'reset']);
    expect(await harness.engine.engine.hasThread(threadKey)).toBe(false);
    const thread = mentionThread();
    expect(thread).toHaveLength(2);
    expect(thread[1]!.text).toContain('Starting over');
    expect(answerer.requests).toHaveLength(1);
  });

  it('shows a failure as one friendly line in the thread', async () => {
    const answerer = scriptedAnswerer([{ error: new Error('upstream exploded with secret details') }]);
    harness = await startSlackHarness({ answerer });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    const [report] = await harness.waitForReports(1);
    expect(report!.result).toBe('failed');
    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toMatch(/^:warning: Something went wrong/);
    expect(thread[0]!.text).not.toContain('exploded');
  });

  it('adds a short notice when the history was compacted', async () => {
    const summarising: HistoryCompactor = {
      async fit(state): Promise<CompactionResult> {
        const messages = state.messages.map((stored) => ({ role: stored.role, content: stored.content }));
        return { messages, state, kind: 'summary', notice: 'Earlier messages in this thread were summarised to fit.' };
      },
      correctFromUsage: (state) => state,
    };
    harness = await startSlackHarness({ answerer: scriptedAnswerer([RESET_ANSWER]), compactor: summarising });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const blocks = mentionThread()[0]!.blocks as Array<{ type: string; elements?: Array<{ text: string }> }>;
    expect(blocks.find((block) => block.type === 'context')?.elements?.[0]?.text).toBe('_Earlier messages in this thread were summarised to fit._');
  });

  it('learns its identity from auth.test when the ids are not given', async () => {
    harness = await startSlackHarness({ answerer: scriptedAnswerer([RESET_ANSWER]), pinIdentity: false });
    expect(harness.fake.callsTo('auth.test')).toHaveLength(1);
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('own-message'));
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    const reports = await harness.waitForReports(2);
    // Recognising its own message proves the bot user id came from auth.test.
    expect(reports.map((report) => `${report.result}:${report.reason ?? ''}`).sort()).toEqual(['answered:', 'ignored:own-message']);
    expect(mentionThread()).toHaveLength(1);
  });

  it('answers 503 once stopped, so Slack redelivers to a replica that is running', async () => {
    harness = await startSlackHarness({ answerer: scriptedAnswerer([RESET_ANSWER]) });
    await harness.adapter.stop();
    const response = await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    expect(response.status).toBe(503);
    expect(harness.fake.calls.filter((call) => call.method.startsWith('chat.'))).toHaveLength(0);
  });
});
