import type { RenderedMessage } from './answer-renderer.js';
import { clipText, escapeMrkdwn } from './mrkdwn.js';

/** Case summaries quote users; this keeps the message readable and far under Slack's limits. */
const MAX_SUMMARY_CHARS = 2_000;
const MAX_TEXT_CHARS = 500;
/** Slack user ids (U…, W… on Enterprise Grid) and user-group ids (S…), as the settings file accepts them. */
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const USER_GROUP_ID = /^S[A-Z0-9]{2,}$/;

/**
 * The mention token for one escalation contact: `<@U…>` for a person, `<!subteam^S…>` for a user
 * group; undefined for anything else, so a malformed id can never smuggle markup into the message.
 */
export function contactMention(contactId: string): string | undefined {
  if (USER_ID.test(contactId)) return `<@${contactId}>`;
  if (USER_GROUP_ID.test(contactId)) return `<!subteam^${contactId}>`;
  return undefined;
}

/**
 * The one message that hands a thread to people: it mentions exactly the configured contacts (the
 * only mention tokens in it), then quotes the case summary and tells the user what happens next.
 * Summary and text come from users and the engine, so they are escaped and bounded like any answer.
 */
export function renderHandoff(event: { contacts: string[]; summary: string; text: string }): RenderedMessage {
  const mentions = [...new Set(event.contacts)].flatMap((contact) => contactMention(contact) ?? []);
  const summary = clipText(event.summary.trim(), MAX_SUMMARY_CHARS);
  const lines = [[...mentions, 'A person is needed in this thread.'].join(' ')];
  if (summary) {
    lines.push('*Case summary*');
    for (const line of summary.split('\n')) lines.push(`> ${escapeMrkdwn(line)}`);
  }
  lines.push('', escapeMrkdwn(clipText(event.text.replace(/\s+/g, ' ').trim(), MAX_TEXT_CHARS)));
  return { text: lines.join('\n') };
}
