/**
 * Whether a document text is worth indexing or sending to a reranker. Exports from pandas and
 * spreadsheets write missing cells as `None`, `NaN` or `null`; those are not documents.
 */
export function isUsableText(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const trimmed = text.trim();
  return trimmed !== '' && !/^(?:none|nan|null|undefined|n\/a)$/i.test(trimmed);
}
