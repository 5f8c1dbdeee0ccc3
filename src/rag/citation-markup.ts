/** A piece of model output: plain text, or a span the model attributed to a document tag. */
export type MarkupSegment = { type: 'text'; text: string } | { type: 'span'; tagId: string; text: string };

/** Tag names we treat as citations: `doc-<id>` (RAG Reasoning) and `doc<N>` (reranker). Bounded so a stray `<` cannot swallow text. */
const TAG = /<(\/?)\s*(doc[-_]?[\w.:#/-]{1,80}?)\s*(\/?)>/gi;

/**
 * Parses `<doc-ID>…</doc-ID>` and `<docN>…</docN>` spans out of model text. Tolerant of what models
 * actually write: a closing tag that does not match the open one still closes it, a span left open
 * runs to the end, stray closing and self-closing tags are dropped. No tag survives into the text.
 *
 * @example parseCitationMarkup('Yes. <doc-2>Refunds take 30 days.</doc-2>')
 *   → [{type:'text', text:'Yes. '}, {type:'span', tagId:'doc-2', text:'Refunds take 30 days.'}]
 */
export function parseCitationMarkup(text: string): MarkupSegment[] {
  const segments: MarkupSegment[] = [];
  const push = (segment: MarkupSegment) => {
    if (segment.text === '') return;
    const last = segments[segments.length - 1];
    if (segment.type === 'text' && last?.type === 'text') last.text += segment.text;
    else segments.push(segment);
  };
  let openTag: string | undefined;
  let cursor = 0;
  for (const match of text.matchAll(TAG)) {
    const [whole, closing, tagId, selfClosing] = match;
    const between = text.slice(cursor, match.index);
    // Any tag ends the span that is open; only an opening tag starts a new one.
    push(openTag ? { type: 'span', tagId: openTag, text: between } : { type: 'text', text: between });
    openTag = !closing && !selfClosing ? tagId : undefined;
    cursor = match.index + whole.length;
  }
  const rest = text.slice(cursor);
  push(openTag ? { type: 'span', tagId: openTag, text: rest } : { type: 'text', text: rest });
  return segments;
}
