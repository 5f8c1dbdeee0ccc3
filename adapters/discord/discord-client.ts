import { Client, GatewayIntentBits, Partials } from 'discord.js';

/** Options of the discord.js client the adapter runs on. */
export interface DiscordClientOptions {
  /** REST base without the version (default `https://discord.com/api`); for proxies and tests. */
  apiUrl?: string;
  /** REST request timeout; discord.js retries timeouts and 5xx up to three times on its own. */
  requestTimeoutMs?: number;
}

/**
 * A discord.js client with the intents the bot needs and, client-wide, no allowed mentions: nothing
 * it sends can ping a user, a role, `@everyone` or `@here`, nor the author of a replied-to message.
 */
export function createDiscordClient(options: DiscordClientOptions = {}): Client {
  return new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      // Privileged (enable it in the Developer Portal): without it, thread follow-ups arrive with empty text.
      GatewayIntentBits.MessageContent,
      GatewayIntentBits.DirectMessages,
    ],
    // DM channels are not cached until a message arrives; without this partial, DMs are dropped.
    partials: [Partials.Channel],
    allowedMentions: { parse: [], repliedUser: false },
    rest: {
      ...(options.apiUrl ? { api: options.apiUrl.replace(/\/+$/, '') } : {}),
      timeout: options.requestTimeoutMs ?? 15_000,
    },
  });
}
