import { randomUUID } from 'node:crypto';
import type { Answer } from '../engine/answer.js';
import type { AnswerRequest, Answerer } from '../engine/answerer.js';
import { splitSentences } from '../knowledge/sentences.js';
import { analyzeText } from '../knowledge/text-analysis.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Doc, Reranker, Retriever, ScoredDoc } from '../providers/types.js';
import { detectLanguage, PHRASES, type AnswerLanguage } from './answer-language.js';
import { parseCitationMarkup } from './citation-markup.js';
import { buildCitedAnswer, hasSubstance } from './cited-answer.js';
import { DocumentRegistry } from './document-registry.js';
import { splitQuestions } from './question-splitter.js';
import { latestUserText, previousUserText } from './conversation.js';
import { searchAndRerank } from './search-and-rerank.js';

export interface OfflineAnswererOptions {
  retriever: Retriever;
  reranker: Reranker;
  logger: Logger;
  metrics?: Metrics;
  /** Candidates retrieved per question before reranking. */
  topK?: number;
  /** Sentences quoted per question. */
  sentencesPerQuestion?: number;
}

/** A quoted sentence longer than this is cut; documents are untrusted and chat messages have limits. */
const MAX_SENTENCE_CHARACTERS = 400;

/**
 * The answerer of the embedded default (no model, no key): splits the message into questions,
 * retrieves and reranks locally for each, and quotes the best matching sentences inside real
 * `<doc-N>` spans, which then go through the same citation parsing and verification as model output.
 * A short follow-up that finds nothing on its own is searched again together with the previous question.
 */
export function createOfflineAnswerer(options: OfflineAnswererOptions): Answerer {
  const topK = options.topK ?? 8;
  const sentencesPerQuestion = options.sentencesPerQuestion ?? 2;
  return {
    reservedTokens: 0,
    async answer(request: AnswerRequest): Promise<Answer> {
      const message = latestUserText(request.history) ?? request.message.text;
      const language = detectLanguage(message);
      const questions = splitQuestions(message);
      const registry = new DocumentRegistry();
      const markup: string[] = [];
      let answered = 0;
      await request.progress({ type: 'status-changed', status: 'searching', text: language === 'ko' ? '지식 베이스를 검색하는 중…' : 'Searching the knowledge base…' });
      for (const question of questions) {
        const search = (query: string) =>
          searchAndRerank({ query, retriever: options.retriever, reranker: options.reranker, topK, signal: request.signal, ...(options.metrics ? { metrics: options.metrics } : {}) });
        let query = question;
        let found = await search(query);
        const previous = previousUserText(request.history);
        if (found.ranked.length === 0 && previous !== undefined) found = await search((query = `${previous} ${question}`));
        if (found.ranked.length === 0 && found.suggestedQueries[0] !== undefined) found = await search((query = found.suggestedQueries[0]));
        const quoted = quoteSentences(query, found.ranked, sentencesPerQuestion);
        const heading = questions.length > 1 ? `${questions.indexOf(question) + 1}. ${question}\n` : '';
        if (quoted.length === 0) {
          markup.push(`${heading}${PHRASES.notFoundFor[language](question)}`);
          continue;
        }
        answered += 1;
        const spans = quoted.map(({ doc, sentence }) => {
          const { alias } = registry.register(doc);
          return `<${alias}>${sentence}</${alias}>`;
        });
        markup.push(`${heading}${spans.join(' ')}`);
      }
      options.logger.debug({ questions: questions.length, answered, documents: registry.size }, 'offline answer composed');
      if (answered === 0) return notFoundAnswer(language);
      const answer = buildCitedAnswer({
        id: randomUUID(),
        segments: parseCitationMarkup(markup.join('\n\n')),
        resolve: (tagId) => registry.resolve(tagId),
        mode: 'extractive',
        notices: [PHRASES.extractiveNotice[language]],
      });
      return hasSubstance(answer) ? answer : notFoundAnswer(language);
    },
  };
}

function notFoundAnswer(language: AnswerLanguage): Answer {
  return { id: randomUUID(), parts: [{ type: 'text', text: PHRASES.notFound[language] }], sources: [], mode: 'not-found', notices: [PHRASES.extractiveNotice[language]] };
}

/**
 * Picks the sentences that share the most query terms, from the best documents, in reading order
 * within each document. Headings-only lines and very short fragments are skipped.
 */
function quoteSentences(question: string, ranked: readonly ScoredDoc[], count: number): { doc: Doc; sentence: string }[] {
  const queryTerms = termsOf(question);
  if (queryTerms.size === 0) return [];
  const candidates: { doc: Doc; sentence: string; terms: Set<string>; documentRank: number; position: number; score: number }[] = [];
  ranked.slice(0, 3).forEach(({ doc }, documentRank) => {
    splitSentences(doc.content).forEach((sentence, position) => {
      const cleaned = sentence.replace(/^[-*+>#\s]+/, '').trim();
      if (cleaned.length < 12 || /^```/.test(cleaned)) return;
      // A sentence is read under its section heading: "Undo" in the title makes its sentences about undoing.
      const terms = new Set([...termsOf(cleaned), ...termsOf(doc.title ?? '')]);
      // The cut must not leave half of a surrogate pair (an emoji): Slack and Discord reject or mangle it.
      candidates.push({ doc, sentence: cleaned.slice(0, MAX_SENTENCE_CHARACTERS).replace(/[\uD800-\uDBFF]$/, ''), terms, documentRank, position, score: 0 });
    });
  });
  // Terms found in many candidate sentences ("configure", "bot") say little; rare ones ("Redis") decide.
  const rarity = (term: string) => Math.log(1 + (candidates.length + 1) / (candidates.filter((candidate) => candidate.terms.has(term)).length + 0.5));
  const weights = new Map([...queryTerms].map((term) => [term, (term.startsWith('w:') ? 2 : 1) * rarity(term)]));
  for (const candidate of candidates) {
    let shared = 0;
    for (const [term, weight] of weights) if (candidate.terms.has(term)) shared += weight;
    // Earlier documents won the rerank; a small penalty per rank breaks ties in their favour.
    candidate.score = shared > 0 ? shared - candidate.documentRank * 0.25 : 0;
  }
  const scored = candidates.filter((candidate) => candidate.score > 0);
  // A bilingual knowledge base holds the same fact in two languages; quote the asker's language when it can.
  const language = detectLanguage(question);
  const sameLanguage = scored.filter((candidate) => detectLanguage(candidate.sentence) === language);
  const pool = sameLanguage.length > 0 ? sameLanguage : scored;
  pool.sort((left, right) => right.score - left.score);
  // A second sentence earns its place only when it is nearly as relevant as the best one.
  const floor = (pool[0]?.score ?? 0) * 0.5;
  const chosen = pool.filter((candidate) => candidate.score >= floor).slice(0, count);
  return chosen
    .sort((left, right) => left.documentRank - right.documentRank || left.position - right.position)
    .map(({ doc, sentence }) => ({ doc, sentence }));
}

function termsOf(text: string): Set<string> {
  const terms = analyzeText(text);
  return new Set([...terms.words.map((word) => `w:${word}`), ...terms.bigrams.map((gram) => `b:${gram}`)]);
}
