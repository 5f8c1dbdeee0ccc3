import { MessageFlags, type ButtonInteraction, type ChatInputCommandInteraction, type Client, type Interaction, type Message } from 'discord.js';
import type { Logger } from 'pino';
import { errorCodeOf } from '../../src/errors.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { OPTION_QUESTION } from './commands.js';
import type { InteractionHandler, InteractionResponder } from './interaction-handler.js';
import type { ChannelMessage, MessageHandler } from './message-handler.js';

export interface GatewayListenerOptions {
  client: Client;
  interactions: InteractionHandler;
  messages: MessageHandler;
  botUserId: () => string;
  logger: Logger;
  metrics?: Metrics;
  /** Keeps a running turn visible to shutdown. */
  track: (work: Promise<unknown>) => void;
  now: () => number;
}

/**
 * Wires discord.js gateway events to the handlers: slash commands and buttons from
 * `interactionCreate`, conversation messages from `messageCreate`. Returns a function that unwires them.
 */
export function attachGatewayListener(options: GatewayListenerOptions): () => void {
  const { client, logger } = options;
  const run = (kind: string, work: () => Promise<unknown>) => {
    const running = work().catch((error: unknown) => {
      options.metrics?.countError(error);
      logger.error({ kind, code: errorCodeOf(error), err: error instanceof Error ? error.message : undefined }, 'discord event handling failed');
    });
    options.track(running);
  };

  const onInteraction = (interaction: Interaction) => {
    const receivedAt = options.now();
    if (interaction.isChatInputCommand()) {
      run('command', () => options.interactions.handleCommand(commandInvocation(interaction, receivedAt), gatewayResponder(interaction)));
    } else if (interaction.isButton()) {
      run('button', () => options.interactions.handleButton(buttonClick(interaction, receivedAt), gatewayResponder(interaction)));
    }
  };
  const onMessage = (message: Message) => {
    run('message', () => options.messages.handle(channelMessage(message, options.botUserId())));
  };

  client.on('interactionCreate', onInteraction);
  client.on('messageCreate', onMessage);
  return () => {
    client.off('interactionCreate', onInteraction);
    client.off('messageCreate', onMessage);
  };
}

function gatewayResponder(interaction: ChatInputCommandInteraction | ButtonInteraction): InteractionResponder {
  return {
    async defer({ ephemeral }) {
      await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    },
    async reply(content, { ephemeral }) {
      await interaction.reply({ content, ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}) });
    },
    async acknowledge() {
      // Commands always answer with a message; only a button click can be acknowledged silently.
      if (interaction.isButton()) await interaction.deferUpdate();
      else await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    },
  };
}

function commandInvocation(interaction: ChatInputCommandInteraction, receivedAt: number) {
  const channel = interaction.channel;
  const isThread = channel?.isThread() ?? false;
  return {
    interactionId: interaction.id,
    token: interaction.token,
    receivedAt,
    commandName: interaction.commandName,
    question: interaction.options.getString(OPTION_QUESTION) ?? undefined,
    guildId: interaction.guildId ?? undefined,
    channelId: interaction.channelId,
    parentChannelId: channel?.isThread() ? (channel.parentId ?? undefined) : undefined,
    channelIsThread: isThread,
    user: { id: interaction.user.id, name: interaction.user.globalName ?? interaction.user.username },
  };
}

function buttonClick(interaction: ButtonInteraction, receivedAt: number) {
  const channel = interaction.channel;
  return {
    interactionId: interaction.id,
    token: interaction.token,
    receivedAt,
    customId: interaction.customId,
    guildId: interaction.guildId ?? undefined,
    channelId: interaction.channelId,
    parentChannelId: channel?.isThread() ? (channel.parentId ?? undefined) : undefined,
    userId: interaction.user.id,
    userName: interaction.user.globalName ?? interaction.user.username,
  };
}

function channelMessage(message: Message, botUserId: string): ChannelMessage {
  const channel = message.channel as Message['channel'] | null;
  const isThread = channel?.isThread() ?? false;
  return {
    id: message.id,
    channelId: message.channelId,
    guildId: message.guildId ?? undefined,
    channelIsThread: isThread,
    parentChannelId: channel?.isThread() ? (channel.parentId ?? undefined) : undefined,
    author: { id: message.author.id, name: message.author.globalName ?? message.author.username, isBot: message.author.bot },
    isSystem: message.system,
    fromWebhook: message.webhookId !== null,
    content: message.content,
    mentionsBot: message.mentions.users.has(botUserId),
    createdAt: message.createdTimestamp,
  };
}
