import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createTestEngine, type TestEngine } from '../../support/engine-fixture.js';
import { requireRedisUrl } from '../../support/redis.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';
import { createClovaAnswering, type ClovaAnswering } from './support/clova-answering.js';
import { startInterposingProxy, type InterposedRequest, type InterposingProxy } from './support/interposing-proxy.js';

const QUESTION = 'How do I configure Redis for several replicas?';
const THREAD_KEY = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;

/** Fails the first `times` calls of a Web API method with `status` before they reach Slack. */
function failFirstCalls(method: string, times: number, status: number) {
  let remaining = times;
  return (request: InterposedRequest) => {
    if (remaining === 0 || !request.path.endsWith(`/${method}`)) return undefined;
    remaining -= 1;
    return { status };
  };
}

describe('a whole Slack turn when the Web API answers 429 and 5xx', () => {
  let clova: FakeClova | undefined;
  let answering: ClovaAnswering | undefined;
  let engine: TestEngine | undefined;
  let fake: FakeSlackApi | undefined;
  let proxy: InterposingProxy | undefined;
  let harness: SlackHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    await engine?.close();
    await proxy?.close();
    await fake?.close();
    await answering?.close();
    await clova?.close();
    harness = engine = proxy = fake = answering = clova = undefined;
  });

  /** The real CLOVA answering stack on real Redis, the real Slack adapter, and a proxy failing `method` `times` times with `status`. */
  async function start(method: string, times: number, status: number, streaming?: 'update'): Promise<{ harness: SlackHarness; fake: FakeSlackApi; proxy: InterposingProxy; engine: TestEngine }> {
    clova = await startFakeClova();
    answering = await createClovaAnswering({ clovaUrl: clova.url, logger: silentLogger(), metrics: new Metrics() });
    engine = await createTestEngine({ answerer: answering.answerer, compactor: answering.compactor, redisUrl: requireRedisUrl() });
    fake = await FakeSlackApi.start({ botToken: SLACK_IDS.botToken, teamId: SLACK_IDS.teamId, botUserId: SLACK_IDS.botUserId, botId: SLACK_IDS.botId });
    proxy = await startInterposingProxy({ target: new URL(fake.apiUrl).origin, inject: failFirstCalls(method, times, status) });
    harness = await startSlackHarness({ answerer: answering.answerer, engine, fake, adapter: { apiUrl: `${proxy.url}/api/`, ...(streaming ? { streaming } : {}) } });
    return { harness, fake, proxy, engine };
  }

  async function expectOneCompleteReplyStored(bed: { fake: FakeSlackApi; engine: TestEngine }): Promise<void> {
    const replies = bed.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toContain('Redis');
    expect(JSON.stringify(replies[0]?.blocks)).toContain('"actions"');
    // The in-flight record is cleared right after the post reaches Slack.
    await expect.poll(async () => (await bed.engine.backends.store.load(THREAD_KEY)).state?.inFlight).toBeUndefined();
    const state = (await bed.engine.backends.store.load(THREAD_KEY)).state;
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.content : 'answer', message.status])).toEqual([
      ['user', QUESTION, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  }

  const mention = () => envelopeFrom('app-mention', { text: `<@${SLACK_IDS.botUserId}> ${QUESTION}` });

  it('retries 503s and waits out a 429 on posting the answer: one complete, cited reply, and both messages stored', async () => {
    const bed = await start('chat.postMessage', 2, 503);
    bed.fake.failNext('chat.postMessage', { kind: 'http-429', retryAfterSeconds: 1 });
    await deliverEvent(bed.harness.eventsUrl, SLACK_IDS.signingSecret, mention());
    const [report] = await bed.harness.waitForReports(1, 15_000);

    expect(report?.result).toBe('answered');
    const posts = bed.proxy.exchanges.filter((exchange) => exchange.path.endsWith('/chat.postMessage'));
    expect(posts.map((exchange) => exchange.status)).toEqual([503, 503, 429, 200]);
    await expectOneCompleteReplyStored(bed);
  });

  it('retries 502s and waits out a 429 on the edit that turns the placeholder into the answer', async () => {
    const bed = await start('chat.update', 2, 502, 'update');
    bed.fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
    bed.fake.failNext('chat.update', { kind: 'http-429', retryAfterSeconds: 1 });
    await deliverEvent(bed.harness.eventsUrl, SLACK_IDS.signingSecret, mention());
    const [report] = await bed.harness.waitForReports(1, 15_000);

    expect(report?.result).toBe('answered');
    const updates = bed.proxy.exchanges.filter((exchange) => exchange.path.endsWith('/chat.update'));
    expect(updates.slice(0, 4).map((exchange) => exchange.status)).toEqual([502, 502, 429, 200]);
    expect(bed.proxy.exchanges.filter((exchange) => exchange.path.endsWith('/chat.postMessage') && exchange.status === 200)).toHaveLength(1);
    await expectOneCompleteReplyStored(bed);
  });
});
