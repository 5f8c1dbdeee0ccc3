import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { FakeDiscordServer } from '../../fakes/discord/fake-discord-server.js';
import { slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

export const DISCORD_BOT_TOKEN = 'process-test-discord-bot-token-5c1e9a';

/** A fake Discord plus the application keys a bot process needs to serve HTTP interactions. */
export interface DiscordSetup {
  fake: FakeDiscordServer;
  applicationId: string;
  guildId: string;
  channelId: string;
  /** The bot's Discord variables (HTTP interactions only, no gateway). */
  env: Record<string, string>;
  /**
   * Posts `/ask question` to `baseUrl` signed like Discord (in the channel, or in the thread `inThread`
   * names), applies the HTTP acknowledgement to the fake and returns the interaction.
   */
  ask(baseUrl: string, question: string, options?: { inThread?: string }): Promise<{ token: string; id: string; status: number; responseType: number | undefined }>;
  close(): Promise<void>;
}

/** Starts a fake Discord REST API and an Ed25519 application key pair. */
export async function startDiscordSetup(options: { botToken?: string } = {}): Promise<DiscordSetup> {
  const applicationId = nextSnowflake();
  const guildId = nextSnowflake();
  const channelId = nextSnowflake();
  const botToken = options.botToken ?? DISCORD_BOT_TOKEN;
  const fake = new FakeDiscordServer(applicationId, botToken);
  const apiUrl = await fake.start();
  const keys = generateKeyPairSync('ed25519');
  const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return {
    fake,
    applicationId,
    guildId,
    channelId,
    env: {
      DISCORD_TOKEN: botToken,
      DISCORD_APPLICATION_ID: applicationId,
      DISCORD_PUBLIC_KEY: publicKey,
      DISCORD_API_URL: apiUrl,
      DISCORD_GATEWAY: 'false',
    },
    async ask(baseUrl, question, options = {}) {
      const channel = options.inThread ? { id: options.inThread, type: 11, parentId: channelId } : { id: channelId, type: 0 };
      const payload = slashCommandPayload({ applicationId, guildId, channel, user: { id: nextSnowflake(), username: 'ana' }, name: 'ask', question });
      fake.registerInteraction({ id: payload.id, token: payload.token, channelId: channel.id, guildId });
      const response = await deliverInteraction(`${baseUrl}/discord/interactions`, payload, keys.privateKey);
      const body = response.json as { type: number } | undefined;
      // In HTTP mode the acknowledgement is the response body; Discord applies it, so the fake must too.
      if (body && response.status === 200) fake.acknowledgeFromHttpResponse(payload.token, body);
      return { token: payload.token, id: payload.id, status: response.status, responseType: body?.type };
    },
    close: () => fake.stop(),
  };
}

/** POSTs an interaction the way Discord does: Ed25519 over timestamp + body, hex in two headers. */
export async function deliverInteraction(url: string, payload: unknown, privateKey: KeyObject): Promise<{ status: number; json: unknown }> {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + body), privateKey).toString('hex');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
    body,
  });
  const text = await response.text();
  const json: unknown = response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
  return { status: response.status, json };
}
