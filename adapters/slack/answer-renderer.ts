import type { types } from '@slack/bolt';
import type { Answer, AnswerSource } from '../../src/engine/answer.js';
import { clipText, escapeMrkdwn, markdownToMrkdwn, mrkdwnLink, sanitiseLinkLabel } from './mrkdwn.js';
import { splitMrkdwn } from './text-splitter.js';

/** One Slack message ready for `chat.postMessage` / `chat.update`. `text` is the notification fallback. */
export interface RenderedMessage {
  text: string;
  blocks?: types.KnownBlock[];
}

/** Slack's documented limits, with a margin for the characters our own markup adds. */
export const SLACK_LIMITS = {
  /** `text` is truncated far above this, but `chat.update` rejects more than 4,000 (`msg_too_long`). */
  messageChars: 3_800,
  /** A section's `text` may hold 3,000. */
  sectionChars: 2_900,
  blocksPerMessage: 50,
  /** Button text may hold 75, value 2,000. */
  buttonValueChars: 2_000,
  contextElements: 10,
} as const;

/** `action_id`s of the buttons under an answer; the interaction handlers listen for exactly these. */
export const ACTION_IDS = {
  helpful: 'threadline_feedback_helpful',
  notHelpful: 'threadline_feedback_not_helpful',
  startOver: 'threadline_thread_reset',
  talkToPerson: 'threadline_handoff_request',
} as const;

const MAX_SOURCES_LISTED = 20;
const MAX_NOTICE_CHARS = 300;

/**
 * Renders an answer as one or more messages: body split on paragraph boundaries (never leaving a code
 * fence open), then, on the last message only, the numbered sources, the notices and the buttons
 * (helpful, not helpful, start over, talk to a person).
 */
export function renderAnswer(answer: Answer, limits = SLACK_LIMITS): RenderedMessage[] {
  const body = renderBody(answer) || '_(The answer was empty.)_';
  const sourcesText = renderSources(answer.sources);
  const notices = answer.notices.map((notice) => escapeMrkdwn(boundText(notice, MAX_NOTICE_CHARS))).slice(0, limits.contextElements);
  const trailerText = [sourcesText, ...notices.map((notice) => `_${notice}_`)].filter(Boolean).join('\n');

  const pieces = splitMrkdwn(body, limits.messageChars);
  const lastPiece = pieces.at(-1) ?? '';
  const trailerFits = lastPiece.length + trailerText.length + 2 <= limits.messageChars;
  const messages = pieces.map((piece) => bodyMessage(piece, limits));

  const trailerBlocks: types.KnownBlock[] = [];
  if (sourcesText) trailerBlocks.push({ type: 'section', text: { type: 'mrkdwn', text: sourcesText } });
  if (notices.length > 0) {
    trailerBlocks.push({ type: 'context', elements: notices.map((notice) => ({ type: 'mrkdwn' as const, text: `_${notice}_` })) });
  }
  trailerBlocks.push(feedbackActions(answer.id));

  if (trailerFits && messages.length > 0) {
    const last = messages[messages.length - 1]!;
    last.blocks = [...(last.blocks ?? []), ...trailerBlocks];
    last.text = trailerText ? `${last.text}\n\n${trailerText}` : last.text;
  } else {
    messages.push({ text: trailerText || 'Was this answer helpful?', blocks: trailerBlocks });
  }
  return messages;
}

/** The answer body as mrkdwn: every text part escaped, citations as links to their sources. */
export function renderBody(answer: Pick<Answer, 'parts' | 'sources'>): string {
  // Citation links are swapped in after the Markdown conversion so it can never rewrite a URL.
  const citations: string[] = [];
  let text = '';
  for (const part of answer.parts) {
    if (part.type === 'text') {
      text += escapeMrkdwn(part.text.replace(/\u0000/g, ''));
    } else {
      citations.push(citationLink(part.source, answer.sources));
      text += `\u0000${citations.length - 1}\u0000`;
    }
  }
  return markdownToMrkdwn(text)
    .replace(/\u0000(\d+)\u0000/g, (_whole, index: string) => citations[Number(index)] ?? '')
    .trim();
}

function citationLink(sourceNumber: number, sources: AnswerSource[]): string {
  const label = `[${sourceNumber}]`;
  const source = sources[sourceNumber - 1];
  return source ? mrkdwnLink(source.url, label) : label;
}

/** `*Sources*` and a numbered list; titles are flattened, escaped and linked when they have a URL. */
export function renderSources(sources: AnswerSource[], maxChars = SLACK_LIMITS.sectionChars): string {
  if (sources.length === 0) return '';
  const lines = ['*Sources*'];
  let length = lines[0]!.length;
  const listed = sources.slice(0, MAX_SOURCES_LISTED);
  for (const [index, source] of listed.entries()) {
    const title = sanitiseLinkLabel(source.title || source.docId) || `Source ${index + 1}`;
    const line = `${index + 1}. ${mrkdwnLink(source.url, title)}`;
    if (length + line.length + 1 > maxChars - 40) {
      lines.push(`_…and ${sources.length - index} more_`);
      return lines.join('\n');
    }
    lines.push(line);
    length += line.length + 1;
  }
  if (sources.length > listed.length) lines.push(`_…and ${sources.length - listed.length} more_`);
  return lines.join('\n');
}

function feedbackActions(answerId: string): types.ActionsBlock {
  const value = answerId.slice(0, SLACK_LIMITS.buttonValueChars);
  return {
    type: 'actions',
    block_id: 'threadline_answer_controls',
    elements: [
      { type: 'button', action_id: ACTION_IDS.helpful, value, text: { type: 'plain_text', text: '👍 Helpful', emoji: true } },
      { type: 'button', action_id: ACTION_IDS.notHelpful, value, text: { type: 'plain_text', text: '👎 Not helpful', emoji: true } },
      { type: 'button', action_id: ACTION_IDS.startOver, value, text: { type: 'plain_text', text: 'Start over', emoji: true } },
      { type: 'button', action_id: ACTION_IDS.talkToPerson, value, text: { type: 'plain_text', text: '🙋 Talk to a person', emoji: true } },
    ],
  };
}

function bodyMessage(piece: string, limits: typeof SLACK_LIMITS): RenderedMessage {
  const sections = splitMrkdwn(piece, limits.sectionChars);
  return {
    text: piece,
    blocks: sections.map((section) => ({ type: 'section', text: { type: 'mrkdwn', text: section } })),
  };
}

/**
 * The in-progress text while an answer streams, as plain mrkdwn messages (no blocks, no buttons).
 * A trailing ellipsis says the text is still being written.
 */
export function renderPreview(text: string, limits = SLACK_LIMITS): RenderedMessage[] {
  const escaped = markdownToMrkdwn(escapeMrkdwn(text.replace(/\u0000/g, ''))).trim();
  if (!escaped) return [];
  const pieces = splitMrkdwn(escaped, limits.messageChars - 2);
  return pieces.map((piece, index) => ({ text: index === pieces.length - 1 ? `${piece} …` : piece }));
}

/** A short italic progress line ("_Searching the knowledge base…_"). */
export function renderStatusLine(status: string): RenderedMessage {
  return { text: `_${escapeMrkdwn(boundText(status.replace(/\s+/g, ' '), 150))}_` };
}

/** The one friendly line shown in the thread when a turn fails. */
export function renderFailure(userMessage: string): RenderedMessage {
  return { text: `:warning: ${escapeMrkdwn(boundText(userMessage.replace(/\s+/g, ' '), 500))}` };
}

/** A plain informational line (reset confirmations and similar). */
export function renderNotice(text: string): RenderedMessage {
  return { text: escapeMrkdwn(boundText(text, 500)) };
}

function boundText(text: string, maxChars: number): string {
  return clipText(text.trim(), maxChars);
}
