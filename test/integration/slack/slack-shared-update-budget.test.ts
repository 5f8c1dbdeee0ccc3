import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/engine/answerer.js';
import { createRateBudgets } from '../../../src/composition/rate-budgets.js';
import { createRedisClient, startConnecting } from '../../../src/redis/connection.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { SLACK_IDS, startSlackHarness } from './slack-harness.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Writes its answer in many small pieces, so the reply sink wants a preview update after nearly every one. */
function streamingAnswerer(label: string): Answerer {
  return {
    reservedTokens: 0,
    async answer(request) {
      for (let part = 0; part < 12; part += 1) {
        await request.progress({ type: 'text-delta', text: `part ${part} ` });
        // Longer than the preview interval (10 ms), so every piece is a separate chance to update.
        await delay(25);
      }
      return { id: randomUUID(), mode: 'generated', notices: [], parts: [{ type: 'text', text: `FINAL answer from ${label}` }], sources: [] };
    },
  };
}

describe('two Slack app instances streaming into one workspace', () => {
  it('draw their preview updates from one chat.update budget in Redis; final answers always land', async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = uniquePrefix('slack-update-budget');
    cleanups.push(() => deleteKeysWithPrefix(redisUrl, keyPrefix));
    const fake = await FakeSlackApi.start({ botToken: SLACK_IDS.botToken, teamId: SLACK_IDS.teamId, botUserId: SLACK_IDS.botUserId, botId: SLACK_IDS.botId });
    cleanups.push(() => fake.close());
    // Three previews for the whole workspace, and effectively no refill while the test runs.
    const budget = { perMinute: 1, burst: 3 };

    const replicas = [];
    for (const label of ['A', 'B']) {
      const client = createRedisClient({ url: redisUrl, logger: silentLogger() });
      await startConnecting(client, 3_000);
      cleanups.push(() => client.close());
      const updateBudget = createRateBudgets({ redis: client, keyPrefix, logger: silentLogger() }).tokenBuckets('slack:chat.update', budget);
      const replica = await startSlackHarness({ answerer: streamingAnswerer(label), fake, redisUrl, keyPrefix, adapter: { streaming: 'update', updateBudget } });
      cleanups.push(() => replica.close());
      replicas.push(replica);
    }

    const [first, second] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    await Promise.all([
      deliverEvent(first.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { eventId: 'Ev0BUDGET01', ts: '1763719300.000100' })),
      deliverEvent(second.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { eventId: 'Ev0BUDGET02', ts: '1763719400.000100' })),
    ]);
    await Promise.all([first.waitForReports(1), second.waitForReports(1)]);
    expect([...first.reports, ...second.reports].map((report) => report.result)).toEqual(['answered', 'answered']);

    const updates = fake.callsTo('chat.update');
    const finals = updates.filter((call) => String(call.params.text).includes('FINAL answer'));
    const previews = updates.filter((call) => !String(call.params.text).includes('FINAL answer'));
    expect(finals).toHaveLength(2);
    // Each instance alone would have spent a burst of three; together they spent one.
    expect(previews.length).toBeLessThanOrEqual(budget.burst);
    expect(fake.store.threadReplies(SLACK_IDS.channel, '1763719300.000100').at(-1)?.text).toContain('FINAL answer from A');
    expect(fake.store.threadReplies(SLACK_IDS.channel, '1763719400.000100').at(-1)?.text).toContain('FINAL answer from B');
  });
});
