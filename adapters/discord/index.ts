/** The Discord front end: slash commands, threads, mentions and DMs on discord.js v14. */
export { createDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from './discord-adapter.js';
export { commandDefinitions } from './commands.js';
export { INTERACTIONS_PATH } from './interactions-endpoint.js';
export type { MessageReport, MessageResult } from './message-handler.js';
