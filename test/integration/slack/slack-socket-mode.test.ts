import { afterEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { envelopeFrom, loadFixture } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('Slack adapter in Socket Mode', () => {
  it('connects with the app token, acknowledges envelopes and answers through the same handlers', async () => {
    const answerer = scriptedAnswerer([{ text: 'Use the reset link on the sign-in page.' }]);
    harness = await startSlackHarness({ answerer, mode: 'socket' });
    const open = harness.fake.callsTo('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0]!.auth).toBe('app');
    await harness.fake.socketMode.waitForConnection();

    const ack = await harness.fake.socketMode.sendEvent(envelopeFrom('app-mention'));
    expect(ack.envelopeId).toBeTruthy();
    await harness.waitForReports(1);

    const thread = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Use the reset link on the sign-in page.');
    // Socket Mode never uses the HTTP route, and Web API calls still carry the bot token.
    expect(harness.fake.calls.filter((call) => call.method !== 'apps.connections.open').every((call) => call.auth === 'bot')).toBe(true);
  });

  it('answers once when Slack redelivers an envelope with retry_attempt', async () => {
    const answerer = scriptedAnswerer([{ text: 'Answered once.', delayMs: 30 }]);
    harness = await startSlackHarness({ answerer, mode: 'socket' });
    await harness.fake.socketMode.waitForConnection();
    await harness.fake.socketMode.sendEvent(envelopeFrom('app-mention'));
    await harness.fake.socketMode.sendEvent(envelopeFrom('app-mention'), { attempt: 1, reason: 'timeout' });
    await harness.fake.socketMode.sendEvent(envelopeFrom('message-with-mention'));
    const reports = await harness.waitForReports(3);

    expect(reports.map((report) => report.result).sort()).toEqual(['answered', 'duplicate', 'duplicate']);
    expect(answerer.requests).toHaveLength(1);
    expect(harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs)).toHaveLength(1);
  });

  it('takes feedback clicks over the socket too', async () => {
    harness = await startSlackHarness({ answerer: scriptedAnswerer([{ text: 'Here you go.' }]), mode: 'socket' });
    await harness.fake.socketMode.waitForConnection();
    await harness.fake.socketMode.sendEvent(envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const answerMessage = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs)[0]!;
    const answerId = (answerMessage.blocks!.at(-1) as { elements: Array<{ value: string }> }).elements[0]!.value;

    const click = loadFixture('block-actions-feedback') as Record<string, any>;
    click.message.ts = answerMessage.ts;
    click.actions[0].value = answerId;
    await harness.fake.socketMode.sendInteractive(click);
    await harness.waitForReports(2);

    const threadKey = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
    expect(await harness.engine.backends.store.loadFeedback(threadKey, answerId, SLACK_IDS.asker)).toMatchObject({ value: 'helpful', answerId });
  });
});
