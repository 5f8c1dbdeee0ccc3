import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKnowledgeRetriever } from '../../../src/knowledge/load-knowledge.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createLocalReranker } from '../../../src/rag/local-reranker.js';
import { createOfflineAnswerer } from '../../../src/rag/offline-answerer.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { answerRequest } from '../../support/answer-request.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';
import { count, denseRuns, expectWellFormed, TRICKY } from './unicode-samples.js';

describe('unusual Unicode through Slack', () => {
  let slack: SlackHarness | undefined;
  let discord: DiscordTestBed | undefined;
  let engine: TestEngine | undefined;
  let cleanup: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await slack?.close();
    await discord?.close();
    await engine?.close();
    for (const step of cleanup) await step();
    slack = discord = engine = undefined;
    cleanup = [];
  });

  it('keeps zero-width, bidi, emoji and mixed Korean/English text exact through Slack, Redis and back', async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = uniquePrefix('unicode');
    cleanup.push(() => deleteKeysWithPrefix(redisUrl, keyPrefix));
    const answerer = scriptedAnswerer((request) => ({ text: `You wrote: ${request.message.text}` }));
    slack = await startSlackHarness({ answerer, redisUrl, keyPrefix });
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: `<@U0BOTUSER1> ${TRICKY}` }));
    await slack.waitForReports(1);

    expect(answerer.requests[0]!.message.text).toBe(TRICKY);
    const threadKey = `slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`;
    const stored = (await slack.engine.backends.store.load(threadKey)).state!;
    expect(stored.messages.map((message) => message.content)).toEqual([TRICKY, `You wrote: ${TRICKY}`]);
    const [reply] = slack.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(reply!.text).toContain(`You wrote: ${TRICKY}`);
  });

  it('splits a long emoji-dense Slack answer, streamed and final, without ever cutting a surrogate pair', async () => {
    for (const text of denseRuns(12_000)) {
      for (const streaming of ['native', 'update'] as const) {
        const answerer = scriptedAnswerer([{ text, deltas: text.match(/[\s\S]{1,2999}/g)! }]);
        slack = await startSlackHarness({ answerer, adapter: { streaming } });
        await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
        await slack.waitForReports(1);
        expect(slack.reports[0]).toMatchObject({ result: 'answered' });

        expectWellFormed(slack.fake.calls.map((call) => call.params));
        const thread = slack.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
        expect(thread.length).toBeGreaterThan(1);
        const delivered = thread.map((message) => message.text).join('');
        for (const symbol of ['😀', '👩‍👩‍👧‍👦', '🇰🇷', '가']) expect(count(delivered, symbol)).toBe(count(text, symbol));
        await slack.close();
        slack = undefined;
      }
    }
  });

  it('bounds a 40,000-character emoji message on Slack without a broken pair, and says so in the thread', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Read ${request.message.text.length} characters.` }));
    slack = await startSlackHarness({ answerer });
    // An odd offset, so the 8,000-character cut lands between the halves of a pair.
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: `<@U0BOTUSER1> x${'😀'.repeat(20_000)}` }));
    await slack.waitForReports(1);

    const received = answerer.requests[0]!.message.text;
    expect(received.length).toBeLessThanOrEqual(8_000);
    expect(received.length).toBeGreaterThan(7_990);
    expectWellFormed(received);
    const [reply] = slack.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(JSON.stringify(reply!.blocks)).toContain('longer than 8000 characters');
  });

  it('quotes an emoji-dense knowledge sentence longer than a quote may be without breaking a pair', async () => {
    const knowledge = await mkdtemp(join(tmpdir(), 'threadline-unicode-kb-'));
    cleanup.push(() => rm(knowledge, { recursive: true, force: true }));
    // Two sentences longer than the 400-character quote (and 240-character preview) limits, their emoji a
    // character apart, so each limit falls inside a pair in one of them.
    await writeFile(join(knowledge, 'channels.md'), `# Reactions in channels\n\nReaction emoji limits apply to every channel ${'🎉'.repeat(300)}.\n`);
    await writeFile(join(knowledge, 'threads.md'), `# Reactions in threads\n\nReaction emoji limits apply to every thread ${'🎉'.repeat(300)}.\n`);
    const retriever = await loadKnowledgeRetriever({ knowledgeDir: knowledge, logger: silentLogger() });
    const answerer = createOfflineAnswerer({ retriever, reranker: createLocalReranker(), logger: silentLogger() });
    slack = await startSlackHarness({ answerer });
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: '<@U0BOTUSER1> what are the reaction emoji limits?' }));
    await slack.waitForReports(1);

    const [reply] = slack.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(reply!.text).toContain('Reaction emoji limits apply to every channel');
    expect(reply!.text).toContain('Reaction emoji limits apply to every thread');
    expectWellFormed(slack.fake.calls.map((call) => call.params));
    // Slack's form encoding turns a lone half into a different, stray symbol rather than an error; none may appear.
    expect(new Set(reply!.text.match(/\p{Extended_Pictographic}/gu))).toEqual(new Set(['🎉']));
    // The source previews that come with the answer (for renderers that show them) are cut safely too.
    const direct = await answerer.answer(answerRequest([{ role: 'user', content: 'what are the reaction emoji limits?' }], { windowTokens: 8_192, maxOutputTokens: 512 }));
    expect(direct.sources).toHaveLength(2);
    expect(direct.sources.every((source) => source.snippet.length > 200)).toBe(true);
    expectWellFormed(direct);
  });

});
