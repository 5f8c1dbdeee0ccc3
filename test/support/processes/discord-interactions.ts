import { FakeDiscordServer } from '../../fakes/discord/fake-discord-server.js';
import { slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { createInteractionKeys, sendInteraction, signInteraction } from '../discord-http-interactions.js';

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
  const keys = createInteractionKeys();
  return {
    fake,
    applicationId,
    guildId,
    channelId,
    env: {
      DISCORD_TOKEN: botToken,
      DISCORD_APPLICATION_ID: applicationId,
      DISCORD_PUBLIC_KEY: keys.publicKey,
      DISCORD_API_URL: apiUrl,
      DISCORD_GATEWAY: 'false',
    },
    async ask(baseUrl, question, options = {}) {
      const channel = options.inThread ? { id: options.inThread, type: 11, parentId: channelId } : { id: channelId, type: 0 };
      const payload = slashCommandPayload({ applicationId, guildId, channel, user: { id: nextSnowflake(), username: 'ana' }, name: 'ask', question });
      fake.registerInteraction({ id: payload.id, token: payload.token, channelId: channel.id, guildId });
      const response = await sendInteraction(`${baseUrl}/discord/interactions`, signInteraction(payload, keys.privateKey));
      const body = response.json as { type: number } | undefined;
      // In HTTP mode the acknowledgement is the response body; Discord applies it, so the fake must too.
      if (body && response.status === 200) fake.acknowledgeFromHttpResponse(payload.token, body);
      return { token: payload.token, id: payload.id, status: response.status, responseType: body?.type };
    },
    close: () => fake.stop(),
  };
}
