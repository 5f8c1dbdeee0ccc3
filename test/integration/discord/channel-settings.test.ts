import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageReport } from '../../../adapters/discord/index.js';
import { CHANNEL_DISABLED_TEXT } from '../../../adapters/discord/interaction-handler.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createSettingsStore, type SettingsStore } from '../../../src/settings/index.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { guildPayload, messagePayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'jisoo' };

let bed: DiscordTestBed | undefined;
let testEngine: TestEngine | undefined;
let settings: SettingsStore | undefined;
let folder: string | undefined;

afterEach(async () => {
  await bed?.close();
  await testEngine?.close();
  settings?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
  bed = testEngine = settings = folder = undefined;
});

/** A fake Discord with two guilds, and one adapter process reading a real settings file written for `channelSettings`. */
async function start(channelSettings: string) {
  const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
  testEngine = await createTestEngine({ answerer });
  bed = await createDiscordTestBed();
  folder = mkdtempSync(join(tmpdir(), 'discord-settings-'));
  // Quoted ids: YAML would read long unquoted numbers as (rounded) numbers.
  writeFileSync(join(folder, 'settings.yaml'), `workspaces:\n  "${bed.guildId}":\n    channels:\n      "${bed.channelId}":\n        ${channelSettings}\n`);
  const store = (settings = createSettingsStore({
    file: join(folder, 'settings.yaml'),
    defaults: { enabled: true, mentionOnly: false, answerBots: false, escalationContacts: {} },
    logger: silentLogger(),
    pollIntervalMs: 0,
  }));
  const reports: MessageReport[] = [];
  const process = await bed.startProcess(testEngine.engine, { settingsFor: (scope) => store.settingsFor(scope), onMessageProcessed: (report) => reports.push(report) });
  const otherGuild = { guildId: nextSnowflake(), channelId: nextSnowflake() };
  process.injector.guildCreate(guildPayload(otherGuild.guildId, otherGuild.channelId));
  return { answerer, bed, process, reports, otherGuild };
}

function mention(guildId: string, channelId: string, applicationId: string, text: string, author: { id: string; username: string; bot?: boolean } = user) {
  return messagePayload({ guildId, channelId, channelType: 0, author, content: `<@${applicationId}> ${text}`, mentions: [{ id: applicationId, username: 'threadline' }] });
}

describe('discord per-channel settings', () => {
  it('sends nothing to a disabled channel: no typing, no thread, no answer; /ask is declined privately', async () => {
    const { answerer, bed, process, reports, otherGuild } = await start('enabled: false');
    process.injector.messageCreate(mention(bed.guildId, bed.channelId, bed.applicationId, 'are you there?'));
    await waitFor('the mention to be handled', () => reports.length === 1);
    expect(reports[0]!.result).toBe('not-for-us');
    expect(bed.fake.requests).toEqual([]);

    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'are you there?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    process.injector.interactionCreate(ask);
    await waitFor('the private note', () => bed.fake.requests.length === 1);
    expect(bed.fake.requests[0]!.body).toMatchObject({ type: 4, data: { content: CHANNEL_DISABLED_TEXT, flags: 64 } });
    expect(bed.fake.threads.size).toBe(0);
    expect(answerer.requests).toHaveLength(0);

    // The same words in another guild are answered: the switch is per channel.
    process.injector.messageCreate(mention(otherGuild.guildId, otherGuild.channelId, bed.applicationId, 'are you there?'));
    await waitFor('the other guild to be answered', () => reports.length === 2);
    expect(reports[1]!.result).toBe('answered');
    expect(answerer.requests.map((request) => request.message.scope)).toEqual([{ workspaceId: otherGuild.guildId, channelId: otherGuild.channelId }]);
  });

  it('needs a mention for thread follow-ups where mentionOnly is set, and only there', async () => {
    const { answerer, bed, process, reports, otherGuild } = await start('mentionOnly: true');
    const strict = mention(bed.guildId, bed.channelId, bed.applicationId, 'first question');
    const relaxed = mention(otherGuild.guildId, otherGuild.channelId, bed.applicationId, 'first question');
    process.injector.messageCreate(strict);
    process.injector.messageCreate(relaxed);
    await waitFor('both threads to be answered', () => reports.length === 2);

    const followUp = (guildId: string, threadId: string, content: string, mentionsBot: boolean) =>
      messagePayload({ guildId, channelId: threadId, channelType: 11, author: user, content, ...(mentionsBot ? { mentions: [{ id: bed.applicationId, username: 'threadline' }] } : {}) });
    process.injector.messageCreate(followUp(bed.guildId, strict.id, 'plain follow-up', false));
    await waitFor('the strict follow-up', () => reports.length === 3);
    process.injector.messageCreate(followUp(otherGuild.guildId, relaxed.id, 'plain follow-up', false));
    await waitFor('the relaxed follow-up', () => reports.length === 4);
    process.injector.messageCreate(followUp(bed.guildId, strict.id, `<@${bed.applicationId}> mentioned follow-up`, true));
    await waitFor('the mentioned follow-up', () => reports.length === 5);

    expect(reports.slice(2).map((report) => report.result)).toEqual(['not-for-us', 'answered', 'answered']);
    expect(answerer.requests.slice(2).map((request) => [request.message.scope.workspaceId, request.message.text, request.message.addressedToBot])).toEqual([
      [otherGuild.guildId, 'plain follow-up', false],
      [bed.guildId, 'mentioned follow-up', true],
    ]);
  });

  it('answers other bots only in channels whose settings allow it', async () => {
    const { answerer, bed, process, reports, otherGuild } = await start('answerBots: true');
    const deployBot = { id: nextSnowflake(), username: 'deploy-bot', bot: true };
    process.injector.messageCreate(mention(bed.guildId, bed.channelId, bed.applicationId, 'build 4812 is live', deployBot));
    process.injector.messageCreate(mention(otherGuild.guildId, otherGuild.channelId, bed.applicationId, 'build 4812 is live', deployBot));
    await waitFor('both bot messages to be handled', () => reports.length === 2);
    expect(reports.map((report) => report.result).sort()).toEqual(['answered', 'not-for-us']);
    expect(answerer.requests.map((request) => request.message.scope.workspaceId)).toEqual([bed.guildId]);
  });
});
