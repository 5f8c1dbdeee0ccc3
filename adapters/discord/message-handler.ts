import type { Logger } from 'pino';
import type { ConversationEngine, MessageScope, TurnOutcome } from '../../src/engine/types.js';
import type { ChannelSettings } from '../../src/settings/index.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { messageEventId, threadKeyFor, threadNameFrom } from './conversation.js';
import type { DiscordRest } from './discord-rest.js';
import { mentionsBotInText, stripBotMention } from './mentions.js';
import { DiscordReplySink, type DiscordReplySinkOptions } from './reply-sink.js';

/** A gateway message, reduced to what deciding and answering need. */
export interface ChannelMessage {
  id: string;
  channelId: string;
  /** Undefined in DMs. */
  guildId: string | undefined;
  channelIsThread: boolean;
  parentChannelId: string | undefined;
  author: { id: string; name?: string; isBot: boolean };
  /** System messages (joins, pins) and webhook posts are never answered. */
  isSystem: boolean;
  fromWebhook: boolean;
  content: string;
  mentionsBot: boolean;
  createdAt: number;
}

export interface MessageHandlerOptions {
  engine: ConversationEngine;
  rest: DiscordRest;
  /** Our own user id (mentions of it start conversations; its messages are ignored). */
  botUserId: () => string;
  logger: Logger;
  metrics?: Metrics;
  sinkSettings?: Pick<DiscordReplySinkOptions, 'editIntervalMs' | 'now' | 'handoverMarginMs'>;
  /**
   * Per-channel settings: `enabled` (a disabled channel gets nothing, not even "typing"), `mentionOnly`
   * (thread follow-ups need a mention too) and `answerBots` (other bots' messages are answered).
   * Without it every channel is enabled, follow-ups need no mention and bots are never answered.
   */
  settingsFor?: (scope: MessageScope) => ChannelSettings;
  /** Told what became of every message once its handling is over (tests, operators' hooks). */
  onProcessed?: (report: MessageReport) => void;
}

/** Why a message got no turn (`not-for-us`), or how its turn ended (the engine's outcome). */
export type MessageResult = TurnOutcome['kind'] | 'not-for-us';

/** What became of one gateway message. */
export interface MessageReport {
  messageId: string;
  result: MessageResult;
}

const DEFAULT_SETTINGS = { enabled: true, mentionOnly: false, answerBots: false } as const;

type Route = { conversationChannelId: string; replyTo?: string; startThreadOn?: { channelId: string; messageId: string } };

/**
 * Answers messages without a slash command: every message in a thread the bot holds a conversation
 * in, DMs, and mentions of the bot (in a channel a mention starts a thread on the message).
 */
export class MessageHandler {
  constructor(private readonly options: MessageHandlerOptions) {}

  /** Handles one message; resolves when its turn is done (or at once when the message is not for us). */
  async handle(message: ChannelMessage): Promise<MessageResult> {
    const result = await this.decideAndAnswer(message);
    this.options.onProcessed?.({ messageId: message.id, result });
    return result;
  }

  private async decideAndAnswer(message: ChannelMessage): Promise<MessageResult> {
    const botUserId = this.options.botUserId();
    if (message.author.id === botUserId || message.isSystem || message.fromWebhook) return 'not-for-us';
    const scope: MessageScope = { workspaceId: message.guildId ?? 'dm', channelId: message.parentChannelId ?? message.channelId };
    const settings = this.options.settingsFor?.(scope) ?? DEFAULT_SETTINGS;
    if (!settings.enabled) return 'not-for-us';
    if (message.author.isBot && !settings.answerBots) return 'not-for-us';
    const text = stripBotMention(message.content, botUserId);
    // Without the Message Content intent, un-mentioned guild messages arrive empty (attachments-only posts too).
    // A bare "@bot" is someone trying to ask: the engine claims it once and answers with a hint, storing nothing.
    if (text.length === 0 && !mentionsBotInText(message.content, botUserId)) return 'not-for-us';
    const route = await this.route(message, settings.mentionOnly);
    if (!route) return 'not-for-us';

    const { rest, engine, logger, metrics } = this.options;
    const startThreadOn = route.startThreadOn;
    const sink = new DiscordReplySink({
      ...this.options.sinkSettings,
      rest,
      conversationChannelId: route.conversationChannelId,
      replyToMessageId: route.replyTo,
      // Started lazily, after the engine has claimed the message: a second replica never gets this far.
      prepareConversation: startThreadOn
        ? async () => {
            await rest.startThreadFromMessage(startThreadOn.channelId, startThreadOn.messageId, threadNameFrom(text));
          }
        : undefined,
      logger,
      metrics,
    });
    const outcome = await engine.handle(
      {
        platform: 'discord',
        threadKey: threadKeyFor(message.guildId, route.conversationChannelId),
        eventId: messageEventId(message.id),
        messageId: message.id,
        scope,
        author: { id: message.author.id, ...(message.author.name ? { name: message.author.name } : {}) },
        text,
        receivedAt: message.createdAt,
        // A plain follow-up in a thread is not; after a handoff only an addressed message wakes the bot.
        addressedToBot: message.guildId === undefined || message.mentionsBot,
        // "@dana can you check?" in the bot's thread is people talking to each other: kept, not answered.
        ...(message.guildId !== undefined && !message.mentionsBot && mentionsSomeoneElse(message.content, botUserId) ? { addressedToOthers: true } : {}),
      },
      sink,
    );
    logger.debug({ outcome: outcome.kind }, 'discord message turn done');
    return outcome.kind;
  }

  private async route(message: ChannelMessage, mentionOnly: boolean): Promise<Route | undefined> {
    if (message.guildId === undefined) return { conversationChannelId: message.channelId, replyTo: message.id };
    if ((message.mentionsBot || !mentionOnly) && (await this.options.engine.hasThread(threadKeyFor(message.guildId, message.channelId)))) {
      return { conversationChannelId: message.channelId, replyTo: message.id };
    }
    if (!message.mentionsBot) return undefined;
    // Threads cannot hold threads: a mention inside someone else's thread is answered there.
    if (message.channelIsThread) return { conversationChannelId: message.channelId, replyTo: message.id };
    // A thread started on a message gets the message's id.
    return { conversationChannelId: message.id, startThreadOn: { channelId: message.channelId, messageId: message.id } };
  }
}

/** Whether the text mentions a user or role other than the bot (`<@id>`, `<@!id>`, `<@&role>`). */
function mentionsSomeoneElse(content: string, botUserId: string): boolean {
  for (const match of content.matchAll(/<@[!&]?(\d+)>/g)) if (match[1] !== botUserId) return true;
  return false;
}
