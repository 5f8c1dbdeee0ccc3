import type { Config } from '../config/config.js';
import type { TurnPolicy } from '../engine/engine.js';
import type { IncomingMessage } from '../engine/types.js';
import type { ChannelSettings, SettingsStore } from '../settings/index.js';
import type { ModelStack } from './model-stack.js';
import type { Logger } from '../observability/logger.js';

/** The settings every channel starts from: the process configuration. */
export function processDefaultSettings(config: Config): ChannelSettings {
  return {
    enabled: true,
    mentionOnly: config.REQUIRE_MENTION,
    answerBots: config.ANSWER_BOTS,
    ...(config.SYSTEM_PROMPT ? { systemPrompt: config.SYSTEM_PROMPT } : {}),
    escalationContacts: {},
  };
}

/**
 * Resolves how one message is answered from the channel's settings (read at each message, so a
 * changed settings file applies to the next turn without a restart): whether the bot speaks there,
 * which knowledge source and compaction it uses, its history budget and persona.
 */
export function createTurnPolicy(config: Config, settings: SettingsStore, models: ModelStack, logger: Logger): (message: IncomingMessage) => Promise<TurnPolicy | 'disabled'> {
  return async (message) => {
    const channel = settings.settingsFor(message.scope);
    if (!channel.enabled) return 'disabled';
    const persona = channel.systemPrompt !== config.SYSTEM_PROMPT ? channel.systemPrompt : undefined;
    // A channel persona is sent on top of what the answerer reserved for its default one.
    const personaTokens = persona ? models.estimator.countText(persona) : 0;
    const answerer = await models.answererFor(channel.knowledgeSource);
    const windowTokens = Math.min(models.budget.windowTokens, usableChannelBudget(channel.compaction?.historyTokenBudget, answerer.reservedTokens + models.budget.maxOutputTokens, message, logger)) - personaTokens;
    return {
      answerer,
      compactor: models.compactorFor(channel.compaction?.strategy ?? config.compaction),
      budget: { windowTokens, maxOutputTokens: models.budget.maxOutputTokens },
      ...(persona ? { persona } : {}),
      escalationContacts: message.platform === 'slack' ? (channel.escalationContacts.slack ?? []) : message.platform === 'discord' ? (channel.escalationContacts.discord ?? []) : [],
    };
  };
}

/** Channels already warned about (once per channel and budget value, not once per message). */
const warnedBudgets = new Set<string>();

/** Room a request needs beyond the output reserve and the answerer's own additions: a short question and its answer. */
const MIN_HISTORY_TOKENS = 256;

/**
 * A channel's history budget, unless it is too small to hold even one question next to the output
 * reserve and the answerer's prompt: then every turn there would fail, so the model's budget applies
 * and the log says why (the settings file cannot know MAX_OUTPUT_TOKENS or the prompt size).
 */
function usableChannelBudget(budget: number | undefined, fixedTokens: number, message: IncomingMessage, logger: Logger): number {
  if (budget === undefined) return Number.POSITIVE_INFINITY;
  if (budget >= fixedTokens + MIN_HISTORY_TOKENS) return budget;
  const key = `${message.scope.workspaceId}/${message.scope.channelId}/${budget}`;
  if (warnedBudgets.has(key)) return Number.POSITIVE_INFINITY;
  warnedBudgets.add(key);
  logger.warn(
    { scope: message.scope, historyTokenBudget: budget, needsAtLeast: fixedTokens + MIN_HISTORY_TOKENS },
    'historyTokenBudget in the settings file is too small for this model and answerer; using the model budget in this channel',
  );
  return Number.POSITIVE_INFINITY;
}
