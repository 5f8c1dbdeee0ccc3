import { Routes, type REST } from 'discord.js';
import { z } from 'zod';
import { DiscordRequestError, DiscordPayloadError } from './errors.js';

/** Raw message components as the API takes them (action rows of buttons). */
export interface MessageComponentRow {
  type: 1;
  components: Array<{ type: 2; style: number; label: string; custom_id: string; emoji?: { name: string } }>;
}

/** The body of a message we post or edit. */
export interface OutgoingMessage {
  content: string;
  /** Omitted: no components (an edit then removes earlier ones). */
  components?: MessageComponentRow[];
  /**
   * The only users and roles this message may ping (a handoff to its escalation contacts). Omitted:
   * nothing pings. Never a `parse` list, so no id outside these lists can ever ping.
   */
  pings?: { users: string[]; roles: string[] };
}

/** A message Discord accepted. */
export interface PostedMessage {
  id: string;
  channelId: string;
}

/** Allowed mentions for everything we post: no user, role, `@everyone` or `@here` ping, and no reply ping. */
export const NO_MENTIONS = Object.freeze({ parse: [] as string[], replied_user: false });

const messageResponseSchema = z.object({ id: z.string().min(1), channel_id: z.string().min(1) });
const channelResponseSchema = z.object({ id: z.string().min(1) });

/**
 * The Discord REST calls the adapter makes, on the discord.js REST client (which queues per route
 * bucket and waits out 429s by their `Retry-After`). Every message body carries `NO_MENTIONS` (or, for
 * a handoff, an explicit list of the contacts), so no path can ping anyone else whatever the text says. Interaction webhook calls use the interaction token
 * and never send the bot token.
 */
export class DiscordRest {
  constructor(
    private readonly rest: REST,
    private readonly applicationId: string,
  ) {}

  /** Edits the interaction's original response (`PATCH /webhooks/{app}/{token}/messages/@original`). */
  async editOriginalResponse(interactionToken: string, message: OutgoingMessage): Promise<PostedMessage> {
    const response = await this.call('edit original response', () =>
      this.rest.patch(Routes.webhookMessage(this.applicationId, interactionToken, '@original'), { body: messageBody(message), auth: false }),
    );
    return parseMessage(response);
  }

  /**
   * Posts a message in a channel or thread with the bot token; `replyTo` quotes the user's message.
   * With `nonce`, Discord creates the message once however often the request is retried (a 5xx or a
   * lost response after Discord had already posted it), so a retry never shows the answer twice.
   */
  async createMessage(channelId: string, message: OutgoingMessage, replyTo?: string, nonce?: string): Promise<PostedMessage> {
    const body = {
      ...messageBody(message),
      ...(replyTo ? { message_reference: { message_id: replyTo, channel_id: channelId, fail_if_not_exists: false } } : {}),
      ...(nonce ? { nonce, enforce_nonce: true } : {}),
    };
    const response = await this.call('create message', () => this.rest.post(Routes.channelMessages(channelId), { body }));
    return parseMessage(response);
  }

  async editMessage(channelId: string, messageId: string, message: OutgoingMessage): Promise<PostedMessage> {
    const response = await this.call('edit message', () => this.rest.patch(Routes.channelMessage(channelId, messageId), { body: messageBody(message) }));
    return parseMessage(response);
  }

  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.call('delete message', () => this.rest.delete(Routes.channelMessage(channelId, messageId)));
  }

  /** Starts a public thread on a message; Discord gives the thread the message's id. */
  async startThreadFromMessage(channelId: string, messageId: string, name: string, autoArchiveMinutes = 1440): Promise<string> {
    const response = await this.call('start thread', () =>
      this.rest.post(Routes.threads(channelId, messageId), { body: { name, auto_archive_duration: autoArchiveMinutes } }),
    );
    const parsed = channelResponseSchema.safeParse(response);
    if (!parsed.success) throw new DiscordPayloadError('thread', parsed.error.issues.map((issue) => issue.message));
    return parsed.data.id;
  }

  /** Shows "Bot is typing…" for about ten seconds or until the bot posts. */
  async sendTyping(channelId: string): Promise<void> {
    await this.call('send typing', () => this.rest.post(Routes.channelTyping(channelId)));
  }

  private async call<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw DiscordRequestError.from(operation, error);
    }
  }
}

function messageBody(message: OutgoingMessage): Record<string, unknown> {
  const allowedMentions = message.pings ? { users: message.pings.users, roles: message.pings.roles, replied_user: false } : NO_MENTIONS;
  return { content: message.content, components: message.components ?? [], allowed_mentions: allowedMentions };
}

function parseMessage(response: unknown): PostedMessage {
  const parsed = messageResponseSchema.safeParse(response);
  if (!parsed.success) throw new DiscordPayloadError('message', parsed.error.issues.map((issue) => issue.message));
  return { id: parsed.data.id, channelId: parsed.data.channel_id };
}
