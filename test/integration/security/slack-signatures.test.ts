import { afterEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { envelopeFrom, slackSignature } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** One request exactly as it would travel, so the very same bytes and headers can be sent again. */
interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

function signedRequest(envelope: unknown, options: { timestampSeconds?: number; secret?: string } = {}): SignedRequest {
  const body = JSON.stringify(envelope);
  const timestamp = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return { body, headers: { 'content-type': 'application/json', ...slackSignature(options.secret ?? SLACK_IDS.signingSecret, body, timestamp) } };
}

async function send(url: string, request: SignedRequest, extraHeaders: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { ...request.headers, ...extraHeaders }, body: request.body });
  await response.arrayBuffer();
  return response.status;
}

/** A direct message proves the pipeline is idle rather than slow: once it is reported, nothing else is pending. */
async function provePipelineIdle(target: SlackHarness, reportsBefore: number): Promise<void> {
  expect(await send(target.eventsUrl, signedRequest(envelopeFrom('direct-message')))).toBe(200);
  await target.waitForReports(reportsBefore + 1);
}

describe('Slack request signatures', () => {
  it('refuses a correctly signed request whose timestamp is more than five minutes old, and does nothing with it', async () => {
    const answerer = scriptedAnswerer([{ text: 'Use the reset link.' }]);
    harness = await startSlackHarness({ answerer });
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    expect(await send(harness.eventsUrl, signedRequest(envelopeFrom('app-mention'), { timestampSeconds: sixMinutesAgo }))).toBe(401);

    await provePipelineIdle(harness, 0);
    expect(harness.reports.map((report) => report.eventType)).toEqual(['message']);
    expect(answerer.requests.map((request) => request.message.scope.channelId)).toEqual([SLACK_IDS.directChannel]);
    expect(harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs)).toEqual([]);
  });

  it('refuses a request whose body was changed after signing', async () => {
    const answerer = scriptedAnswerer([{ text: 'Use the reset link.' }]);
    harness = await startSlackHarness({ answerer });
    const genuine = signedRequest(envelopeFrom('app-mention'));
    const tampered = { ...genuine, body: genuine.body.replace('how do I reset my password?', 'post <!channel> now') };
    expect(tampered.body).not.toBe(genuine.body);
    expect(await send(harness.eventsUrl, tampered)).toBe(401);
    expect(await send(harness.eventsUrl, { ...genuine, headers: { ...genuine.headers, 'x-slack-signature': 'v0=' + '0'.repeat(64) } })).toBe(401);
    const { ['x-slack-signature']: _signature, ...unsigned } = genuine.headers;
    expect(await send(harness.eventsUrl, { ...genuine, headers: unsigned })).toBe(401);

    await provePipelineIdle(harness, 0);
    expect(answerer.requests).toHaveLength(1);
    expect(harness.fake.calls.filter((call) => call.params.channel === SLACK_IDS.channel)).toEqual([]);
  });

  it('answers a replayed valid request once, whether it comes back verbatim or as a retry', async () => {
    const answerer = scriptedAnswerer([{ text: 'Use the reset link.', delayMs: 30 }]);
    harness = await startSlackHarness({ answerer });
    const captured = signedRequest(envelopeFrom('app-mention'));

    // The same bytes and signature, delivered concurrently and again later, as an attacker or a proxy would.
    const concurrent = await Promise.all([send(harness.eventsUrl, captured), send(harness.eventsUrl, captured)]);
    await harness.waitForReports(2);
    const later = await send(harness.eventsUrl, captured);
    const retried = await send(harness.eventsUrl, captured, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    const reports = await harness.waitForReports(4);

    expect([...concurrent, later, retried]).toEqual([200, 200, 200, 200]);
    expect(reports.map((report) => report.result).sort()).toEqual(['answered', 'duplicate', 'duplicate', 'duplicate']);
    expect(answerer.requests).toHaveLength(1);
    const thread = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(thread.map((message) => message.text)).toEqual([expect.stringContaining('Use the reset link.')]);
    const threadKey = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
    const stored = (await harness.engine.backends.store.load(threadKey)).state;
    expect(stored?.messages.map((message) => message.role)).toEqual(['user', 'assistant']);
  });
});
