import { describe, expect, it } from 'vitest';
import { startFakeClova } from '../../fakes/clova/fake-clova-server.js';
import { deleteKeysWithPrefix, requireRedisUrl, uniquePrefix, withRedisClient } from '../../support/redis.js';
import { PROCESS_TEST_TIMEOUT_MS, startBotProcess, terminate, cleanUpAfterEachTest } from '../../support/processes/bot-process.js';
import { startDiscordSetup } from '../../support/processes/discord-interactions.js';
import { questionEnvelope, startSlackWorkspace } from '../../support/processes/slack-workspace.js';

const cleanups = cleanUpAfterEachTest();

/** Every secret the bot reads, each distinctive enough that a plain search finds any leak. */
const SECRETS = {
  CLOVA_STUDIO_API_KEY: 'nv-procsecret4e7a1c9b2d8f',
  CLOVA_STUDIO_APIGW_KEY: 'apigw-procsecret-8b3f2e6a1d',
  OPENAI_API_KEY: 'sk-procsecret-7d6c5b4a3928',
  SLACK_BOT_TOKEN: 'xoxb-7000000000021-7000000000022-PROCSECRETbotPROCSECRET',
  SLACK_APP_TOKEN: 'xapp-1-A0PROCSECRT-7000000000023-PROCSECRETappPROCSECRETapp',
  SLACK_SIGNING_SECRET: 'procsecret-signing-3f9a6c2e8b1d',
  DISCORD_TOKEN: 'MTAwMDAwMDAwMDAwMDAwMDAx.PROCSECRET.discord-bot-token-9e1b7c',
  // Characters that must be percent-encoded in a URL, so an encoded copy could slip past a plain scrub.
  REDIS_PASSWORD: 'procsecret/p@ss:w0rd+q%z',
};

/** Each secret as it could show up in a log line: raw, percent-encoded, JSON-escaped, base64. */
function leaksIn(text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, secret]) => [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')].some((form) => text.includes(form)))
    .map(([name]) => name);
}

describe('a real bot process with every secret set, logging at trace level', () => {
  it('writes no secret to stderr or stdout through Slack (Socket Mode) and Discord turns, a refused CLOVA key, /metrics and /readyz', async () => {
    const adminUrl = requireRedisUrl();
    const keyPrefix = uniquePrefix('process-secrets');
    const redisUser = `procsecret-${process.pid}`;
    // A Redis user of our own, so the password in REDIS_URL is really used to log in.
    await withRedisClient(adminUrl, (client) => client.sendCommand(['ACL', 'SETUSER', redisUser, 'on', 'resetpass', `>${SECRETS.REDIS_PASSWORD}`, `~${keyPrefix}*`, '+@all']));
    cleanups.push(() => withRedisClient(adminUrl, (client) => client.sendCommand(['ACL', 'DELUSER', redisUser])).then(() => undefined));
    cleanups.push(() => deleteKeysWithPrefix(adminUrl, keyPrefix));
    const redisUrl = new URL(adminUrl);
    redisUrl.username = redisUser;
    redisUrl.password = encodeURIComponent(SECRETS.REDIS_PASSWORD);

    const clova = await startFakeClova({ apiKeys: [SECRETS.CLOVA_STUDIO_API_KEY] });
    const slack = await startSlackWorkspace({ botToken: SECRETS.SLACK_BOT_TOKEN, appToken: SECRETS.SLACK_APP_TOKEN });
    const discord = await startDiscordSetup({ botToken: SECRETS.DISCORD_TOKEN });
    cleanups.push(() => clova.close(), () => slack.fake.close(), () => discord.close());
    const bot = await startBotProcess({
      name: 'secretive',
      env: {
        ...slack.env,
        ...discord.env,
        SLACK_APP_TOKEN: SECRETS.SLACK_APP_TOKEN,
        SLACK_SIGNING_SECRET: SECRETS.SLACK_SIGNING_SECRET,
        LLM_PROVIDER: 'clova',
        LOG_LEVEL: 'trace',
        REDIS_URL: redisUrl.href,
        REDIS_KEY_PREFIX: keyPrefix,
        CLOVA_STUDIO_API_KEY: SECRETS.CLOVA_STUDIO_API_KEY,
        CLOVA_STUDIO_APIGW_KEY: SECRETS.CLOVA_STUDIO_APIGW_KEY,
        CLOVA_STUDIO_BASE_URL: clova.url,
        OPENAI_API_KEY: SECRETS.OPENAI_API_KEY,
      },
    });
    await slack.fake.socketMode.waitForConnection();

    // A Slack turn over Socket Mode, a Discord turn over HTTP interactions, then a Slack turn whose
    // CLOVA call is refused by a gateway that quotes the key back.
    await slack.fake.socketMode.sendEvent(questionEnvelope({ as: 'app_mention', text: 'How do I point the bot at Redis?', ts: '1763900000.000100' }));
    const asked = await discord.ask(bot.baseUrl, 'Which log levels are there?');
    await bot.waitForLogs('two answered turns', (line) => line.msg === 'turn answered', 2);
    clova.injectFaults('rag-reasoning', { fault: 'status', httpStatus: 401, code: '40100', message: `Unauthorized: invalid key ${SECRETS.CLOVA_STUDIO_API_KEY}` });
    await slack.fake.socketMode.sendEvent(questionEnvelope({ as: 'app_mention', text: 'And with a password?', ts: '1763900100.000100' }));
    await bot.waitForLog('the failed turn', (line) => line.msg === 'turn failed');
    const metrics = await (await fetch(`${bot.baseUrl}/metrics`)).text();
    const readiness = await (await fetch(`${bot.baseUrl}/readyz`)).text();
    expect(await terminate(bot)).toEqual({ code: 0, signal: null });

    // Every secret was in use: CLOVA, Slack's Web API and Socket Mode, Discord and Redis (the thread keys were written by the ACL user).
    expect(clova.requests.length).toBeGreaterThan(0);
    expect(clova.requests.every((request) => request.headers.authorization === `Bearer ${SECRETS.CLOVA_STUDIO_API_KEY}`)).toBe(true);
    expect(slack.fake.callsTo('apps.connections.open').map((call) => call.auth)).toContain('app');
    expect(slack.fake.callsTo('chat.postMessage').length).toBeGreaterThan(0);
    expect(slack.fake.callsTo('chat.postMessage').every((call) => call.auth === 'bot')).toBe(true);
    expect(discord.fake.originalResponse(asked.token)?.components.length).toBeGreaterThan(0);
    expect(discord.fake.requests.some((request) => request.auth === 'bot')).toBe(true);
    expect(await threadKeys(adminUrl, keyPrefix)).toHaveLength(3);

    // The log is real and detailed: debug lines, both answers, the failure as an error.
    const stderr = bot.stderrLines.join('\n');
    expect(bot.stderrLines.length).toBeGreaterThan(30);
    expect(bot.logs().some((line) => (line.level ?? 30) <= 20)).toBe(true);
    expect(bot.logs().some((line) => line.msg === 'turn failed' && line.level === 50 && line.code === 'clova_auth')).toBe(true);
    // The quoted key did reach the log path, and came out scrubbed.
    expect(bot.logs().some((line) => JSON.stringify(line).includes('invalid key [redacted]'))).toBe(true);
    expect(leaksIn(stderr)).toEqual([]);
    expect(leaksIn(bot.stdout())).toEqual([]);
    expect(leaksIn(metrics + readiness)).toEqual([]);
    expect(metrics).toContain('threadline_turns_total');
  }, PROCESS_TEST_TIMEOUT_MS);
});

async function threadKeys(adminUrl: string, keyPrefix: string): Promise<string[]> {
  return withRedisClient(adminUrl, async (client) => {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${keyPrefix}:thread:*`, COUNT: 100 })) keys.push(...batch);
    return keys;
  });
}

