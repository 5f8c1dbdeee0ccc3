import { z } from 'zod';

/**
 * The fields of a Slack `app_mention` / `message` event the adapter relies on, validated at the edge.
 * Unknown fields pass through untouched (Slack adds fields often); missing required ones reject the event.
 */
export const slackMessageEventSchema = z.looseObject({
  type: z.enum(['app_mention', 'message']),
  subtype: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  app_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string().regex(/^\d+\.\d+$/),
  thread_ts: z.string().regex(/^\d+\.\d+$/).optional(),
  channel: z.string().min(1),
  channel_type: z.string().optional(),
  team: z.string().optional(),
  user_team: z.string().optional(),
  hidden: z.boolean().optional(),
  files: z.array(z.unknown()).optional(),
});

export type SlackMessageEvent = z.infer<typeof slackMessageEventSchema>;

/** Who the bot is in this workspace (from `auth.test`, or given in tests). */
export interface BotIdentity {
  botUserId: string;
  botId?: string;
}

/** What to do with an event, with a reason worth logging when the answer is no. */
export type EventDecision =
  | { action: 'answer'; trigger: 'mention' | 'direct-message' }
  /** A thread reply without a mention: answer only when the bot already converses in that thread. */
  | { action: 'answer-if-known-thread' }
  /** A thread reply that speaks to someone else: kept as context in a thread the bot holds, not answered. */
  | { action: 'record-if-known-thread' }
  | { action: 'ignore'; reason: string };

export interface EventPolicy {
  /** Thread follow-ups need a fresh mention. */
  requireMention: boolean;
  /** Answer other bots' messages (never our own). */
  answerBots: boolean;
}

/** Message subtypes that carry something a person wrote; every other subtype is an edit, a join, a topic change… */
const USER_CONTENT_SUBTYPES = new Set(['file_share', 'thread_broadcast']);

/**
 * Decides whether an event is a question for the bot. Bolt's own `ignoreSelf` misses edits of our
 * messages (the author is nested) and other bots, so this runs on every event regardless.
 */
export function decideEvent(event: SlackMessageEvent, bot: BotIdentity, policy: EventPolicy): EventDecision {
  if (event.subtype !== undefined && !USER_CONTENT_SUBTYPES.has(event.subtype)) {
    const isOtherBotPost = event.subtype === 'bot_message' && policy.answerBots;
    if (!isOtherBotPost) return { action: 'ignore', reason: `subtype:${event.subtype}` };
  }
  if (event.hidden) return { action: 'ignore', reason: 'hidden' };
  if (event.user === bot.botUserId || (bot.botId !== undefined && event.bot_id === bot.botId)) {
    return { action: 'ignore', reason: 'own-message' };
  }
  const fromBot = event.bot_id !== undefined || event.subtype === 'bot_message';
  if (fromBot && !policy.answerBots) return { action: 'ignore', reason: 'bot-message' };
  if (!event.user && !event.bot_id) return { action: 'ignore', reason: 'no-author' };

  const mentionsBot = mentionsUser(event.text ?? '', bot.botUserId);
  if (event.type === 'app_mention') return { action: 'answer', trigger: 'mention' };
  if (event.channel_type === 'im') return { action: 'answer', trigger: 'direct-message' };
  // The same message also arrives as `app_mention`; both map to one event id and the engine keeps one.
  if (mentionsBot) return { action: 'answer', trigger: 'mention' };
  const isThreadReply = event.thread_ts !== undefined && event.thread_ts !== event.ts;
  if (!isThreadReply) return { action: 'ignore', reason: 'not-addressed' };
  if (policy.requireMention) return { action: 'ignore', reason: 'mention-required' };
  // People talking to each other in the bot's thread ("@dana can you check?") are not asking the bot;
  // the engine keeps such messages as context (and learns from them that a person took a handoff).
  if (/<@[UW][A-Z0-9]+(?:\|[^>]*)?>/.test(event.text ?? '')) return { action: 'record-if-known-thread' };
  return { action: 'answer-if-known-thread' };
}

/** Whether `text` contains a mention of `userId` (`<@U123>` or `<@U123|name>`). */
export function mentionsUser(text: string, userId: string): boolean {
  return text.includes(`<@${userId}>`) || text.includes(`<@${userId}|`);
}
