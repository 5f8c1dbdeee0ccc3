import { afterEach, describe, expect, it } from 'vitest';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('two Slack app instances sharing Redis', () => {
  it('answer a message delivered to both (and retried on each) exactly once', async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = uniquePrefix('slack-replicas');
    cleanups.push(() => deleteKeysWithPrefix(redisUrl, keyPrefix));
    const fake = await FakeSlackApi.start({ botToken: SLACK_IDS.botToken, teamId: SLACK_IDS.teamId, botUserId: SLACK_IDS.botUserId, botId: SLACK_IDS.botId });
    cleanups.push(() => fake.close());
    const answerers = [scriptedAnswerer([{ text: 'From replica A', delayMs: 40 }]), scriptedAnswerer([{ text: 'From replica B', delayMs: 40 }])];
    const replicas: SlackHarness[] = [];
    for (const answerer of answerers) {
      const replica = await startSlackHarness({ answerer, fake, redisUrl, keyPrefix });
      cleanups.push(() => replica.close());
      replicas.push(replica);
    }

    const [first, second] = replicas as [SlackHarness, SlackHarness];
    await Promise.all([
      deliverEvent(first.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention')),
      deliverEvent(second.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('message-with-mention')),
      deliverEvent(second.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'), { retry: { num: 1, reason: 'http_timeout' } }),
      deliverEvent(first.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'), { retry: { num: 2, reason: 'http_timeout' } }),
    ]);
    await Promise.all([first.waitForReports(2), second.waitForReports(2)]);

    const results = [...first.reports, ...second.reports].map((report) => report.result).sort();
    expect(results).toEqual(['answered', 'duplicate', 'duplicate', 'duplicate']);
    expect(answerers[0]!.requests.length + answerers[1]!.requests.length).toBe(1);
    expect(fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs)).toHaveLength(1);

    // The follow-up lands on the other replica, which finds the thread (and its history) in Redis.
    const answered = answerers[0]!.requests.length === 1 ? 0 : 1;
    const other = replicas[1 - answered]!;
    await deliverEvent(other.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply'));
    await other.waitForReports(3);
    const followUp = answerers[1 - answered]!.requests.at(-1)!;
    expect(followUp.history.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs)).toHaveLength(2);
  });
});
