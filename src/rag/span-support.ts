import { contentTermSet } from '../knowledge/text-analysis.js';

/** Share of a span's content terms that must occur in its document for the citation to stand. */
const MINIMUM_COVERAGE = 0.4;

const NUMBER = /\d+(?:[.,]\d+)*/g;

/**
 * A cheap lexical check that a cited span is backed by its document: most of the span's words and
 * Hangul bigrams must occur in the document, and every number in the span must occur there too (a
 * changed figure is the commonest unsupported claim). It catches fabricated or mis-attributed
 * spans, not subtle paraphrase errors.
 */
export function isSpanSupported(span: string, documentText: string): boolean {
  const spanTerms = contentTermSet(span);
  if (spanTerms.size === 0) return true;
  const documentTerms = contentTermSet(documentText);
  let present = 0;
  for (const term of spanTerms) if (documentTerms.has(term)) present += 1;
  if (present / spanTerms.size < MINIMUM_COVERAGE) return false;
  const documentNumbers = new Set((documentText.match(NUMBER) ?? []).map(normaliseNumber));
  // List numbering the model added ("1. …") is layout, not a claim.
  const claims = span.replace(/^\s*\d{1,2}[.)]\s+/gm, '');
  return (claims.match(NUMBER) ?? []).every((number) => documentNumbers.has(normaliseNumber(number)));
}

function normaliseNumber(number: string): string {
  return number.replace(/,/g, '');
}
