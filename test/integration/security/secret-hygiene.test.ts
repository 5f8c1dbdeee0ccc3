import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/config.js';
import { createConversationEngine } from '../../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../../src/engine/state-backends.js';
import type { ConversationEngine } from '../../../src/engine/types.js';
import { buildModelStack, type ModelStack } from '../../../src/composition/model-stack.js';
import { HttpServer } from '../../../src/http/http-server.js';
import { registerHealthRoutes, redisReadinessCheck } from '../../../src/observability/health.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { createClovaProvider } from '../../../src/providers/clova/index.js';
import { createSlackAdapter, type SlackAdapter, type SlackEventReport } from '../../../adapters/slack/index.js';
import { createDiscordAdapter, type DiscordAdapter } from '../../../adapters/discord/index.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix, withRedisClient } from '../../support/redis.js';
import { recordingLogger } from '../../support/recording-logger.js';
import { createInteractionKeys, sendInteraction, signInteraction } from '../../support/discord-http-interactions.js';
import { startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { FakeDiscordServer } from '../../fakes/discord/fake-discord-server.js';
import { GatewayInjector } from '../../fakes/discord/gateway-injector.js';
import { guildPayload, slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';

/** Every secret the bot can be given, each distinctive enough that any leak is found by plain search. */
const SECRETS = {
  clovaKey: 'nv-hostile7c1a0e5b9d2f4k3y',
  clovaGatewayKey: 'apigw-hostile-5e8d2c7b1a9f',
  openAiKey: 'sk-hostile-0f9e8d7c6b5a4938',
  slackBotToken: 'xoxb-7000000000009-7000000000008-HOSTILEbottokenHOSTILE',
  slackAppToken: 'xapp-1-A0HOSTILE01-7000000000007-HOSTILEapptokenHOSTILEapp',
  slackSigningSecret: 'hostile-signing-secret-9c4e2a7f1b3d',
  discordToken: 'MTAwMDAwMDAwMDAwMDAwMDAw.HOSTILE.discord-bot-token-4f2a9c',
  // Characters that must be percent-encoded in a URL, so an encoded form could slip past a plain scrub.
  redisPassword: 'hostile/p@ss:w0rd+x%y',
};
const TEAM_ID = 'T0HOSTILE01';
const BOT_USER_ID = 'U0HOSTBOT01';

/** Each secret as it could appear in output: raw, percent-encoded, JSON-escaped. */
function leakForms(): string[] {
  return Object.values(SECRETS).flatMap((secret) => [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
}

function leaksIn(text: string): string[] {
  return [...new Set(leakForms().filter((form) => text.includes(form)))];
}

describe('secrets never leave the process', () => {
  let lines: string[] = [];
  let config: Config;
  let clova: FakeClova;
  let slackApi: FakeSlackApi;
  let discordApi: FakeDiscordServer;
  let backends: StateBackends;
  let models: ModelStack;
  let engine: ConversationEngine;
  let http: HttpServer;
  let slack: SlackAdapter;
  let discord: DiscordAdapter;
  let baseUrl: string;
  let redisAdminUrl: string;
  const redisUser = `hostile-${process.pid}`;
  const keyPrefix = uniquePrefix('secrets');
  const slackReports: SlackEventReport[] = [];
  const applicationId = nextSnowflake();
  const guildId = nextSnowflake();
  const channelId = nextSnowflake();
  const interactionKeys = createInteractionKeys();

  beforeAll(async () => {
    redisAdminUrl = requireRedisUrl();
    // A Redis user of our own with a password, so the password in REDIS_URL is really used to log in.
    await withRedisClient(redisAdminUrl, (client) => client.sendCommand(['ACL', 'SETUSER', redisUser, 'on', 'resetpass', `>${SECRETS.redisPassword}`, `~${keyPrefix}*`, '+@all']));
    const redisUrl = new URL(redisAdminUrl);
    redisUrl.username = redisUser;
    redisUrl.password = encodeURIComponent(SECRETS.redisPassword);

    clova = await startFakeClova({ apiKeys: [SECRETS.clovaKey] });
    slackApi = await FakeSlackApi.start({ botToken: SECRETS.slackBotToken, appToken: SECRETS.slackAppToken, teamId: TEAM_ID, botUserId: BOT_USER_ID, botId: 'B0HOSTBOT01', users: { U0ASKER001: 'Ana' } });
    discordApi = new FakeDiscordServer(applicationId, SECRETS.discordToken);
    const discordUrl = await discordApi.start();

    config = loadConfig({
      LLM_PROVIDER: 'clova',
      LOG_LEVEL: 'trace',
      REDIS_URL: redisUrl.href,
      REDIS_KEY_PREFIX: keyPrefix,
      CLOVA_STUDIO_API_KEY: SECRETS.clovaKey,
      CLOVA_STUDIO_APIGW_KEY: SECRETS.clovaGatewayKey,
      CLOVA_STUDIO_BASE_URL: clova.url,
      OPENAI_API_KEY: SECRETS.openAiKey,
      SLACK_BOT_TOKEN: SECRETS.slackBotToken,
      SLACK_APP_TOKEN: SECRETS.slackAppToken,
      SLACK_SIGNING_SECRET: SECRETS.slackSigningSecret,
      SLACK_API_URL: slackApi.apiUrl,
      DISCORD_TOKEN: SECRETS.discordToken,
      DISCORD_APPLICATION_ID: applicationId,
      DISCORD_PUBLIC_KEY: interactionKeys.publicKey,
      DISCORD_API_URL: discordUrl,
      DISCORD_GATEWAY: 'false',
    });

    // The process logger exactly as main.ts builds it, at the most talkative level, into a captured stream.
    const recorded = recordingLogger({ level: config.LOG_LEVEL!, secrets: config.secrets });
    const logger = recorded.logger;
    lines = recorded.lines;
    const metrics = new Metrics({ collectProcessMetrics: true });
    backends = await createStateBackends({ redisUrl: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, threadTtlMs: config.THREAD_TTL_SECONDS * 1000, logger });
    models = await buildModelStack(config, { logger, metrics });
    engine = createConversationEngine({
      store: backends.store,
      coordinator: backends.coordinator,
      answerer: models.answerer,
      compactor: models.compactor,
      budget: models.budget,
      logger,
      metrics,
      turnTimeoutMs: 15_000,
      maxMessageChars: config.MAX_MESSAGE_CHARS,
    });
    http = new HttpServer();
    // HTTP Events API mode: the app token is configured (and must stay hidden) but the signing secret carries the traffic.
    slack = createSlackAdapter({
      botToken: config.SLACK_BOT_TOKEN!,
      signingSecret: config.SLACK_SIGNING_SECRET!,
      apiUrl: config.SLACK_API_URL,
      requireMention: config.REQUIRE_MENTION,
      answerBots: config.ANSWER_BOTS,
      engine,
      http,
      logger: logger.child({ platform: 'slack' }),
      metrics,
      previewIntervalMs: 10,
      onEventProcessed: (report) => slackReports.push(report),
    });
    discord = createDiscordAdapter({
      token: config.DISCORD_TOKEN!,
      applicationId: config.DISCORD_APPLICATION_ID!,
      publicKey: config.DISCORD_PUBLIC_KEY!,
      apiUrl: config.DISCORD_API_URL!,
      gateway: config.DISCORD_GATEWAY,
      engine,
      http,
      logger: logger.child({ platform: 'discord' }),
      metrics,
      editIntervalMs: 50,
    });
    registerHealthRoutes(http, { metrics, readiness: [...models.readiness, redisReadinessCheck(backends.redis!)], logger });
    const port = await http.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${port}`;
    await slack.start();
    await discord.start();
    new GatewayInjector(discord.client).guildCreate(guildPayload(guildId, channelId));
  });

  afterAll(async () => {
    await slack?.stop(5_000);
    await discord?.stop(5_000);
    await engine?.close(5_000);
    await http?.close();
    await models?.close();
    await backends?.close();
    await clova?.close();
    await slackApi?.close();
    await discordApi?.stop();
    await deleteKeysWithPrefix(redisAdminUrl, keyPrefix);
    await withRedisClient(redisAdminUrl, (client) => client.sendCommand(['ACL', 'DELUSER', redisUser]));
  });

  it('answers on Slack and Discord, fails a turn on a CLOVA 401, and no log line at trace level holds a secret', async () => {
    expect(config.secrets).toEqual(expect.arrayContaining(Object.values(SECRETS)));

    const mention = envelopeFrom('app-mention', { text: `<@${BOT_USER_ID}> How do I point the bot at Redis?` });
    inWorkspace(mention);
    expect((await deliverEvent(`${baseUrl}/slack/events`, SECRETS.slackSigningSecret, mention)).status).toBe(200);
    await waitFor('the Slack answer', () => slackReports.length === 1);
    expect(slackReports[0]).toMatchObject({ result: 'answered' });

    const ask = slashCommandPayload({ applicationId, guildId, channel: { id: channelId, type: 0 }, user: { id: nextSnowflake(), username: 'ana' }, name: 'ask', question: 'Which log levels are there?' });
    discordApi.registerInteraction({ id: ask.id, token: ask.token, channelId, guildId });
    const response = await sendInteraction(`${baseUrl}/discord/interactions`, signInteraction(ask, interactionKeys.privateKey));
    discordApi.acknowledgeFromHttpResponse(ask.token, response.json as { type: number });
    await waitFor('the Discord answer', () => (discordApi.originalResponse(ask.token)?.components.length ?? 0) > 0);

    // CLOVA refuses the key on the next turn, as it does when a key is revoked.
    clova.injectFaults('rag-reasoning', { fault: 'status', httpStatus: 401, code: '40100', message: `Unauthorized: invalid key ${SECRETS.clovaKey}` });
    const failing = envelopeFrom('app-mention', { text: `<@${BOT_USER_ID}> and with a password?`, ts: '1763719900.000900' });
    inWorkspace(failing).event_id = 'Ev0HOSTILE02';
    await deliverEvent(`${baseUrl}/slack/events`, SECRETS.slackSigningSecret, failing);
    await waitFor('the failed Slack turn', () => slackReports.length === 2);
    expect(slackReports[1]).toMatchObject({ result: 'failed' });

    // The secrets were really in use: each upstream saw its credential.
    expect(clova.requests.every((request) => request.headers.authorization === `Bearer ${SECRETS.clovaKey}`)).toBe(true);
    expect(slackApi.calls.filter((call) => call.method === 'chat.postMessage').every((call) => call.auth === 'bot')).toBe(true);
    expect(discordApi.requests.some((request) => request.auth === 'bot')).toBe(true);
    // The thread was stored through the password-authenticated Redis user.
    const stored = await withRedisClient(redisAdminUrl, async (client) => {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${keyPrefix}:thread:*`, COUNT: 100 })) keys.push(...batch);
      return keys.sort();
    });
    expect(stored).toEqual([`${keyPrefix}:thread:discord:${guildId}:${discordApi.originalResponse(ask.token)!.id}`, `${keyPrefix}:thread:slack:${TEAM_ID}:C0SUPPORT1:1763719200.000100`, `${keyPrefix}:thread:slack:${TEAM_ID}:C0SUPPORT1:1763719900.000900`].sort());

    // The log is real and detailed (turns, HTTP calls, the failure), and holds none of them.
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.filter((line) => line.includes('turn answered'))).toHaveLength(2);
    expect(lines.some((line) => line.includes('turn failed') && line.includes('"level":50'))).toBe(true);
    expect(lines.some((line) => line.includes('"level":20'))).toBe(true);
    expect(leaksIn(lines.join('\n'))).toEqual([]);

    // Nor does anything posted to the platforms, including the failure line.
    const posted = JSON.stringify([slackApi.calls.map((call) => call.params), discordApi.requests.map((request) => request.body)]);
    expect(posted).toContain('I could not sign in to my language model');
    expect(leaksIn(posted)).toEqual([]);
  });

  it('serves /metrics and /readyz without any secret', async () => {
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toContain('threadline_turns_total');
    expect(metrics).toContain('threadline_process_cpu');
    const ready = await (await fetch(`${baseUrl}/readyz`)).text();
    expect(ready).toContain('redis');
    expect(leaksIn(metrics + ready)).toEqual([]);
  });

  it('keeps the key out of the error a refused CLOVA key produces, even when the server echoes the key back', async () => {
    const revoked = 'nv-hostile-revoked-3b7e1f9a2c';
    const refusedProvider = createClovaProvider({ apiKey: revoked, baseUrl: clova.url, model: 'HCX-005', logger: silentLogger(), sleep: async () => {} });
    const echoedProvider = createClovaProvider({ apiKey: SECRETS.clovaKey, baseUrl: clova.url, model: 'HCX-005', logger: silentLogger(), sleep: async () => {} });
    const failureOf = (call: Promise<unknown>) => call.then(() => undefined, (caught: unknown) => caught);
    try {
      const refused = await failureOf(refusedProvider.chatModel.complete([{ role: 'user', content: 'hello' }], { maxTokens: 64 }));
      expect(clova.requests.at(-1)).toMatchObject({ responseStatus: 401 });
      // A gateway in front of CLOVA that quotes the key it refused, as some API gateways do.
      clova.injectFaults('chat', { fault: 'status', httpStatus: 401, code: '40100', message: `Invalid API key: ${SECRETS.clovaKey} (Bearer ${SECRETS.clovaKey})` });
      const echoed = await failureOf(echoedProvider.chatModel.complete([{ role: 'user', content: 'hello' }], { maxTokens: 64 }));

      for (const error of [refused, echoed]) {
        expect(error).toMatchObject({ code: 'clova_auth', status: 401 });
        const printed = [String(error), (error as Error).stack ?? '', inspect(error, { depth: 8, showHidden: true }), JSON.stringify(error)].join('\n');
        for (const key of [revoked, SECRETS.clovaKey]) {
          expect(printed).not.toContain(key);
          expect(printed).not.toContain(key.slice(3));
        }
      }
      expect((echoed as Error).message).toContain('Invalid API key: [redacted] ([redacted])');
    } finally {
      await refusedProvider.close();
      await echoedProvider.close();
    }
  });
});

/** The fixture envelope as delivered to this test's workspace. */
function inWorkspace(envelope: Record<string, unknown>): Record<string, unknown> {
  (envelope.event as Record<string, unknown>).team = TEAM_ID;
  envelope.team_id = TEAM_ID;
  envelope.context_team_id = TEAM_ID;
  envelope.authorizations = [{ enterprise_id: null, team_id: TEAM_ID, user_id: BOT_USER_ID, is_bot: true, is_enterprise_install: false }];
  return envelope;
}

