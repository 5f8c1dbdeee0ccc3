import type { IncomingMessage } from '../../src/engine/types.js';
import type { SlackMessageEvent } from './slack-event.js';

/** Resolves a user id to a readable name; undefined when unknown (the id then stays, inert). */
export type UserNameResolver = (userId: string) => Promise<string | undefined>;

/** Where a Slack conversation lives: `slack:{team}:{channel}:{thread root ts}`. */
export function slackThreadKey(workspaceId: string, channelId: string, threadRootTs: string): string {
  return `slack:${workspaceId}:${channelId}:${threadRootTs}`;
}

/** One id per user message, shared by its `app_mention` and `message` deliveries and by every retry. */
export function slackMessageEventId(workspaceId: string, channelId: string, ts: string): string {
  return `slack:${workspaceId}:${channelId}:${ts}`;
}

/** The parts of a Slack thread key; undefined when `threadKey` is not one. */
export function parseSlackThreadKey(threadKey: string): { workspaceId: string; channelId: string; threadTs: string } | undefined {
  const match = /^slack:([^:]+):([^:]+):(\d+\.\d+)$/.exec(threadKey);
  return match ? { workspaceId: match[1]!, channelId: match[2]!, threadTs: match[3]! } : undefined;
}

/** The ts of the thread an event belongs to (a top-level message starts its own thread). */
export function threadRootOf(event: Pick<SlackMessageEvent, 'ts' | 'thread_ts'>): string {
  return event.thread_ts ?? event.ts;
}

/**
 * Normalises an accepted Slack event into the engine's `IncomingMessage`: the bot's own mention is
 * removed, other mentions and links become plain readable text, Slack's entity escaping is undone.
 * `addressedToBot`: the message mentions the bot or is a DM (not a plain thread follow-up).
 */
export async function toIncomingMessage(
  event: SlackMessageEvent,
  workspaceId: string,
  botUserId: string,
  resolveUserName: UserNameResolver,
  addressedToBot: boolean,
): Promise<IncomingMessage> {
  const text = await readableText(event.text ?? '', botUserId, resolveUserName);
  const id = slackMessageEventId(workspaceId, event.channel, event.ts);
  return {
    platform: 'slack',
    threadKey: slackThreadKey(workspaceId, event.channel, threadRootOf(event)),
    eventId: id,
    messageId: id,
    scope: { workspaceId, channelId: event.channel },
    author: { id: event.user ?? event.bot_id ?? 'unknown' },
    // The engine bounds the length (and tells the user when it cut something).
    text,
    receivedAt: Math.round(Number.parseFloat(event.ts) * 1000),
    addressedToBot,
  };
}

/**
 * Turns Slack's wire text into what a person sees: `<@UBOT>` removed, `<@U1|ana>` → `@ana`,
 * `<#C1|general>` → `#general`, `<!here>` → `@here`, `<https://x|docs>` → `docs (https://x)`.
 */
export async function readableText(wireText: string, botUserId: string, resolveUserName: UserNameResolver): Promise<string> {
  const withoutBot = wireText.replace(new RegExp(`<@${escapeRegExp(botUserId)}(?:\\|[^>]*)?>`, 'g'), ' ');
  const userIds = [...new Set([...withoutBot.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)].map((match) => match[1]!))];
  const names = new Map<string, string | undefined>();
  await Promise.all(
    userIds.map(async (userId) => {
      names.set(userId, await resolveUserName(userId).catch(() => undefined));
    }),
  );
  const replaced = withoutBot.replace(/<([^<>]*)>/g, (_whole, inner: string) => renderToken(inner, names));
  return unescapeEntities(replaced)
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/^[ \t]+|[ \t]+$/gm, '')
    .trim();
}

function renderToken(inner: string, names: Map<string, string | undefined>): string {
  const [target = '', label] = splitOnce(inner, '|');
  if (target.startsWith('@')) {
    const userId = target.slice(1);
    return `@${label ?? names.get(userId) ?? userId}`;
  }
  if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
  if (target.startsWith('!subteam^')) return label ?? '@group';
  if (target.startsWith('!date^')) return label ?? '';
  if (target.startsWith('!')) return `@${target.slice(1)}`;
  if (label && label !== target) return `${label} (${target})`;
  return target.startsWith('mailto:') ? target.slice('mailto:'.length) : target;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}

function unescapeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
