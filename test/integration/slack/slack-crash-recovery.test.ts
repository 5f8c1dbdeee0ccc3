import { describe, expect, it } from 'vitest';
import type { Answerer, AnswerRequest } from '../../../src/engine/answerer.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const THREAD_KEY = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
const RECOVERED = 'Recovered answer: open Settings, then Reset password.';

/**
 * An answerer whose process "dies" mid-answer: after its first words (each one waited for until Slack
 * saw it streamed) it never returns and never reacts to aborts, the way a killed process neither
 * finishes nor apologises.
 */
function frozenAnswerer(fake: FakeSlackApi, firstWords: string[]): Answerer & { requests: AnswerRequest[] } {
  const requests: AnswerRequest[] = [];
  return {
    reservedTokens: 0,
    requests,
    async answer(request) {
      requests.push(request);
      for (const words of firstWords) {
        const before = performance.now();
        await request.progress({ type: 'text-delta', text: words });
        await fake.waitForCall((call) => (call.method === 'chat.startStream' || call.method === 'chat.appendStream') && call.at >= before);
      }
      return new Promise(() => {});
    },
  };
}

interface Crash {
  fake: FakeSlackApi;
  survivor: TestEngine;
  answerer: ReturnType<typeof scriptedAnswerer>;
  harnesses: SlackHarness[];
  /** The ts of the message the dead process had posted. */
  orphanTs: string;
  callsAtDeath: number;
}

/**
 * Runs a mention on a process that dies once its reply has a message on Slack, then starts a second
 * process (same Redis, same Slack) that sweeps for orphans every 100 ms.
 */
async function crashThenRecover(options: { streaming: 'native' | 'update'; firstWords?: string[]; prepare?: (fake: FakeSlackApi) => void }, run: (crash: Crash) => Promise<void>): Promise<void> {
  const url = requireRedisUrl();
  const keyPrefix = uniquePrefix('slack-crash');
  const fake = await FakeSlackApi.start({
    botToken: SLACK_IDS.botToken,
    teamId: SLACK_IDS.teamId,
    botUserId: SLACK_IDS.botUserId,
    botId: SLACK_IDS.botId,
    users: { U0COLLEAG1: 'Dana', U0ASKER001: 'Ana' },
  });
  options.prepare?.(fake);
  const frozen = frozenAnswerer(fake, options.firstWords ?? []);
  const dying = await createTestEngine({ answerer: frozen, redisUrl: url, keyPrefix, lockTtlMs: 300 });
  const answerer = scriptedAnswerer([{ text: RECOVERED }]);
  const survivor = await createTestEngine({ answerer, redisUrl: url, keyPrefix, lockTtlMs: 300 });
  const harnesses: SlackHarness[] = [];
  try {
    const doomed = await startSlackHarness({ answerer: frozen, fake, engine: dying, adapter: { streaming: options.streaming, recoverySweepMs: 0 } });
    harnesses.push(doomed);
    await deliverEvent(doomed.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await expect.poll(() => frozen.requests.length).toBe(1);
    const handle = await expect
      .poll(async () => (await dying.backends.store.load(THREAD_KEY)).state?.inFlight?.replyHandle, { timeout: 5_000 })
      .toMatchObject({ channelId: SLACK_IDS.channel, threadTs: SLACK_IDS.mentionTs, messageTs: expect.stringMatching(/^\d+\.\d+$/), ...(options.firstWords ? { streamingTs: expect.any(String) } : {}) })
      .then(async () => (await dying.backends.store.load(THREAD_KEY)).state!.inFlight!.replyHandle!);
    // The process dies: its Redis connection is gone, its lock is never released, its adapter stops.
    dying.backends.redis!.destroy();
    await doomed.close(0);
    const callsAtDeath = fake.calls.length;

    harnesses.push(await startSlackHarness({ answerer, fake, engine: survivor, adapter: { recoverySweepMs: 100 } }));
    await run({ fake, survivor, answerer, harnesses, orphanTs: handle.messageTs!, callsAtDeath });
  } finally {
    for (const harness of harnesses) await harness.close();
    await survivor.close();
    await fake.close();
    await deleteKeysWithPrefix(url, keyPrefix);
  }
}

function finalUpdates(fake: FakeSlackApi) {
  return fake.callsTo('chat.update').filter((call) => String(call.params.text).includes('Recovered answer'));
}

describe('Slack turns left unfinished by a process that died', () => {
  it('are finished by another process in the placeholder the dead one had posted, replacing it exactly once', async () => {
    await crashThenRecover(
      { streaming: 'update', prepare: (fake) => fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type') },
      async ({ fake, survivor, answerer, orphanTs, callsAtDeath }) => {
        await expect.poll(() => finalUpdates(fake).length, { timeout: 10_000 }).toBe(1);
        const thread = fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
        expect(thread.map((message) => message.ts)).toEqual([orphanTs]);
        expect(thread[0]!.text).toContain(RECOVERED);
        expect(thread[0]!.blocks?.some((block) => (block as { type: string }).type === 'actions')).toBe(true);
        expect(finalUpdates(fake)[0]!.params.ts).toBe(orphanTs);
        // Nothing new was posted: the answer went into the message the user already saw.
        expect(fake.calls.slice(callsAtDeath).filter((call) => call.method === 'chat.postMessage')).toEqual([]);
        expect(answerer.requests.map((request) => request.message.text)).toEqual(['how do I reset my password? @Dana asked too']);
        await expect.poll(async () => (await survivor.backends.store.load(THREAD_KEY)).state?.inFlight).toBeUndefined();
        // Later sweeps leave the finished reply alone.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(finalUpdates(fake)).toHaveLength(1);
        expect(answerer.requests).toHaveLength(1);
      },
    );
  });

  it('stop the native stream a dead process left open, then finish the answer in that streamed message', async () => {
    // The engine records where a reply lives after each event it hands the sink: the third words
    // find the stream's message (started by the first, appended to by the second) and put it on record.
    await crashThenRecover({ streaming: 'native', firstWords: ['Open Settings ', 'and then ', 'choose '] }, async ({ fake, orphanTs, callsAtDeath }) => {
      await expect.poll(() => finalUpdates(fake).length, { timeout: 10_000 }).toBe(1);
      const thread = fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
      expect(thread.map((message) => message.ts)).toEqual([orphanTs]);
      expect(thread[0]!.streamingState).toBe('completed');
      expect(thread[0]!.text).toContain(RECOVERED);
      const afterDeath = fake.calls.slice(callsAtDeath).map((call) => call.method);
      expect(afterDeath.indexOf('chat.stopStream')).toBeLessThan(afterDeath.indexOf('chat.update'));
      expect(afterDeath.filter((method) => method === 'chat.postMessage' || method === 'chat.startStream')).toEqual([]);
    });
  });
});
