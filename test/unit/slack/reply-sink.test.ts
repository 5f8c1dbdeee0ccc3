import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webApi } from '@slack/bolt';
import type { Answer } from '../../../src/engine/answer.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { CapabilityCache } from '../../../adapters/slack/capability-cache.js';
import { SlackReplySink, type SlackReplySinkOptions } from '../../../adapters/slack/reply-sink.js';
import { RateLimitRegistry, SlackCaller } from '../../../adapters/slack/slack-caller.js';
import { processUpdateBudget } from '../../../adapters/slack/update-budget.js';
import { MemoryTokenBuckets } from '../../../src/coordination/token-buckets.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';

const BOT_TOKEN = 'xoxb-test-reply-sink-0001';
const CHANNEL = 'C0SUPPORT1';
const THREAD = '1763719200.000100';

let fake: FakeSlackApi;
let metrics: Metrics;

beforeEach(async () => {
  fake = await FakeSlackApi.start({ botToken: BOT_TOKEN, teamId: 'T0TEAM0001', botUserId: 'U0BOTUSER1', botId: 'B0BOTID001' });
  metrics = new Metrics();
});

afterEach(async () => {
  await fake.close();
});

function sink(overrides: Partial<SlackReplySinkOptions> = {}): SlackReplySink {
  const client = new webApi.WebClient(BOT_TOKEN, { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  const caller = new SlackCaller({ client, workspaceId: 'T0TEAM0001', rateLimits: new RateLimitRegistry(), logger: silentLogger(), metrics });
  return new SlackReplySink({
    caller,
    channelId: CHANNEL,
    threadTs: THREAD,
    recipient: { userId: 'U0ASKER001', teamId: 'T0TEAM0001' },
    directMessage: false,
    streaming: 'native',
    capabilities: new CapabilityCache(),
    updateBudget: processUpdateBudget(),
    previewIntervalMs: 10,
    logger: silentLogger(),
    ...overrides,
  });
}

function answer(text: string, overrides: Partial<Answer> = {}): Answer {
  return {
    id: 'answer-42',
    parts: [{ type: 'text', text }, { type: 'citation', source: 1 }],
    sources: [{ docId: 'doc-1', title: 'Password reset', url: 'https://kb.example.com/reset', snippet: '' }],
    mode: 'generated',
    notices: [],
    ...overrides,
  };
}

function visibleThread() {
  return fake.store.threadReplies(CHANNEL, THREAD);
}

describe('SlackReplySink', () => {
  it('shows the status through the assistant status API, then posts the answer once in the thread', async () => {
    const reply = sink();
    await reply.emit({ type: 'status-changed', status: 'searching', text: 'Searching the knowledge base…' });
    await reply.emit({ type: 'answer-completed', answer: answer('Use the reset link') });

    expect(fake.store.statuses[0]).toEqual({ channelId: CHANNEL, threadTs: THREAD, status: 'Searching the knowledge base…' });
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Use the reset link<https://kb.example.com/reset|[1]>');
    const post = fake.callsTo('chat.postMessage')[0]!;
    expect(post.params).toMatchObject({ channel: CHANNEL, thread_ts: THREAD, unfurl_links: 'false' });
    expect(post.auth).toBe('bot');
  });

  it('falls back to a placeholder message where the status API is refused, and turns it into the answer', async () => {
    fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    const reply = sink({ streaming: 'update' });
    await reply.emit({ type: 'status-changed', status: 'searching', text: 'Searching the knowledge base…' });
    expect(visibleThread()[0]!.text).toBe('_Searching the knowledge base…_');
    await reply.emit({ type: 'answer-completed', answer: answer('Done') });

    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Done');
    expect(thread[0]!.blocks?.some((block) => (block as { type: string }).type === 'actions')).toBe(true);
    expect(fake.callsTo('chat.update')).toHaveLength(1);
  });

  it('streams preview text natively with the asker ids, then finalises the same message', async () => {
    const reply = sink();
    await reply.emit({ type: 'text-delta', text: 'First part, ' });
    await fake.waitForCall((call) => call.method === 'chat.startStream');
    await reply.emit({ type: 'text-delta', text: 'second <!channel> part' });
    await fake.waitForCall((call) => call.method === 'chat.appendStream');
    await reply.emit({ type: 'answer-completed', answer: answer('First part, second part') });

    const start = fake.callsTo('chat.startStream')[0]!;
    expect(start.params).toMatchObject({ channel: CHANNEL, thread_ts: THREAD, recipient_user_id: 'U0ASKER001', recipient_team_id: 'T0TEAM0001', markdown_text: 'First part, ' });
    expect(fake.callsTo('chat.appendStream')[0]!.params.markdown_text).toBe('second &lt;!channel&gt; part');
    const methods = fake.calls.map((call) => call.method);
    expect(methods.indexOf('chat.stopStream')).toBeLessThan(methods.lastIndexOf('chat.update'));
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.streamingState).toBe('completed');
    expect(thread[0]!.text).toContain('First part, second part<https://kb.example.com/reset|[1]>');
  });

  it('falls back to placeholder updates when native streaming is refused, keeping all text', async () => {
    fake.disableMethod('chat.startStream', 'not_allowed_token_type');
    const reply = sink();
    await reply.emit({ type: 'text-delta', text: 'Hello ' });
    await fake.waitForCall((call) => call.method === 'chat.postMessage');
    await reply.emit({ type: 'text-delta', text: 'world' });
    await fake.waitForCall((call) => call.method === 'chat.update');
    expect(visibleThread()[0]!.text).toBe('Hello world …');
    await reply.emit({ type: 'answer-completed', answer: answer('Hello world') });
    expect(visibleThread()).toHaveLength(1);
    expect(visibleThread()[0]!.text).toContain('Hello world<https://kb.example.com/reset|[1]>');
  });

  it('rolls a native stream over into a new message before the size limit, and tidies up at the end', async () => {
    const reply = sink({ nativeStreamLimits: { maxChars: 100, maxAgeMs: 60_000 } });
    const preview = 'word '.repeat(70);
    await reply.emit({ type: 'text-delta', text: preview });
    await fake.waitForCall((call) => call.method === 'chat.startStream' && fake.callsTo('chat.startStream').length >= 4);
    await reply.emit({ type: 'answer-completed', answer: answer('Short final answer') });

    const streamed = fake.callsTo('chat.startStream').map((call) => String(call.params.markdown_text)).join('');
    expect(streamed).toBe(preview);
    for (const call of fake.callsTo('chat.startStream')) expect(String(call.params.markdown_text).length).toBeLessThanOrEqual(100);
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('Short final answer');
    expect(fake.callsTo('chat.delete').length).toBe(fake.callsTo('chat.startStream').length - 1);
  });

  it('waits out an HTTP 429 on the final update and still delivers everything', async () => {
    fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    const reply = sink({ streaming: 'update' });
    await reply.emit({ type: 'status-changed', status: 'thinking', text: 'Thinking…' });
    fake.failNext('chat.update', { kind: 'http-429', retryAfterSeconds: 1 });
    await reply.emit({ type: 'answer-completed', answer: answer('Complete answer') });

    const updates = fake.callsTo('chat.update');
    expect(updates.map((call) => call.status)).toEqual([429, 200]);
    expect(visibleThread()[0]!.text).toContain('Complete answer');
    // The retry went out only after waiting for Retry-After (counted), not straight away.
    expect(await metrics.registry.getSingleMetricAsString('threadline_rate_limit_waits_total')).toContain('upstream="slack"} 1');
  });

  it('treats ok:false "ratelimited" in a 200 like a 429', async () => {
    const reply = sink({ streaming: 'update' });
    fake.failNext('chat.postMessage', { kind: 'ratelimited', retryAfterSeconds: 1 });
    await reply.emit({ type: 'answer-completed', answer: answer('Still delivered') });
    expect(fake.callsTo('chat.postMessage').map((call) => call.error ?? 'ok')).toEqual(['ratelimited', 'ok']);
    expect(visibleThread()[0]!.text).toContain('Still delivered');
  });

  it('skips previews when the workspace update budget is spent, but never the final text', async () => {
    const budget = new MemoryTokenBuckets({ perMinute: 1, burst: 1 });
    const reply = sink({ streaming: 'update', updateBudget: budget });
    await reply.emit({ type: 'text-delta', text: 'a' });
    await fake.waitForCall((call) => call.method === 'chat.postMessage');
    for (const delta of ['b', 'c', 'd']) {
      await reply.emit({ type: 'text-delta', text: delta });
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await reply.emit({ type: 'answer-completed', answer: answer('abcd final') });
    // One preview update fits the budget; the rest were skipped; the final update always goes.
    expect(fake.callsTo('chat.update').length).toBe(2);
    expect(visibleThread()[0]!.text).toContain('abcd final');
  });

  it('replaces the preview with one friendly line when the turn fails', async () => {
    const reply = sink({ streaming: 'update' });
    await reply.emit({ type: 'text-delta', text: 'partial answer' });
    await fake.waitForCall((call) => call.method === 'chat.postMessage');
    await reply.emit({ type: 'turn-failed', code: 'turn_timeout', userMessage: 'That took too long to answer.' });
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toBe(':warning: That took too long to answer.');
  });

  it('stops streaming when the user pressed stop, and still finalises the message', async () => {
    const reply = sink();
    await reply.emit({ type: 'text-delta', text: 'one ' });
    const started = await fake.waitForCall((call) => call.method === 'chat.startStream');
    expect(started.status).toBe(200);
    fake.store.pressStop(CHANNEL, visibleThread()[0]!.ts);
    await reply.emit({ type: 'text-delta', text: 'two ' });
    await fake.waitForCall((call) => call.method === 'chat.appendStream');
    await reply.emit({ type: 'text-delta', text: 'three' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await reply.emit({ type: 'answer-completed', answer: answer('one two three') });
    expect(fake.callsTo('chat.appendStream').map((call) => call.error)).toEqual(['stopped_by_user']);
    expect(fake.callsTo('chat.stopStream')).toHaveLength(0);
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('one two three');
  });
});

describe('native stream failures', () => {
  it('still delivers the answer when stopping the stream fails', async () => {
    const reply = sink();
    await reply.emit({ type: 'text-delta', text: 'partial ' });
    await fake.waitForCall((call) => call.method === 'chat.startStream');
    fake.failNext('chat.stopStream', { kind: 'error', error: 'internal_error' });
    await reply.emit({ type: 'answer-completed', answer: answer('The whole answer') });

    expect(fake.callsTo('chat.update').map((call) => call.error)).toEqual(['streaming_state_conflict']);
    const delivered = visibleThread().filter((message) => message.text.includes('The whole answer'));
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.blocks?.length).toBeGreaterThan(0);
  });
});

describe('native stream age limit', () => {
  it('rolls over to a new streamed message once the current one is too old', async () => {
    const reply = sink({ nativeStreamLimits: { maxChars: 11_000, maxAgeMs: 0 } });
    await reply.emit({ type: 'text-delta', text: 'first ' });
    await fake.waitForCall((call) => call.method === 'chat.startStream');
    await reply.emit({ type: 'text-delta', text: 'second' });
    await fake.waitForCall((call) => call.method === 'chat.startStream' && call.params.markdown_text === 'second');
    await reply.emit({ type: 'answer-completed', answer: answer('first second') });

    expect(fake.callsTo('chat.appendStream')).toHaveLength(0);
    const methods = fake.calls.map((call) => call.method);
    expect(methods.indexOf('chat.stopStream')).toBeLessThan(methods.lastIndexOf('chat.startStream'));
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toContain('first second');
  });
});

describe('SlackReplySink handoff and recovery', () => {
  const handoff = {
    type: 'handoff-requested' as const,
    contacts: ['U0AGENT001', 'S0OPSTEAM1'],
    summary: 'Order ORD-88412 <!channel>\nLatest from the user:\n- ask <@U0ADMIN001> & co',
    text: 'I have asked a person to take over this conversation.',
  };

  it('posts the handoff as a fresh message that mentions only the contacts, removing the placeholder', async () => {
    fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    const reply = sink({ streaming: 'update' });
    await reply.emit({ type: 'turn-queued' });
    const placeholder = visibleThread()[0]!;
    await reply.emit(handoff);

    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.ts).not.toBe(placeholder.ts);
    expect(fake.callsTo('chat.delete').map((call) => call.params.ts)).toEqual([placeholder.ts]);
    const text = thread[0]!.text;
    expect(text.startsWith('<@U0AGENT001> <!subteam^S0OPSTEAM1> A person is needed in this thread.')).toBe(true);
    expect(text.match(/<[@!#][^>]*>/g)).toEqual(['<@U0AGENT001>', '<!subteam^S0OPSTEAM1>']);
    expect(text).toContain('> Order ORD-88412 &lt;!channel&gt;');
    expect(text).toContain('> - ask &lt;@U0ADMIN001&gt; &amp; co');
    expect(text.endsWith('I have asked a person to take over this conversation.')).toBe(true);
    // Edits never notify anyone in Slack; the mentions must arrive in a post.
    expect(fake.callsTo('chat.update')).toHaveLength(0);
  });

  it('drops contact ids that are not Slack user or group ids instead of posting them as markup', async () => {
    const reply = sink();
    await reply.emit({ ...handoff, contacts: ['U0AGENT001', '!channel', 'here>', 'U0AGENT001'] });
    expect(visibleThread()[0]!.text.match(/<[@!#][^>]*>/g)).toEqual(['<@U0AGENT001>']);
  });

  it('reports where its reply lives while it is being written, and nothing once it is finished', async () => {
    const reply = sink();
    expect(reply.replyHandle()).toBeUndefined();
    await reply.emit({ type: 'text-delta', text: 'First words ' });
    const started = await fake.waitForCall((call) => call.method === 'chat.startStream');
    await expect.poll(() => reply.replyHandle()).toEqual({
      channelId: CHANNEL,
      threadTs: THREAD,
      messageTs: visibleThread()[0]!.ts,
      streamingTs: visibleThread()[0]!.ts,
    });
    expect(started.status).toBe(200);
    await reply.emit({ type: 'answer-completed', answer: answer('First words') });
    expect(reply.replyHandle()).toBeUndefined();
  });

  it('resumes the messages a stopped process left: stops its open stream, then edits the answer into it', async () => {
    const first = sink();
    await first.emit({ type: 'text-delta', text: 'Half an ans' });
    await fake.waitForCall((call) => call.method === 'chat.startStream');
    const orphan = visibleThread()[0]!;
    expect(orphan.streamingState).toBe('in_progress');

    const resumed = sink({ streaming: 'update', resume: { messageTimestamps: [orphan.ts], streamingTs: orphan.ts } });
    await resumed.emit({ type: 'answer-completed', answer: answer('The whole answer') });
    const thread = visibleThread();
    expect(thread).toHaveLength(1);
    expect(thread[0]!.ts).toBe(orphan.ts);
    expect(thread[0]!.text).toContain('The whole answer');
    expect(fake.callsTo('chat.stopStream').map((call) => call.params.ts)).toEqual([orphan.ts]);
    expect(fake.callsTo('chat.update').map((call) => call.params.ts)).toEqual([orphan.ts]);
  });
});
