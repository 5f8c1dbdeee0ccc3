import { escapeMarkdown } from 'discord.js';
import type { Answer, AnswerSource } from '../../src/engine/answer.js';
import { defuseMentions } from './mentions.js';

/** Longest answer we post (eight full messages); anything beyond is cut with a visible note. */
export const MAX_ANSWER_CHARS = 16_000;
const MAX_TITLE_CHARS = 150;
const MAX_URL_CHARS = 512;

/**
 * Renders an answer as Discord markdown: the text with `[n]` citation markers, notices as subtext,
 * and a sources list whose titles link as `[title](<url>)` (the angle brackets suppress previews).
 * Model and document text keep their markdown but can never form a mention.
 */
export function renderAnswerMarkdown(answer: Answer): string {
  let body = defuseMentions(
    answer.parts.map((part) => (part.type === 'text' ? part.text : `[${part.source}]`)).join(''),
  ).trim();
  if (body.length === 0) body = '_(no answer text)_';
  const notices = answer.notices.map((notice) => `-# ${singleLine(defuseMentions(notice))}`);
  const sources = answer.sources.length > 0 ? ['**Sources**', ...answer.sources.map(renderSource)] : [];
  const tail = [notices.join('\n'), sources.join('\n')].filter((block) => block.length > 0).join('\n\n');
  const room = MAX_ANSWER_CHARS - tail.length - 2;
  if (body.length > room) {
    const note = '\n\n-# (The answer was longer than Discord allows here and was cut.)';
    body = cutBefore(body, Math.max(0, room - note.length)) + note;
  }
  return tail ? `${body}\n\n${tail}` : body;
}

/** A preview of streamed model text: mentions defused, size bounded like the final answer. */
export function renderPreviewMarkdown(text: string): string {
  const defused = defuseMentions(text);
  return defused.length > MAX_ANSWER_CHARS ? cutBefore(defused, MAX_ANSWER_CHARS) : defused;
}

/** A status line ("Searching the knowledge base…") shown before any answer text, as subtext. */
export function renderStatusLine(text: string): string {
  return `-# ${cutBefore(escapeMarkdown(singleLine(defuseMentions(text))), 200)}`;
}

function renderSource(source: AnswerSource, index: number): string {
  const title = escapeLinkText(cutBefore(singleLine(defuseMentions(source.title || source.docId)), MAX_TITLE_CHARS));
  const url = safeUrl(source.url);
  return url ? `[${index + 1}] [${title}](<${url}>)` : `[${index + 1}] ${title}`;
}

/** Escapes markdown and the brackets that would end the link text early. */
function escapeLinkText(text: string): string {
  return escapeMarkdown(text).replace(/([[\]()])/g, '\\$1');
}

/** Only absolute http(s) URLs that cannot break out of `<…>`; anything else is shown as a plain title. */
function safeUrl(url: string | undefined): string | undefined {
  if (!url || url.length > MAX_URL_CHARS) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
    const href = parsed.href;
    return /[\s<>]/.test(href) ? undefined : href;
  } catch {
    return undefined;
  }
}

/** The first `length` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair (an emoji). */
function cutBefore(text: string, length: number): string {
  return text.slice(0, length).replace(/[\uD800-\uDBFF]$/, '');
}

function singleLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
