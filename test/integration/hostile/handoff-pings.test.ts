import { afterEach, describe, expect, it } from 'vitest';
import { createConversationEngine } from '../../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { ConversationEngine } from '../../../src/engine/types.js';
import { HttpServer } from '../../../src/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createSlackAdapter, type SlackAdapter, type SlackEventReport } from '../../../adapters/slack/index.js';
import { scriptedAnswerer, sendEverythingCompactor } from '../../support/engine-fixture.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { SLACK_IDS } from '../slack/slack-harness.js';
import { expectWellFormed } from './unicode-samples.js';

const CONTACTS = ['U0ONCALL01', 'S0OPSTEAM1'];

/** Every mention or broadcast token in mrkdwn text. */
function pingTokens(text: string): string[] {
  return [...text.matchAll(/<(@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+|!channel|!here|!everyone)(?:\|[^>]*)?>/g)].map((match) => match[1]!);
}

describe('handing a hostile thread to a person', () => {
  let fake: FakeSlackApi | undefined;
  let backends: StateBackends | undefined;
  let engine: ConversationEngine | undefined;
  let adapter: SlackAdapter | undefined;
  let http: HttpServer | undefined;

  afterEach(async () => {
    await adapter?.stop(5_000);
    await http?.close();
    await engine?.close(5_000);
    await backends?.close();
    await fake?.close();
    fake = backends = engine = adapter = http = undefined;
  });

  it('pings exactly the configured contacts, however the conversation it summarises tries to ping others', async () => {
    fake = await FakeSlackApi.start({ botToken: SLACK_IDS.botToken, teamId: SLACK_IDS.teamId, botUserId: SLACK_IDS.botUserId, botId: SLACK_IDS.botId });
    const logger = silentLogger();
    backends = await createStateBackends({ keyPrefix: 'handoff-hostile', threadTtlMs: 60_000, logger });
    const answerer = scriptedAnswerer([{ text: 'Please try the reset link <!channel>.' }]);
    const compactor = sendEverythingCompactor();
    const budget = { windowTokens: 128_000, maxOutputTokens: 1024 };
    engine = createConversationEngine({
      store: backends.store,
      coordinator: backends.coordinator,
      answerer,
      compactor,
      budget,
      policyFor: async () => ({ answerer, compactor, budget, escalationContacts: CONTACTS }),
      logger,
      turnTimeoutMs: 10_000,
      maxMessageChars: 8_000,
    });
    http = new HttpServer();
    const reports: SlackEventReport[] = [];
    adapter = createSlackAdapter({
      botToken: SLACK_IDS.botToken,
      signingSecret: SLACK_IDS.signingSecret,
      apiUrl: fake.apiUrl,
      requireMention: false,
      answerBots: false,
      engine,
      http,
      logger,
      botUserId: SLACK_IDS.botUserId,
      botId: SLACK_IDS.botId,
      onEventProcessed: (report) => reports.push(report),
    });
    const eventsUrl = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}/slack/events`;
    await adapter.start();

    // The user's messages, quoted in the case summary, carry every ping Slack knows, and emoji where quotes are cut.
    const messages = [
      `<@${SLACK_IDS.botUserId}> reset fails for order 12345 <!channel> <!everyone> <@U0ADMIN001> <!subteam^S0EVIL001|@evil> ${'😀'.repeat(200)}`,
      // One character more before the emoji, so the 300-character quote limit falls inside a pair in one of the two.
      `<@${SLACK_IDS.botUserId}> reset fails for order 12345 <!channel> <!everyone> <@U0ADMIN001> <!subteam^S0EVIL001|@evil> x${'😀'.repeat(200)}`,
      `<@${SLACK_IDS.botUserId}> I want to talk to a person <!here> <@U0ADMIN003>`,
    ];
    for (const [index, text] of messages.entries()) {
      const ts = `1763719200.00020${index}`;
      const envelope = envelopeFrom(index === 0 ? 'app-mention' : 'thread-reply', { text, ts, eventId: `Ev0HANDOFF0${index}`, ...(index === 0 ? {} : { threadTs: '1763719200.000200' }) });
      expect((await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelope)).status).toBe(200);
      await waitFor(`event ${index}`, () => reports.length === index + 1);
    }

    expect(reports.map((report) => report.result)).toEqual(['answered', 'answered', expect.stringMatching(/handed-off|answered/)]);
    const thread = fake.store.threadReplies(SLACK_IDS.channel, '1763719200.000200');
    const handoff = thread.find((message) => message.text.includes('A person is needed'));
    expect(handoff).toBeDefined();
    expect(pingTokens(handoff!.text).sort()).toEqual(['!subteam^S0OPSTEAM1', '@U0ONCALL01']);
    expect(handoff!.text).toContain('order 12345');
    // Quotes are cut before an emoji, never through one (half a pair turns into a stray symbol on the way to Slack).
    expect(new Set(handoff!.text.match(/\p{Extended_Pictographic}/gu))).toEqual(new Set(['😀']));
    expect(handoff!.text).not.toContain('\uFFFD');
    expect(handoff!.text.match(/😀…/g)?.length).toBe(4);
    // Everything else posted in the thread pings nobody.
    for (const message of thread.filter((candidate) => candidate !== handoff)) expect(pingTokens(`${message.text}${JSON.stringify(message.blocks ?? [])}`)).toEqual([]);
    expectWellFormed(fake.calls.map((call) => call.params));
  });
});
