import type { Client } from 'discord.js';

/**
 * The one place tests touch discord.js internals (no semver promise): raw gateway payloads go through
 * the same action handlers the WebSocket dispatcher uses, so `interactionCreate` / `messageCreate`
 * fire with genuine discord.js objects whose REST calls reach the fake Discord server.
 */
interface ClientInternals {
  guilds: { _add(data: unknown): unknown };
  actions: {
    InteractionCreate: { handle(data: unknown): unknown };
    MessageCreate: { handle(data: unknown): unknown };
    ThreadCreate: { handle(data: unknown): unknown };
  };
}

export class GatewayInjector {
  constructor(private readonly client: Client) {}

  /** GUILD_CREATE: what the gateway sends after READY for every guild the bot is in. */
  guildCreate(payload: unknown): void {
    this.internals.guilds._add(payload);
  }

  /** INTERACTION_CREATE (slash commands, button clicks). */
  interactionCreate(payload: unknown): void {
    this.internals.actions.InteractionCreate.handle(payload);
  }

  /** MESSAGE_CREATE. */
  messageCreate(payload: unknown): void {
    this.internals.actions.MessageCreate.handle(payload);
  }

  /** THREAD_CREATE (Discord sends it when the bot starts a thread). */
  threadCreate(payload: unknown): void {
    this.internals.actions.ThreadCreate.handle(payload);
  }

  private get internals(): ClientInternals {
    return this.client as unknown as ClientInternals;
  }
}
