import { defuseMentions } from './mentions.js';

/** Discord's limit for a thread name. */
const THREAD_NAME_LIMIT = 100;

/**
 * The engine's thread key for a Discord conversation: `discord:{guildId|dm}:{channelId}`, where the
 * channel is the thread (or the DM channel) that holds the conversation.
 */
export function threadKeyFor(guildId: string | null | undefined, conversationChannelId: string): string {
  return `discord:${guildId ?? 'dm'}:${conversationChannelId}`;
}

/** Dedupe id of a message turn, the same on every replica that receives the message. */
export function messageEventId(messageId: string): string {
  return `discord:msg:${messageId}`;
}

/** Dedupe id of a slash-command turn or a button click. */
export function interactionEventId(interactionId: string): string {
  return `discord:int:${interactionId}`;
}

/**
 * Claim id for acknowledging an interaction. Separate from the turn's event id: the acknowledgement
 * has to happen within 3 seconds, before the engine claims (and possibly queues) the turn itself.
 */
export function interactionAcknowledgementId(interactionId: string): string {
  return `discord:int-ack:${interactionId}`;
}

/** A thread name from the question: one line, no mention syntax, at most 100 characters. */
export function threadNameFrom(question: string): string {
  const line = defuseMentions(question).replace(/\s+/g, ' ').trim();
  if (line.length === 0) return 'Support conversation';
  if (line.length <= THREAD_NAME_LIMIT) return line;
  // Cut before an emoji rather than through it: half a surrogate pair is not valid text for Discord.
  return `${line.slice(0, THREAD_NAME_LIMIT - 1).replace(/[\uD800-\uDBFF]$/, '').trimEnd()}…`;
}
