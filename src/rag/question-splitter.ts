import { analyzeText } from '../knowledge/text-analysis.js';

const MAX_QUESTIONS = 4;

/**
 * Splits a message that asks several things ("How do I set up Redis? And what does COMPACTION do?")
 * into its questions, so each is searched on its own. Pieces end at `?`, line breaks and Korean
 * question endings; a piece without at least two content terms (a greeting, "thanks") joins its
 * neighbour. One question comes back as itself.
 */
export function splitQuestions(message: string): string[] {
  const text = message.trim();
  if (text === '') return [];
  const rough = text
    .split(/(?<=[?？])\s+|\r?\n+|(?<=(?:나요|까요|가요|세요|니까|인가요)[.!]?)\s+(?=\S)/u)
    .map((piece) => piece.replace(/^(?:and|also|그리고|또|또한)\s*,?\s*/i, '').trim())
    .filter((piece) => piece !== '');
  const questions: string[] = [];
  let carry = '';
  for (const piece of rough) {
    const combined = carry === '' ? piece : `${carry} ${piece}`;
    if (contentWeight(combined) < 2) {
      carry = combined;
      continue;
    }
    questions.push(combined);
    carry = '';
  }
  if (carry !== '') {
    if (questions.length > 0) questions[questions.length - 1] += ` ${carry}`;
    else questions.push(carry);
  }
  if (questions.length <= MAX_QUESTIONS) return questions;
  // More than a handful is rarely a list of questions; keep the first few and fold the rest into the last.
  return [...questions.slice(0, MAX_QUESTIONS - 1), questions.slice(MAX_QUESTIONS - 1).join(' ')];
}

function contentWeight(text: string): number {
  const terms = analyzeText(text);
  return terms.words.length + (terms.bigrams.length > 2 ? 1 : 0);
}
