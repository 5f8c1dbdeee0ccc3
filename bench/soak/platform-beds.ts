/**
 * The fake platforms of the soak, each behind an interposing proxy that adds SOAK_PLATFORM_LATENCY_MS
 * and counts the bots' API calls: Discord (fake REST, HTTP interactions signed with an Ed25519 key of
 * the run's own) and Slack (fake Web API, Events API signed with the signing secret). Each gives the
 * bot processes their variables and builds the driver that talks to them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { FakeDiscordServer } from '../../test/fakes/discord/fake-discord-server.js';
import { BOT_TOKEN } from '../../test/fakes/discord/discord-test-bed.js';
import { nextSnowflake } from '../../test/fakes/discord/snowflakes.js';
import { startInterposingProxy, type InterposedExchange, type InterposingProxy } from '../../test/integration/faults/support/interposing-proxy.js';
import { SLACK_SIGNING_SECRET, startSlackWorkspace, WORKSPACE } from '../../test/support/processes/slack-workspace.js';
import type { SoakDriver } from './conversation.js';
import { DiscordSoakDriver } from './discord-driver.js';
import { SlackSoakDriver } from './slack-driver.js';
import type { SoakPlatform } from './turn-record.js';

export interface PlatformBedOptions {
  platformLatencyMs: number;
  turnTimeoutMs: number;
}

export interface PlatformBed {
  platform: SoakPlatform;
  /** What each bot process needs to serve this platform. */
  env: Record<string, string>;
  /** API calls the bots made to the platform so far. */
  readonly requests: number;
  /** The driver for bot processes at these base URLs (call once). */
  driver(botUrls: string[]): SoakDriver;
  close(): Promise<void>;
}

export async function startPlatformBed(platform: SoakPlatform, options: PlatformBedOptions): Promise<PlatformBed> {
  return platform === 'discord' ? startDiscordBed(options) : startSlackBed(options);
}

async function startDiscordBed(options: PlatformBedOptions): Promise<PlatformBed> {
  const applicationId = nextSnowflake();
  const fake = new FakeDiscordServer(applicationId, BOT_TOKEN);
  const fakeApiUrl = await fake.start();
  // The fake records every request for tests; the proxy already shows the soak what it needs.
  const forget = setInterval(() => fake.requests.splice(0), 1_000);
  let observe: (exchange: InterposedExchange) => void = () => {};
  let requests = 0;
  const proxy = await startInterposingProxy({
    target: new URL(fakeApiUrl).origin,
    latencyMs: options.platformLatencyMs,
    onExchange: (exchange) => {
      requests += 1;
      observe(exchange);
    },
  });
  const keys = generateKeyPairSync('ed25519');
  const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return {
    platform: 'discord',
    env: {
      DISCORD_TOKEN: BOT_TOKEN,
      DISCORD_APPLICATION_ID: applicationId,
      DISCORD_PUBLIC_KEY: publicKey,
      DISCORD_API_URL: `${proxy.url}/api`,
      DISCORD_GATEWAY: 'false',
    },
    get requests() {
      return requests;
    },
    driver(botUrls) {
      const driver = new DiscordSoakDriver({
        fake,
        endpoints: botUrls.map((url) => `${url}/discord/interactions`),
        privateKey: keys.privateKey,
        applicationId,
        guildId: nextSnowflake(),
        channelId: nextSnowflake(),
        user: { id: nextSnowflake(), username: 'soak' },
        platformLatencyMs: options.platformLatencyMs,
        turnTimeoutMs: options.turnTimeoutMs,
      });
      observe = driver.observe;
      return driver;
    },
    close: () => closeAll(forget, proxy, () => fake.stop()),
  };
}

async function startSlackBed(options: PlatformBedOptions): Promise<PlatformBed> {
  const { fake, env } = await startSlackWorkspace();
  // Only the store's state matters to the soak; the fake's own call log would grow without bound.
  const forget = setInterval(() => {
    fake.calls.splice(0);
    fake.store.statuses.splice(0);
  }, 1_000);
  let requests = 0;
  const proxy = await startInterposingProxy({
    target: new URL(fake.apiUrl).origin,
    latencyMs: options.platformLatencyMs,
    onExchange: () => (requests += 1),
  });
  return {
    platform: 'slack',
    env: { ...env, SLACK_API_URL: `${proxy.url}/api/` },
    get requests() {
      return requests;
    },
    driver: (botUrls) =>
      new SlackSoakDriver({
        fake,
        endpoints: botUrls.map((url) => `${url}/slack/events`),
        signingSecret: SLACK_SIGNING_SECRET,
        teamId: WORKSPACE.teamId,
        channel: WORKSPACE.channel,
        turnTimeoutMs: options.turnTimeoutMs,
      }),
    close: () => closeAll(forget, proxy, () => fake.close()),
  };
}

async function closeAll(forget: NodeJS.Timeout, proxy: InterposingProxy, closeFake: () => Promise<void>): Promise<void> {
  clearInterval(forget);
  await proxy.close();
  await closeFake();
}
