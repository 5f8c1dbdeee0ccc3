/** Citation markup as models write it: `<doc-12>`, `</doc-12>`, `<doc3>` (bounded, so a stray `<` cannot swallow the text). */
const COMPLETE_TAG = /<\/?\s*doc[-_]?[\w.:#/-]{0,80}\s*>/gi;
/** The start of what may still become a citation tag, at the very end of the text seen so far. */
const PARTIAL_TAG_AT_END = /<\/?\s*(d(o(c[-_]?[\w.:#/-]{0,80}\s*)?)?)?$/i;

/**
 * Turns streamed model text into readable preview text: citation tags are removed, and a tag split
 * across two deltas is held back until it is complete, so a preview never shows `<doc-` fragments.
 * The final answer is rendered separately from the parsed citations; this only serves previews.
 */
export class CitationPreview {
  private pending = '';

  /** Feeds one delta; returns the text that is safe to show now. */
  push(delta: string): string {
    const text = (this.pending + delta).replace(COMPLETE_TAG, '');
    const partial = PARTIAL_TAG_AT_END.exec(text);
    const cut = partial ? partial.index : text.length;
    this.pending = text.slice(cut);
    return text.slice(0, cut);
  }

  /** What was held back at the end of the stream (a `<` that never became a tag). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}
