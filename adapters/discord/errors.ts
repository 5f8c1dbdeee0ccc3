import { DiscordAPIError, HTTPError } from 'discord.js';
import { BotError } from '../../src/errors.js';

/** Interaction webhook URLs carry the interaction token, a credential; never let it reach a log line. */
export function redactDiscordUrl(url: string): string {
  return url
    .replace(/\/webhooks\/(\d+)\/[^/?#]+/g, '/webhooks/$1/[token]')
    .replace(/\/interactions\/(\d+)\/[^/?#]+/g, '/interactions/$1/[token]')
    .replace(/^https?:\/\/[^/]+/, '');
}

/**
 * A Discord REST call failed after the REST client's own retries (429s are waited out there, never
 * surfaced here). Carries the HTTP status, Discord's JSON error code and the route with tokens removed.
 */
export class DiscordRequestError extends BotError {
  readonly status: number | undefined;
  /** Discord's JSON error code (`10062` unknown interaction, `40060` already acknowledged, `50013` missing permissions…). */
  readonly discordCode: number | string | undefined;
  readonly route: string;

  constructor(fields: { operation: string; status?: number; discordCode?: number | string; route: string; detail?: string }) {
    super({
      code: 'discord_request_failed',
      message: `Discord ${fields.operation} failed (${fields.status ?? 'no status'}${fields.discordCode === undefined ? '' : `, code ${fields.discordCode}`}) on ${fields.route}${fields.detail ? `: ${fields.detail}` : ''}`,
      userMessage: 'I could not post my answer to Discord. Please try again in a moment.',
    });
    this.status = fields.status;
    this.discordCode = fields.discordCode;
    this.route = fields.route;
  }

  /** Maps a thrown REST error to this type, dropping the original (its URL and request body may hold tokens). */
  static from(operation: string, error: unknown): DiscordRequestError {
    if (error instanceof DiscordRequestError) return error;
    if (error instanceof DiscordAPIError) {
      return new DiscordRequestError({ operation, status: error.status, discordCode: error.code, route: `${error.method.toUpperCase()} ${redactDiscordUrl(error.url)}`, detail: 'message' in error.rawError ? error.rawError.message : error.rawError.error });
    }
    if (error instanceof HTTPError) {
      return new DiscordRequestError({ operation, status: error.status, route: `${error.method.toUpperCase()} ${redactDiscordUrl(error.url)}` });
    }
    const name = error instanceof Error ? error.name : typeof error;
    return new DiscordRequestError({ operation, route: 'unknown', detail: name });
  }
}

/** A platform payload (gateway event or HTTP interaction) did not have the shape we rely on. */
export class DiscordPayloadError extends BotError {
  readonly issues: string[];

  constructor(kind: string, issues: string[]) {
    super({ code: 'discord_payload_invalid', message: `Discord ${kind} payload is invalid: ${issues.slice(0, 5).join('; ')}` });
    this.issues = issues;
  }
}
