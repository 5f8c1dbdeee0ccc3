import { describe, expect, it } from 'vitest';
import { createClient } from '@keyv/redis';
import type { ConversationEngine } from '../../../src/engine/types.js';
import { closeAfterEach } from '../../support/close-after-each.js';
import { createTestEngine, scriptedAnswerer } from '../../support/engine-fixture.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix } from '../../support/redis.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { createDiscordTestBed, waitFor } from '../../fakes/discord/discord-test-bed.js';
import { guildPayload, messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { SLACK_IDS, startSlackHarness } from '../slack/slack-harness.js';

const OTHER_TEAM = 'T0TEAM0002';

/** The same envelope as Slack would deliver it from another workspace that happens to reuse the channel id and ts. */
function fromWorkspace(envelope: Record<string, unknown>, teamId: string, eventId: string): Record<string, unknown> {
  const event = envelope.event as Record<string, unknown>;
  event.team = teamId;
  envelope.team_id = teamId;
  envelope.context_team_id = teamId;
  envelope.event_id = eventId;
  envelope.authorizations = (envelope.authorizations as Array<Record<string, unknown>>).map((authorization) => ({ ...authorization, team_id: teamId }));
  return envelope;
}

async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
    return keys.sort();
  } finally {
    await client.close();
  }
}

describe('threads of one workspace or guild are invisible to another', () => {
  const closeLater = closeAfterEach();
  /** A key prefix of the test's own, its keys deleted once the test and everything it opened are done. */
  const prefixDeletedAfterwards = (label: string) => {
    const prefix = uniquePrefix(label);
    closeLater({ close: () => deleteKeysWithPrefix(requireRedisUrl(), prefix) });
    return prefix;
  };

  it('Slack: a second workspace with the same channel id and thread ts starts with no history and cannot continue the first one', async () => {
    const redisUrl = requireRedisUrl();
    const prefix = prefixDeletedAfterwards('tenants-slack');
    const answerer = scriptedAnswerer((request) => ({ text: `Noted for ${request.message.scope.workspaceId}.` }));
    const slack = closeLater(await startSlackHarness({ answerer, redisUrl, keyPrefix: prefix }));

    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: '<@U0BOTUSER1> our VPN password is tulip-42' }));
    await slack.waitForReports(1);
    // Workspace B: an un-mentioned reply in "the same" thread must not be taken for a follow-up…
    const followUp = fromWorkspace(envelopeFrom('thread-reply', { text: 'and what was the VPN password again?' }), OTHER_TEAM, 'Ev0OTHER0001');
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, followUp);
    const [, ignored] = await slack.waitForReports(2);
    expect(ignored).toMatchObject({ result: 'ignored', reason: 'unknown-thread' });
    // …and a mention there starts a separate conversation.
    const mention = fromWorkspace(envelopeFrom('app-mention', { text: '<@U0BOTUSER1> what was the VPN password?' }), OTHER_TEAM, 'Ev0OTHER0002');
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, mention);
    const reports = await slack.waitForReports(3);

    expect(reports[2]).toMatchObject({ result: 'answered' });
    expect(answerer.requests).toHaveLength(2);
    const second = answerer.requests[1]!;
    expect(second.message.scope).toEqual({ workspaceId: OTHER_TEAM, channelId: SLACK_IDS.channel });
    expect(second.message.threadKey).toBe(`slack:${OTHER_TEAM}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`);
    expect(second.history.map((message) => message.content)).toEqual(['what was the VPN password?']);
    expect(JSON.stringify(second.history)).not.toContain('tulip-42');

    const threadKeys = (await keysUnder(redisUrl, prefix)).filter((key) => key.includes(':thread:'));
    expect(threadKeys).toEqual([
      `${prefix}:thread:slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`,
      `${prefix}:thread:slack:${OTHER_TEAM}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`,
    ]);
    // "reset" from the other workspace starts only its own thread over.
    const reset = fromWorkspace(envelopeFrom('thread-reply', { text: '<@U0BOTUSER1> reset', ts: '1763719300.000500' }), OTHER_TEAM, 'Ev0OTHER0003');
    await deliverEvent(slack.eventsUrl, SLACK_IDS.signingSecret, reset);
    expect((await slack.waitForReports(4))[3]).toMatchObject({ result: 'reset' });
    expect(await slack.engine.engine.hasThread(`slack:${OTHER_TEAM}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`)).toBe(false);
    const first = await slack.engine.backends.store.load(`slack:${SLACK_IDS.teamId}:${SLACK_IDS.channel}:${SLACK_IDS.mentionTs}`);
    expect(first.state?.messages.map((message) => message.content)).toEqual(['our VPN password is tulip-42', `Noted for ${SLACK_IDS.teamId}.`]);
  });

  it('Discord: a second guild reusing the thread id starts with no history, and its plain messages are not follow-ups', async () => {
    const redisUrl = requireRedisUrl();
    const prefix = prefixDeletedAfterwards('tenants-discord');
    const answerer = scriptedAnswerer((request) => ({ text: `Noted for ${request.message.scope.workspaceId}.` }));
    const engine = closeLater(await createTestEngine({ answerer, redisUrl, keyPrefix: prefix })).engine;
    const bed = closeLater(await createDiscordTestBed());
    // Records which threads the adapter asked about, so the test knows when a message was decided on.
    const threadLookups: Array<{ threadKey: string; known: boolean }> = [];
    const observed: ConversationEngine = {
      handle: (message, sink) => engine.handle(message, sink),
      claimEvent: (eventId) => engine.claimEvent(eventId),
      releaseEvent: (eventId) => engine.releaseEvent(eventId),
      hasThread: async (threadKey) => {
        const known = await engine.hasThread(threadKey);
        threadLookups.push({ threadKey, known });
        return known;
      },
      resetThread: (threadKey) => engine.resetThread(threadKey),
      recordFeedback: (feedback) => engine.recordFeedback(feedback),
      recoverOrphanedTurns: (platform, sinkFor) => engine.recoverOrphanedTurns(platform, sinkFor),
      close: (deadlineMs) => engine.close(deadlineMs),
    };
    const { injector } = await bed.startProcess(observed);
    const otherGuild = nextSnowflake();
    const otherChannel = nextSnowflake();
    injector.guildCreate(guildPayload(otherGuild, otherChannel));
    const user = { id: nextSnowflake(), username: 'mallory' };
    const sharedThread = nextSnowflake();

    const askIn = (guildId: string, parentId: string, question: string) => {
      const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId, channel: { id: sharedThread, type: 11, parentId }, user, name: 'ask', question });
      bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: sharedThread, guildId });
      injector.interactionCreate(ask);
      return ask;
    };
    const first = askIn(bed.guildId, bed.channelId, 'our VPN password is tulip-42');
    await waitFor('the first answer', () => (bed.fake.originalResponse(first.token)?.components.length ?? 0) > 0);
    // A plain message in that thread id from the other guild is not a follow-up of the first conversation.
    injector.messageCreate(messagePayload({ guildId: otherGuild, channelId: sharedThread, channelType: 11, author: user, content: 'what was the VPN password again?' }));
    await waitFor('the plain message to be decided on', () => threadLookups.some((lookup) => lookup.threadKey === `discord:${otherGuild}:${sharedThread}`));
    expect(threadLookups.find((lookup) => lookup.threadKey === `discord:${otherGuild}:${sharedThread}`)?.known).toBe(false);
    const second = askIn(otherGuild, otherChannel, 'what was the VPN password?');
    await waitFor('the second answer', () => (bed.fake.originalResponse(second.token)?.components.length ?? 0) > 0);

    expect(answerer.requests.map((request) => request.message.text)).toEqual(['our VPN password is tulip-42', 'what was the VPN password?']);
    const request = answerer.requests[1]!;
    expect(request.message.threadKey).toBe(`discord:${otherGuild}:${sharedThread}`);
    expect(request.message.scope.workspaceId).toBe(otherGuild);
    expect(request.history.map((message) => message.content)).toEqual(['what was the VPN password?']);
    expect(bed.fake.originalResponse(second.token)?.content).toBe(`Noted for ${otherGuild}.`);

    const threadKeys = (await keysUnder(redisUrl, prefix)).filter((key) => key.includes(':thread:'));
    expect(threadKeys).toEqual([`${prefix}:thread:discord:${bed.guildId}:${sharedThread}`, `${prefix}:thread:discord:${otherGuild}:${sharedThread}`].sort());
  });
});
