import { answerPlainText, type Answer } from '../../src/engine/answer.js';

/**
 * Renders an answer as terminal text: `[n]` citation markers, then a numbered sources list and the
 * notices. Terminal control characters in model or document text are removed so an answer cannot
 * move the cursor, change colours or retitle the terminal.
 */
export function renderAnswerAsText(answer: Answer): string {
  const lines = [stripControlCharacters(answerPlainText(answer)).trim()];
  if (answer.sources.length > 0) {
    lines.push('', 'Sources:');
    answer.sources.forEach((source, index) => {
      const title = stripControlCharacters(source.title).replace(/\s+/g, ' ').trim();
      lines.push(`  [${index + 1}] ${title}${source.url ? ` — ${stripControlCharacters(source.url)}` : ''}`);
    });
  }
  for (const notice of answer.notices) lines.push(`(${stripControlCharacters(notice)})`);
  return lines.join('\n');
}

/** Removes C0/C1 control characters except newline and tab. */
export function stripControlCharacters(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '');
}
