/**
 * Mention hygiene for untrusted text (model output, document titles, echoed questions).
 * `allowed_mentions: { parse: [] }` already stops every ping; defusing also stops the text from
 * *looking* like a ping or rendering as a mention pill, which people read as one.
 */

const ZERO_WIDTH_SPACE = '\u200b';

/**
 * Breaks `@everyone`, `@here` and `<@id>` / `<@!id>` / `<@&id>` mention syntax with a zero-width space.
 *
 * @example
 * defuseMentions('hi @everyone <@123>') // → 'hi @\u200beveryone <@\u200b123>'
 */
export function defuseMentions(text: string): string {
  return text
    .replace(/@(everyone|here)/gi, `@${ZERO_WIDTH_SPACE}$1`)
    .replace(/<@([!&]?)(\d+)>/g, `<@${ZERO_WIDTH_SPACE}$1$2>`);
}

/** Whether the text itself mentions `botUserId` (`<@id>` or `<@!id>`), not merely a reply to one of its messages. */
export function mentionsBotInText(text: string, botUserId: string): boolean {
  return new RegExp(`<@!?${botUserId}>`).test(text);
}

/** Removes mentions of `botUserId` (`<@id>` and the legacy `<@!id>`) and tidies the spacing left behind. */
export function stripBotMention(text: string, botUserId: string): string {
  const pattern = new RegExp(`<@!?${botUserId}>`, 'g');
  return text.replace(pattern, ' ').replace(/[ \t]{2,}/g, ' ').trim();
}
