/**
 * Registers the slash commands: `npm run discord:register`. With DISCORD_GUILD_ID the commands go to
 * that guild only (they appear at once; for development), otherwise globally (for production).
 * A PUT overwrites the whole set, so commands removed from `commandDefinitions` disappear too.
 */
import { pathToFileURL } from 'node:url';
import { REST, Routes } from 'discord.js';
import { z } from 'zod';
import { loadConfigOrExit } from '../../src/config/load-or-exit.js';
import { commandDefinitions } from './commands.js';
import { DiscordRequestError } from './errors.js';

export interface RegisterCommandsOptions {
  token: string;
  applicationId: string;
  /** Register in this guild only; omitted: global. */
  guildId?: string;
  /** REST base override (DISCORD_API_URL). */
  apiUrl?: string;
}

/** What Discord registered. */
export interface RegisteredCommands {
  scope: 'guild' | 'global';
  names: string[];
}

const registeredSchema = z.array(z.object({ id: z.string(), name: z.string() }));

/** Overwrites the application's commands (in one guild or globally) with ours. */
export async function registerCommands(options: RegisterCommandsOptions): Promise<RegisteredCommands> {
  const rest = new REST(options.apiUrl ? { api: options.apiUrl.replace(/\/+$/, '') } : {}).setToken(options.token);
  const route = options.guildId ? Routes.applicationGuildCommands(options.applicationId, options.guildId) : Routes.applicationCommands(options.applicationId);
  let response: unknown;
  try {
    response = await rest.put(route, { body: commandDefinitions() });
  } catch (error) {
    throw DiscordRequestError.from('register commands', error);
  }
  const registered = registeredSchema.parse(response);
  return { scope: options.guildId ? 'guild' : 'global', names: registered.map((command) => command.name) };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
    process.stderr.write('Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (Developer Portal → your application) to register commands.\n');
    process.exit(2);
  }
  try {
    const result = await registerCommands({
      token: config.DISCORD_TOKEN,
      applicationId: config.DISCORD_APPLICATION_ID,
      guildId: config.DISCORD_GUILD_ID,
      apiUrl: config.DISCORD_API_URL,
    });
    const where = result.scope === 'guild' ? `guild ${config.DISCORD_GUILD_ID} (available now)` : 'all guilds (global; may take a while to show up)';
    process.stdout.write(`Registered /${result.names.join(', /')} in ${where}.\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
