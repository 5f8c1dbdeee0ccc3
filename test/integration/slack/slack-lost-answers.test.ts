import { afterEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import type { StoredSlackMessage } from '../../fakes/slack/message-store.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const ANSWER = 'Open Settings and choose Reset password. Recovery codes expire after 10 minutes.';

/** Short enough that a lost answer costs the test about a second, long enough for loopback on a busy machine. */
const API_TIMEOUT_MS = 1_000;

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function mentionThread(): StoredSlackMessage[] {
  return harness!.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
}

function callStatuses(method: string): number[] {
  return harness!.fake.callsTo(method).map((call) => call.status);
}

/** A mention answered without previews: the answer is the turn's only chat.postMessage. */
async function answerMentionWhile(prepare: (h: SlackHarness) => void): Promise<void> {
  harness = await startSlackHarness({ answerer: scriptedAnswerer([{ text: ANSWER }]), adapter: { apiTimeoutMs: API_TIMEOUT_MS } });
  prepare(harness);
  await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
  const [report] = await harness.waitForReports(1, 20_000);
  expect(report!.result).toBe('answered');
}

describe('Slack posts whose answer is lost', () => {
  it('appear once when Slack posted the answer but the response never came back (timeout)', async () => {
    await answerMentionWhile((h) => h.fake.failNext('chat.postMessage', { kind: 'applied-then-no-answer' }));

    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Recovery codes expire after 10 minutes.');
    expect(callStatuses('chat.postMessage')).toEqual([0]);
    // The post carried its own key, and the thread was searched for it with metadata switched on.
    expect(thread[0]!.metadata).toEqual({ event_type: 'threadline_reply', event_payload: { post_id: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
    const searches = harness!.fake.callsTo('conversations.replies');
    expect(searches).toHaveLength(1);
    expect(searches[0]!.params).toMatchObject({ channel: SLACK_IDS.channel, ts: SLACK_IDS.mentionTs, include_all_metadata: 'true' });
    expect(searches[0]!.status).toBe(200);
  });

  it('appear once when Slack posted the answer and then answered HTTP 500', async () => {
    await answerMentionWhile((h) => h.fake.failNext('chat.postMessage', { kind: 'applied-then-http-error', status: 500 }));

    expect(mentionThread()).toHaveLength(1);
    expect(mentionThread()[0]!.text).toContain('Recovery codes expire after 10 minutes.');
    // No automatic second attempt by the WebClient, no second post after the search.
    expect(callStatuses('chat.postMessage')).toEqual([500]);
    expect(callStatuses('conversations.replies')).toEqual([200]);
  });

  it('appear once when Slack posted the answer and then said internal_error', async () => {
    await answerMentionWhile((h) => h.fake.failNext('chat.postMessage', { kind: 'applied-then-error', error: 'internal_error' }));

    expect(mentionThread()).toHaveLength(1);
    expect(harness!.fake.callsTo('chat.postMessage')).toHaveLength(1);
  });

  it('are posted again, once, when the first post truly failed', async () => {
    await answerMentionWhile((h) => h.fake.failNext('chat.postMessage', { kind: 'http-error', status: 503 }));

    expect(callStatuses('chat.postMessage')).toEqual([503, 200]);
    expect(callStatuses('conversations.replies')).toEqual([200]);
    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Recovery codes expire after 10 minutes.');
  });

  it('never take an earlier reply in the thread for the lost one', async () => {
    const answerer = scriptedAnswerer([{ text: ANSWER }, { text: 'Then contact an administrator to verify your identity.' }]);
    harness = await startSlackHarness({ answerer, adapter: { apiTimeoutMs: API_TIMEOUT_MS } });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    harness.fake.failNext('chat.postMessage', { kind: 'http-error', status: 503 });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply'));
    await harness.waitForReports(2, 20_000);

    // The search saw the first answer (tagged with another post id) and posted the follow-up anyway.
    expect(callStatuses('chat.postMessage')).toEqual([200, 503, 200]);
    expect(callStatuses('conversations.replies')).toEqual([200]);
    const thread = mentionThread();
    expect(thread.map((message) => message.text)).toEqual([expect.stringContaining('Recovery codes'), expect.stringContaining('contact an administrator')]);
    expect(thread[0]!.metadata?.event_payload.post_id).not.toBe(thread[1]!.metadata?.event_payload.post_id);
  });

  it('wait out a 429 and post once, without searching the thread (Slack refused, it did not post)', async () => {
    await answerMentionWhile((h) => h.fake.failNext('chat.postMessage', { kind: 'http-429', retryAfterSeconds: 1 }));

    expect(callStatuses('chat.postMessage')).toEqual([429, 200]);
    expect(harness!.fake.callsTo('conversations.replies')).toEqual([]);
    expect(mentionThread()).toHaveLength(1);
  });

  it('are not posted blindly a second time when the thread cannot be searched', async () => {
    await answerMentionWhile((h) => {
      h.fake.failNext('chat.postMessage', { kind: 'applied-then-http-error', status: 502 });
      h.fake.failNext('conversations.replies', { kind: 'error', error: 'internal_error' });
    });

    expect(callStatuses('chat.postMessage')).toEqual([502]);
    expect(mentionThread()).toHaveLength(1);
  });

  it('adopt the message found in the thread as the reply, so the answer is edited into it', async () => {
    const answerer = scriptedAnswerer([{ text: ANSWER, deltas: ['Open Settings ', 'and choose Reset password.'] }]);
    harness = await startSlackHarness({ answerer, adapter: { streaming: 'update', apiTimeoutMs: API_TIMEOUT_MS } });
    harness.fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    // The placeholder ("Thinking…") is the reply's first post; its answer is lost after Slack posted it.
    harness.fake.failNext('chat.postMessage', { kind: 'applied-then-no-answer' });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    const [report] = await harness.waitForReports(1, 20_000);
    expect(report!.result).toBe('answered');

    const thread = mentionThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Recovery codes expire after 10 minutes.');
    expect(harness.fake.callsTo('chat.postMessage')).toHaveLength(1);
    const updates = harness.fake.callsTo('chat.update');
    expect(updates.length).toBeGreaterThan(0);
    expect(new Set(updates.map((call) => call.params.ts))).toEqual(new Set([thread[0]!.ts]));
  });
});
