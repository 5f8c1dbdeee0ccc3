/**
 * Splits text into sentences for chunk packing and extractive answers. Line breaks always end a
 * sentence (list items, table rows, headings); within a line a sentence ends at `.`, `?`, `!` or `。`
 * followed by white space, except after a lone number or a short abbreviation (`1. `, `e.g. `).
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    let start = 0;
    const boundary = /[.?!。](?=\s+)/g;
    for (let match = boundary.exec(trimmed); match; match = boundary.exec(trimmed)) {
      const end = match.index + 1;
      const candidate = trimmed.slice(start, end);
      if (/(?:^|\s)(?:\d{1,3}|[a-z]\.[a-z]|e\.g|i\.e|etc|vs|no)\.$/i.test(candidate)) continue;
      if (candidate.trim() !== '') sentences.push(candidate.trim());
      start = end;
    }
    const rest = trimmed.slice(start).trim();
    if (rest !== '') sentences.push(rest);
  }
  return sentences;
}
