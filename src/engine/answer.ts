/**
 * The platform-neutral answer. Renderers (Slack mrkdwn, Discord markdown, terminal text) turn it into
 * their own format; because citations are structured parts rather than markup inside the text, a
 * renderer can escape every text part without ever breaking a citation link.
 */
import type { PromptTokenReport } from '../compaction/types.js';

export type AnswerPart =
  | { type: 'text'; text: string }
  /** A citation of `sources[source - 1]`. */
  | { type: 'citation'; source: number };

export interface AnswerSource {
  /** The document id as the retriever knows it. */
  docId: string;
  title: string;
  url?: string;
  /** A short excerpt of the cited text, for previews. */
  snippet: string;
}

/** generated: written by a model; extractive: assembled from document sentences; not-found: the documents do not say. */
export type AnswerMode = 'generated' | 'extractive' | 'not-found' | 'chat';

export interface Answer {
  /** Unique per answer; feedback buttons refer to it. */
  id: string;
  parts: AnswerPart[];
  /** Numbered in order of first use: `sources[0]` is [1]. */
  sources: AnswerSource[];
  mode: AnswerMode;
  /** Short lines shown under the answer ("earlier messages were summarised", "this answer is extractive"). */
  notices: string[];
  /** Tokens of every model call behind this answer, summed: what it cost, not the size of any one prompt. */
  usage?: { inputTokens: number; outputTokens: number };
  /** The prompt size of one call of this answer that compaction can learn from; absent when no call gives a clean figure. */
  promptTokens?: PromptTokenReport;
  /** Citation problems found and removed before posting (unknown ids, unsupported spans). */
  citationIssues?: { unknownIds: number; unsupportedSpans: number };
}

/** The answer as plain text with `[n]` markers: for storage in history and for plain-text renderers. */
export function answerPlainText(answer: Pick<Answer, 'parts'>): string {
  return answer.parts.map((part) => (part.type === 'text' ? part.text : `[${part.source}]`)).join('');
}

/** An answer made of one text part and nothing else. */
export function textAnswer(id: string, text: string, mode: AnswerMode, notices: string[] = []): Answer {
  return { id, parts: [{ type: 'text', text }], sources: [], mode, notices };
}
