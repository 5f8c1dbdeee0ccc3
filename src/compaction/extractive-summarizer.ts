import type { SummarizeOptions, Summarizer } from '../providers/types.js';
import { extractKeyFacts, sentencesOf } from './key-facts.js';

/** Options of the offline summariser. */
export interface ExtractiveSummarizerOptions {
  /** Longest summary it writes, in characters. Default 1,200. */
  maxCharacters?: number;
}

const DEFAULT_MAX_CHARACTERS = 1_200;
const MAX_SENTENCE_CHARACTERS = 200;
// Sentences made only of greetings, thanks and acknowledgements carry nothing worth keeping.
const PLEASANTRY = /^(?:(?:네|예|아|넵|thanks|thank you|ok|okay|sure|hello|hi|감사합니다|고맙습니다|알겠습니다|안녕하세요|수고하세요)[\s,.!~]*)+$/i;

interface Candidate {
  text: string;
  order: number;
  score: number;
}

/**
 * An offline summariser that needs no model: it keeps the sentences most likely to matter in a
 * support case (those carrying ids, numbers, error codes, what was tried, what was promised, the
 * user's questions) within a character budget, in their original order, and lets the previous
 * summary's sentences compete for the same budget with a head start so the summary stays rolling.
 */
export function createExtractiveSummarizer(options: ExtractiveSummarizerOptions = {}): Summarizer {
  const maxCharacters = options.maxCharacters ?? DEFAULT_MAX_CHARACTERS;
  return {
    async summarize(texts: string[], summarizeOptions: SummarizeOptions = {}): Promise<string> {
      summarizeOptions.signal?.throwIfAborted();
      const candidates: Candidate[] = [];
      let order = 0;
      for (const line of summaryLines(summarizeOptions.priorSummary ?? '')) {
        candidates.push({ text: line, order: order++, score: scoreSentence(line, 'prior') });
      }
      for (const text of texts) {
        const { speaker, body } = splitSpeaker(text);
        const sentences = sentencesOf(body);
        sentences.forEach((sentence, index) => {
          const line = clip(speaker ? `${speaker}: ${sentence}` : sentence);
          // The first sentence of a message usually says what it is about.
          const lead = index === 0 ? 0.5 : 0;
          candidates.push({ text: line, order: order++, score: scoreSentence(sentence, speaker) + lead });
        });
      }
      return pick(candidates, maxCharacters);
    },
  };
}

function pick(candidates: Candidate[], maxCharacters: number): string {
  const total = candidates.length;
  // Later sentences win ties: the end of a conversation says where the case stands.
  const ranked = [...candidates].sort((left, right) => right.score + right.order / (total * 10) - (left.score + left.order / (total * 10)));
  const chosen: Candidate[] = [];
  const seen = new Set<string>();
  let used = 0;
  for (const candidate of ranked) {
    const line = `- ${candidate.text}`;
    if (candidate.score < 0 || seen.has(candidate.text) || used + line.length + 1 > maxCharacters) continue;
    seen.add(candidate.text);
    chosen.push(candidate);
    used += line.length + 1;
  }
  return chosen
    .sort((left, right) => left.order - right.order)
    .map((candidate) => `- ${candidate.text}`)
    .join('\n');
}

function scoreSentence(sentence: string, speaker: string): number {
  let score = 0;
  const facts = extractKeyFacts([{ role: speaker === 'Assistant' ? 'assistant' : 'user', content: sentence }]);
  score += Math.min(3, facts.length * 2);
  if (/\d/.test(sentence)) score += 0.5;
  if (speaker === 'User' && /[?？]|(?:나요|까요|까|가요|어떻게|왜|언제|어디)\s*$/.test(sentence)) score += 1;
  if (speaker === 'prior') score += 1.5;
  if (sentence.length < 8) score -= 2;
  if (PLEASANTRY.test(sentence.trim())) score -= 3;
  return score;
}

/** Separates a "User: …" / "Assistant: …" prefix written by the compactor from the message text. */
function splitSpeaker(text: string): { speaker: string; body: string } {
  const match = /^(User|Assistant|Tool):\s*([\s\S]*)$/.exec(text);
  if (!match) return { speaker: '', body: text };
  return { speaker: match[1] ?? '', body: match[2] ?? '' };
}

function summaryLines(summary: string): string[] {
  return summary
    .split('\n')
    .map((line) => line.replace(/^\s*[-*•]\s*/, '').trim())
    .filter((line) => line.length > 0)
    .map(clip);
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_SENTENCE_CHARACTERS ? flat : `${flat.slice(0, MAX_SENTENCE_CHARACTERS - 1).trimEnd()}…`;
}
