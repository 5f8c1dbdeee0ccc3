import { escapeMarkdown } from 'discord.js';
import type { OutgoingMessage } from './discord-rest.js';
import { defuseMentions } from './mentions.js';
import { DISCORD_MESSAGE_LIMIT } from './message-splitter.js';

/** Discord snowflakes; a role is written `&id` in the settings file. */
const USER_ID = /^\d{17,20}$/;
const ROLE_ID = /^&(\d{17,20})$/;
const MAX_TEXT_CHARS = 400;
const HEADLINE = 'A person is needed in this conversation.';
const SUMMARY_HEADING = '**Case summary**';

/** What the original reply of a slash command shows when its turn ended in a handoff (the details follow in the conversation). */
export const HANDOFF_POINTER = '-# A person was asked to take over this conversation.';

/**
 * The one message that hands a conversation to people: `<@id>` for each contact user, `<@&id>` for
 * each contact role, and `allowed_mentions` listing exactly those ids, so they (and nobody else) are
 * pinged. The case summary and the user-facing text follow, mentions defused and markdown escaped,
 * bounded so the whole message fits one Discord message.
 */
export function renderHandoffMessage(event: { contacts: string[]; summary: string; text: string }): OutgoingMessage {
  const users: string[] = [];
  const roles: string[] = [];
  for (const contact of new Set(event.contacts)) {
    const role = ROLE_ID.exec(contact);
    if (role) roles.push(role[1] as string);
    else if (USER_ID.test(contact)) users.push(contact);
  }
  const mentions = [...users.map((id) => `<@${id}>`), ...roles.map((id) => `<@&${id}>`)];
  const headline = [...mentions, HEADLINE].join(' ');
  const text = bound(safeText(event.text.replace(/\s+/g, ' ').trim()), MAX_TEXT_CHARS);
  const quoted = event.summary.trim() ? event.summary.trim().split('\n').map((line) => `> ${safeText(line)}`).join('\n') : '';
  // Whatever room the mentions and the text leave goes to the summary.
  const summary = bound(quoted, DISCORD_MESSAGE_LIMIT - `${headline}\n${SUMMARY_HEADING}\n\n\n${text}`.length);
  const content = summary ? [headline, SUMMARY_HEADING, summary, '', text] : [headline, '', text];
  return { content: content.join('\n'), pings: { users, roles } };
}

/** User and engine text: no mention can form (zero-width space) and no markdown can reshape the message. */
function safeText(text: string): string {
  return escapeMarkdown(defuseMentions(text));
}

function bound(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, Math.max(0, maxChars - 1))}…` : text;
}
