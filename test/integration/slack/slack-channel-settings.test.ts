import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { createSettingsStore, type SettingsStore } from '../../../src/settings/index.js';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const QUIET_CHANNEL = 'C0QUIET001';
const MENTION_CHANNEL = 'C0MENTION1';
const BOTS_CHANNEL = 'C0DEPLOYS1';

const SETTINGS_YAML = `
version: 1
workspaces:
  ${SLACK_IDS.teamId}:
    channels:
      ${QUIET_CHANNEL}:
        enabled: false
      ${MENTION_CHANNEL}:
        mentionOnly: true
      ${BOTS_CHANNEL}:
        answerBots: true
`;

let folder: string;
let settings: SettingsStore;
let harness: SlackHarness | undefined;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'slack-settings-'));
  writeFileSync(join(folder, 'settings.yaml'), SETTINGS_YAML);
  settings = createSettingsStore({
    file: join(folder, 'settings.yaml'),
    defaults: { enabled: true, mentionOnly: false, answerBots: false, escalationContacts: {} },
    logger: silentLogger(),
    pollIntervalMs: 0,
  });
});

afterEach(async () => {
  await harness?.close();
  harness = undefined;
  settings.close();
  rmSync(folder, { recursive: true, force: true });
});

async function start() {
  const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
  harness = await startSlackHarness({ answerer, adapter: { settingsFor: (scope) => settings.settingsFor(scope) } });
  return { answerer, harness };
}

describe('Slack per-channel settings', () => {
  it('posts nothing at all in a disabled channel (no status, no placeholder, no answer, no reset), while other channels are answered', async () => {
    const { answerer, harness } = await start();
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { channel: QUIET_CHANNEL }));
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { channel: QUIET_CHANNEL, ts: '1763719201.000100', text: '<@U0BOTUSER1> reset' }));
    const reports = await harness.waitForReports(2);
    expect(reports.map((report) => [report.result, report.reason])).toEqual([
      ['ignored', 'channel-disabled'],
      ['ignored', 'channel-disabled'],
    ]);
    // Bolt itself may call auth.test once to authorise the first event; nothing else may reach Slack.
    expect(harness.fake.calls.filter((call) => call.method !== 'auth.test')).toEqual([]);
    expect(answerer.requests).toHaveLength(0);

    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    const [, , answered] = await harness.waitForReports(3);
    expect(answered).toMatchObject({ result: 'answered' });
    expect(answerer.requests.map((request) => request.message.scope.channelId)).toEqual([SLACK_IDS.channel]);
  });

  it('needs a mention for every message where mentionOnly is set, and only there', async () => {
    const { answerer, harness } = await start();
    const root = SLACK_IDS.mentionTs;
    const deliver = (envelope: Record<string, unknown>) => deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelope);

    await deliver(envelopeFrom('app-mention', { channel: MENTION_CHANNEL }));
    await harness.waitForReports(1);
    await deliver(envelopeFrom('thread-reply', { channel: MENTION_CHANNEL }));
    const [, plainFollowUp] = await harness.waitForReports(2);
    expect(plainFollowUp).toMatchObject({ result: 'ignored', reason: 'mention-required' });
    await deliver(envelopeFrom('app-mention', { channel: MENTION_CHANNEL, ts: '1763719300.000300', threadTs: root, text: '<@U0BOTUSER1> and now?' }));
    const [, , mentionedFollowUp] = await harness.waitForReports(3);
    expect(mentionedFollowUp).toMatchObject({ result: 'answered' });

    // The default channel keeps answering un-mentioned follow-ups in its threads.
    await deliver(envelopeFrom('app-mention'));
    await harness.waitForReports(4);
    await deliver(envelopeFrom('thread-reply'));
    const [, , , , defaultFollowUp] = await harness.waitForReports(5);
    expect(defaultFollowUp).toMatchObject({ result: 'answered' });
    expect(answerer.requests.map((request) => [request.message.scope.channelId, request.message.text, request.message.addressedToBot])).toEqual([
      [MENTION_CHANNEL, 'how do I reset my password? @Dana asked too', true],
      [MENTION_CHANNEL, 'and now?', true],
      [SLACK_IDS.channel, 'how do I reset my password? @Dana asked too', true],
      [SLACK_IDS.channel, 'and what if I no longer have access to my email?', false],
    ]);
  });

  it('answers other bots only in channels whose settings allow it', async () => {
    const { answerer, harness } = await start();
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('other-bot-message'));
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('other-bot-message', { channel: BOTS_CHANNEL }));
    const reports = await harness.waitForReports(2);
    expect(reports.map((report) => report.result).sort()).toEqual(['answered', 'ignored']);
    expect(answerer.requests.map((request) => request.message.scope.channelId)).toEqual([BOTS_CHANNEL]);
  });
});
