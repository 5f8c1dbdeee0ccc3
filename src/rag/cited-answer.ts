import type { Answer, AnswerMode, AnswerPart, AnswerSource } from '../engine/answer.js';
import type { Doc } from '../providers/types.js';
import { splitSentences } from '../knowledge/sentences.js';
import { contentTermSet } from '../knowledge/text-analysis.js';
import type { MarkupSegment } from './citation-markup.js';
import { isSpanSupported } from './span-support.js';

const SNIPPET_CHARACTERS = 240;

export interface CitedAnswerInput {
  id: string;
  segments: MarkupSegment[];
  /** The document behind a tag, if it was really given to the model. */
  resolve: (tagId: string) => Doc | undefined;
  mode: AnswerMode;
  notices?: string[];
  usage?: Answer['usage'];
}

/**
 * Turns parsed model output into the platform-neutral `Answer`: sources numbered in order of first
 * use, each citation a structured part. A tag naming a document the model was never given loses its
 * citation (the text stays, uncited) and is counted; a span its document does not support is left
 * out of the answer and counted, so nothing unsupported is posted under a citation.
 */
export function buildCitedAnswer(input: CitedAnswerInput): Answer {
  const parts: AnswerPart[] = [];
  const sources: AnswerSource[] = [];
  const sourceNumbers = new Map<string, number>();
  let unknownIds = 0;
  let unsupportedSpans = 0;
  const pushText = (text: string) => {
    if (text === '') return;
    const last = parts[parts.length - 1];
    if (last?.type === 'text') last.text += text;
    else parts.push({ type: 'text', text });
  };

  for (const segment of input.segments) {
    if (segment.type === 'text') {
      pushText(segment.text);
      continue;
    }
    const doc = input.resolve(segment.tagId);
    if (!doc) {
      unknownIds += 1;
      pushText(segment.text);
      continue;
    }
    if (segment.text.trim() === '') continue;
    if (!isSpanSupported(segment.text, doc.content)) {
      unsupportedSpans += 1;
      continue;
    }
    let number = sourceNumbers.get(doc.id);
    if (number === undefined) {
      number = sources.length + 1;
      sourceNumbers.set(doc.id, number);
      sources.push(sourceOf(doc, segment.text));
    }
    // Trailing spaces go after the marker, so "claim [1] next" rather than "claim  [1]next".
    const trailing = /\s*$/.exec(segment.text)![0];
    pushText(segment.text.slice(0, segment.text.length - trailing.length));
    const last = parts[parts.length - 1];
    if (!(last?.type === 'citation' && last.source === number)) parts.push({ type: 'citation', source: number });
    pushText(trailing);
  }

  const tidied = tidy(parts);
  const answer: Answer = { id: input.id, parts: tidied, sources, mode: input.mode, notices: [...(input.notices ?? [])] };
  if (input.usage) answer.usage = input.usage;
  if (unknownIds > 0 || unsupportedSpans > 0) answer.citationIssues = { unknownIds, unsupportedSpans };
  return answer;
}

/** Whether an answer says anything beyond white space and punctuation. */
export function hasSubstance(answer: Pick<Answer, 'parts'>): boolean {
  return answer.parts.some((part) => part.type === 'text' && /[\p{L}\p{N}]/u.test(part.text));
}

function sourceOf(doc: Doc, span: string): AnswerSource {
  return {
    docId: doc.id,
    title: doc.title?.trim() || doc.id,
    ...(doc.url ? { url: doc.url } : {}),
    snippet: bestSnippet(doc.content, span),
  };
}

/** The document sentence that shares most terms with the cited span, cut to a preview length. */
function bestSnippet(content: string, span: string): string {
  const spanTerms = contentTermSet(span);
  let best = '';
  let bestScore = -1;
  for (const sentence of splitSentences(content)) {
    let score = 0;
    for (const term of contentTermSet(sentence)) if (spanTerms.has(term)) score += 1;
    if (score > bestScore) {
      best = sentence;
      bestScore = score;
    }
  }
  const snippet = (best || content).replace(/\s+/g, ' ').trim();
  return snippet.length > SNIPPET_CHARACTERS ? `${snippet.slice(0, SNIPPET_CHARACTERS - 1).replace(/[\uD800-\uDBFF]$/, '')}…` : snippet;
}

/** Collapses the double spaces and space-before-punctuation that removed spans leave behind. */
function tidy(parts: AnswerPart[]): AnswerPart[] {
  const result: AnswerPart[] = [];
  for (const part of parts) {
    if (part.type === 'citation') {
      result.push(part);
      continue;
    }
    const text = part.text.replace(/[ \t]{2,}/g, ' ').replace(/ +([.,!?;:])/g, '$1').replace(/\n{3,}/g, '\n\n');
    if (text !== '') result.push({ type: 'text', text });
  }
  const first = result[0];
  if (first?.type === 'text') first.text = first.text.replace(/^\s+/, '');
  const last = result[result.length - 1];
  if (last?.type === 'text') last.text = last.text.replace(/\s+$/, '');
  return result.filter((part) => part.type === 'citation' || part.text !== '');
}
