import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/engine/answerer.js';
import { loadKnowledgeRetriever } from '../../../src/knowledge/load-knowledge.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createLocalReranker } from '../../../src/rag/local-reranker.js';
import { createOfflineAnswerer } from '../../../src/rag/offline-answerer.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';

/** Every way untrusted text could try to notify people or dress up a link, in Slack and Discord syntax. */
const PAYLOAD = [
  'Attention <!channel> <!here> <!everyone> and <@U0ADMIN001>, <!subteam^S0OPS1|@ops> too.',
  'Discord folks: @everyone @here <@123456789012345678> <@!123456789012345678> <@&876543210987654321>.',
  'Log in at [click](javascript:alert(document.cookie)) or <http://evil.example/login|the trusted portal> or <javascript:alert(1)|here>.',
].join(' ');

/** Slack syntax that would ping, broadcast or render as a link if it reached a message unescaped. */
const SLACK_ACTIVE = /<!channel>|<!here>|<!everyone>|<@U0ADMIN001>|<!subteam|<http:\/\/evil|<javascript:|\|the trusted portal>/;

/** Targets of every link token (`<url|label>` or `<url>`) in mrkdwn text. */
function slackLinkTargets(text: string): string[] {
  return [...text.matchAll(/<([^<>|]+)(?:\|[^<>]*)?>/g)].map((match) => match[1]!);
}

/** Discord syntax that would ping if it reached a message unbroken. */
const DISCORD_ACTIVE = /@(everyone|here)|<@[!&]?\d+>/;

describe('mention and link injection', () => {
  let knowledge: string;
  let documentAnswerer: Answerer;
  let slack: SlackHarness | undefined;
  let discord: DiscordTestBed | undefined;
  let engine: TestEngine | undefined;

  beforeAll(async () => {
    knowledge = await mkdtemp(join(tmpdir(), 'threadline-hostile-kb-'));
    // A knowledge document written by someone hostile: its title, its link and its sentences all carry the payload.
    await writeFile(
      join(knowledge, 'password-resets.md'),
      [
        '---',
        `title: "Password resets <!channel> @everyone <@&876543210987654321>"`,
        'url: "javascript:alert(1)"',
        '---',
        '',
        `Password resets are approved by the security desk. ${PAYLOAD}`,
        '',
        'Password resets take effect within ten minutes of approval.',
      ].join('\n'),
    );
    const retriever = await loadKnowledgeRetriever({ knowledgeDir: knowledge, logger: silentLogger() });
    documentAnswerer = createOfflineAnswerer({ retriever, reranker: createLocalReranker(), logger: silentLogger() });
  });
  afterAll(async () => {
    await rm(knowledge, { recursive: true, force: true });
  });
  afterEach(async () => {
    await slack?.close();
    await discord?.close();
    await engine?.close();
    slack = discord = engine = undefined;
  });

  async function slackAnswerFrom(answerer: Answerer, streaming: 'native' | 'update'): Promise<SlackHarness> {
    const harness = await startSlackHarness({ answerer, adapter: { streaming } });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: '<@U0BOTUSER1> how are password resets approved?' }));
    await harness.waitForReports(1);
    expect(harness.reports[0]).toMatchObject({ result: 'answered' });
    return harness;
  }

  function expectInertOnSlack(harness: SlackHarness): string {
    const outgoing = harness.fake.calls.map((call) => JSON.stringify(call.params)).join('\n');
    expect(outgoing).not.toMatch(SLACK_ACTIVE);
    const [reply] = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(reply).toBeDefined();
    const posted = `${reply!.text}\n${JSON.stringify(reply!.blocks ?? [])}`;
    // The words are still there for people to read, escaped into plain text.
    expect(posted).toContain('&lt;!channel&gt;');
    // No link points anywhere but to an http(s) page we chose; nothing from the payload became clickable.
    for (const target of slackLinkTargets(posted)) expect(target).toMatch(/^https:\/\/docs\.example\.com\//);
    return posted;
  }

  it('Slack: model output full of pings and disguised links posts as inert text, in previews and the answer', async () => {
    for (const streaming of ['native', 'update'] as const) {
      const answerer = scriptedAnswerer([
        {
          text: `Resets are approved by the security desk. ${PAYLOAD} See [the guide](https://docs.example.com/resets).`,
          deltas: ['Resets are approved by the security desk. ', PAYLOAD],
          sources: [{ docId: 'kb-1', title: 'Resets <!here> [x](javascript:alert(1))', url: 'https://docs.example.com/resets', snippet: '<!channel>' }],
          citations: [{ after: 'security desk.', source: 1 }],
        },
      ]);
      slack = await slackAnswerFrom(answerer, streaming);
      const posted = expectInertOnSlack(slack);
      // The model's own well-formed https link is kept; that is what links are for.
      expect(posted).toContain('<https://docs.example.com/resets|the guide>');
      await slack.close();
      slack = undefined;
    }
  });

  it('Slack: a hostile knowledge document quoted by the answerer pings nobody and links nowhere', async () => {
    slack = await slackAnswerFrom(documentAnswerer, 'native');
    const posted = expectInertOnSlack(slack);
    expect(posted).toContain('security desk');
    // The document's javascript: URL is shown as nothing clickable; its title is plain text.
    expect(posted).not.toContain('javascript:alert(1)|');
    expect(posted).toMatch(/Password resets &lt;!channel&gt;/);
  });

  it('Discord: model output and a hostile document ping nobody, and the mention syntax is broken for readers too', async () => {
    const modelAnswerer = scriptedAnswerer([{ text: `Resets are approved by the security desk. ${PAYLOAD}`, deltas: [PAYLOAD] }]);
    for (const answerer of [modelAnswerer, documentAnswerer]) {
      engine = await createTestEngine({ answerer });
      discord = await createDiscordTestBed();
      const bed = discord;
      const { injector } = await bed.startProcess(engine.engine);
      const directMessages = nextSnowflake();
      injector.messageCreate(messagePayload({ channelId: directMessages, channelType: 1, author: { id: nextSnowflake(), username: 'mallory' }, content: 'how are password resets approved?' }));
      await waitFor('the answer', () => bed.fake.channelMessages(directMessages).some((message) => message.components.length > 0));

      const [answer] = bed.fake.channelMessages(directMessages);
      expect(answer!.content).toContain('security desk');
      expect(answer!.content.replace(/\u200b/g, '')).toMatch(/@everyone/);
      expect(answer!.content).not.toMatch(DISCORD_ACTIVE);
      expect(bed.fake.pings).toEqual([]);
      const writes = bed.fake.requests.filter((request) => ['POST', 'PATCH'].includes(request.method) && /\/messages(\/\d+)?$/.test(request.path));
      expect(writes.length).toBeGreaterThan(0);
      for (const write of writes) {
        const body = write.body as { content?: string; allowed_mentions?: unknown };
        expect(body.allowed_mentions).toEqual({ parse: [], replied_user: false });
        expect(body.content ?? '').not.toMatch(DISCORD_ACTIVE);
      }
      await discord.close();
      await engine.close();
      discord = engine = undefined;
    }
  });
  it('user text echoed back (by the model, in a thread name, in a quoted question) stays inert on both platforms', async () => {
    const echo = scriptedAnswerer((request) => ({ text: `You asked: ${request.message.text}` }));
    slack = await startSlackHarness({ answerer: echo });
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: `<@U0BOTUSER1> ${PAYLOAD}` }));
    await slack.waitForReports(1);
    expect(slack.fake.calls.map((call) => JSON.stringify(call.params)).join('\n')).not.toMatch(SLACK_ACTIVE);
    const [reply] = slack.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
    expect(reply!.text).toContain('You asked: Attention @channel @here @everyone');

    engine = await createTestEngine({ answerer: echo });
    discord = await createDiscordTestBed();
    const bed = discord;
    const { injector } = await bed.startProcess(engine.engine);
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user: { id: nextSnowflake(), username: 'mallory' }, name: 'ask', question: PAYLOAD });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    injector.interactionCreate(ask);
    await waitFor('the /ask answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    const thread = [...bed.fake.threads.values()][0]!;
    expect(thread.name).not.toMatch(DISCORD_ACTIVE);
    expect(bed.fake.originalResponse(ask.token)!.content).not.toMatch(DISCORD_ACTIVE);
    expect(bed.fake.pings).toEqual([]);
    for (const request of bed.fake.requests) expect(JSON.stringify(request.body ?? '')).not.toMatch(DISCORD_ACTIVE);
  });
});
