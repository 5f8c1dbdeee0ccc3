import {
  ApplicationIntegrationType,
  InteractionContextType,
  SlashCommandBuilder,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';

/** Longest question `/ask` accepts (Discord enforces it in the client). */
export const MAX_QUESTION_CHARS = 1_000;

export const COMMAND_ASK = 'ask';
export const COMMAND_RESET = 'reset';
export const COMMAND_HELP = 'help';
export const OPTION_QUESTION = 'question';

/** The slash commands, as registered and as handled: one definition for both. */
export function commandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  const contexts = [InteractionContextType.Guild, InteractionContextType.BotDM];
  return [
    new SlashCommandBuilder()
      .setName(COMMAND_ASK)
      .setDescription('Ask the support bot; the answer opens a thread you can keep talking in.')
      .addStringOption((option) =>
        option.setName(OPTION_QUESTION).setDescription('What do you want to know?').setRequired(true).setMaxLength(MAX_QUESTION_CHARS),
      )
      .setContexts(...contexts)
      .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
      .toJSON(),
    new SlashCommandBuilder()
      .setName(COMMAND_RESET)
      .setDescription('Start this conversation over (the bot forgets the earlier messages).')
      .setContexts(...contexts)
      .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
      .toJSON(),
    new SlashCommandBuilder()
      .setName(COMMAND_HELP)
      .setDescription('What the support bot can do.')
      .setContexts(...contexts)
      .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
      .toJSON(),
  ];
}

/** The `/help` text. */
export const HELP_TEXT = [
  '**What I can do**',
  '• `/ask question:<text>`: I search the knowledge base and answer with numbered sources, then open a thread on my answer.',
  '• In that thread just write: I answer every message there and remember the conversation.',
  '• Mention me in a channel to start a thread the same way, or send me a direct message.',
  '• `/reset` inside a conversation makes me forget it and start over.',
  '• Use 👍 / 👎 under an answer to tell the team whether it helped.',
].join('\n');
