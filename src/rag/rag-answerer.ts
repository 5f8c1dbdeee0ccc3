import { randomUUID } from 'node:crypto';
import type { PromptTokenReport } from '../compaction/types.js';
import type { Answer } from '../engine/answer.js';
import type { AnswerRequest, Answerer } from '../engine/answerer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ChatCompletion, ChatEvent, ChatMessage, Doc, Reasoner, Reranker, Retriever, TokenCounter, ToolCall } from '../providers/types.js';
import { CitationPreview } from './citation-preview.js';
import { detectLanguage, PHRASES } from './answer-language.js';
import { parseCitationMarkup } from './citation-markup.js';
import { buildCitedAnswer } from './cited-answer.js';
import { latestUserText } from './conversation.js';
import { DocumentRegistry } from './document-registry.js';
import { searchAndRerank } from './search-and-rerank.js';
import { parseSearchArguments, SEARCH_TOOL } from './search-tool.js';
import { buildSystemPrompt } from './system-prompt.js';
import { SystemMessageTokens } from '../answering/system-message-tokens.js';

export interface RagAnswererOptions {
  reasoner: Reasoner;
  retriever: Retriever;
  reranker: Reranker;
  tokenCounter: TokenCounter;
  /** Most search rounds per answer (RAG_MAX_ROUNDS). */
  maxRounds: number;
  /** Documents retrieved per search before reranking (RAG_TOP_K). */
  topK: number;
  /** Tokens of document text one answer may carry (DOCUMENT_TOKEN_BUDGET). */
  documentTokenBudget: number;
  /** Replaces the persona; the grounding rules are always appended. */
  systemPrompt?: string;
  logger: Logger;
  metrics?: Metrics;
}

/** Suggested queries tried per empty search, once. */
const MAX_SUGGESTIONS_TRIED = 2;
/** A document cut to fewer tokens than this is not worth sending. */
const MIN_DOCUMENT_TOKENS = 40;
/** Framing per round that is not document text: the assistant's tool calls and the JSON around results. */
const ROUND_OVERHEAD_TOKENS = 120;
/** Citation-like markup inside documents is removed before the model sees it, so a document cannot plant a citation. */
const CITATION_MARKUP = /<\/?\s*doc[-_]?[\w.:#/-]{0,80}\s*\/?>/gi;

interface CallOutcome {
  call: ToolCall;
  query?: string;
  problem?: string;
  ranked: Doc[];
  triedSuggestions: string[];
}

/**
 * The retrieve → rerank → reason loop. The model decides when to search; every tool call gets its
 * own search and rerank (calls of one round run concurrently) and its own `tool` message; a document
 * is sent once per answer and later calls refer to it by id; an empty search re-searches once with
 * the reranker's suggested queries; after `maxRounds` rounds the model must answer. Every call
 * carries the whole compacted history plus the tool exchange so far, never just the first question.
 */
export function createRagAnswerer(options: RagAnswererOptions): Answerer {
  const systemPrompt = buildSystemPrompt(options.systemPrompt);
  const toolSchemaTokens = options.tokenCounter.countText(JSON.stringify(SEARCH_TOOL));
  // The budget reserves the most one answer may add (every round, the whole document budget);
  // usage is learned from the first call alone, which adds only the system prompt and the tool.
  const reservedTokens = options.tokenCounter.countText(systemPrompt) + toolSchemaTokens + options.documentTokenBudget + ROUND_OVERHEAD_TOKENS * options.maxRounds;
  const systemMessageTokens = new SystemMessageTokens(options.tokenCounter, options.logger);

  return {
    reservedTokens,
    async answer(request: AnswerRequest): Promise<Answer> {
      const { signal } = request;
      const language = detectLanguage(latestUserText(request.history) ?? request.message.text);
      // A channel persona replaces the default one; the grounding rules come with it either way.
      const turnSystemPrompt = request.persona ? buildSystemPrompt(request.persona) : systemPrompt;
      const messages: ChatMessage[] = [{ role: 'system', content: turnSystemPrompt }, ...request.history];
      const registry = new DocumentRegistry();
      const usage = { inputTokens: 0, outputTokens: 0 };
      const figures: Pick<Answer, 'usage' | 'promptTokens'> = { usage };
      let documentTokens = 0;
      let searched = false;
      const reason = async (round: number): Promise<ChatCompletion> => {
        const params = { maxTokens: request.budget.maxOutputTokens, toolChoice: round < options.maxRounds ? ('auto' as const) : ('none' as const), signal };
        const completion = options.reasoner.streamReason
          ? await streamed(options.reasoner.streamReason(messages, [SEARCH_TOOL], params), request)
          : await options.reasoner.reason(messages, [SEARCH_TOOL], params);
        // Only summed here: the reasoner's provider counts each call into the token metric.
        usage.inputTokens += completion.usage.inputTokens;
        usage.outputTokens += completion.usage.outputTokens;
        if (round === 0) {
          const report = await firstCallReport(completion, params.toolChoice, turnSystemPrompt, systemMessageTokens, toolSchemaTokens, signal);
          if (report) figures.promptTokens = report;
        }
        return completion;
      };

      await request.progress({ type: 'status-changed', status: 'thinking', text: language === 'ko' ? '생각하는 중…' : 'Thinking…' });
      let completion = await reason(0);
      for (let round = 1; round <= options.maxRounds && completion.toolCalls.length > 0; round += 1) {
        searched = true;
        await request.progress({ type: 'status-changed', status: 'searching', text: language === 'ko' ? '지식 베이스를 검색하는 중…' : 'Searching the knowledge base…' });
        const outcomes = await Promise.all(completion.toolCalls.map((call) => runCall(call, options, signal)));
        messages.push({ role: 'assistant', content: completion.text, toolCalls: completion.toolCalls });
        for (const outcome of outcomes) {
          const { content, tokens } = toolResult(outcome, registry, options, options.documentTokenBudget - documentTokens);
          documentTokens += tokens;
          messages.push({ role: 'tool', toolCallId: outcome.call.id, content });
        }
        options.logger.debug(
          { round, calls: outcomes.map((outcome) => ({ found: outcome.ranked.length, problem: outcome.problem, suggestions: outcome.triedSuggestions.length })), documents: registry.size, documentTokens },
          'search round finished',
        );
        if (registry.size === 0 && outcomes.every((outcome) => outcome.ranked.length === 0 && outcome.problem === undefined)) {
          // Nothing found even with the suggested queries: say so instead of letting the model improvise.
          return notFound(language, outcomes.flatMap((outcome) => outcome.triedSuggestions), figures);
        }
        await request.progress({ type: 'status-changed', status: 'writing', text: language === 'ko' ? '답변을 쓰는 중…' : 'Writing the answer…' });
        completion = await reason(round);
      }

      // Searches ran but no document ever reached the model (every call was malformed): whatever it writes now is improvised.
      if (searched && registry.size === 0) return notFound(language, [], figures);
      const answer = buildCitedAnswer({
        id: randomUUID(),
        segments: parseCitationMarkup(completion.text),
        resolve: (tagId) => registry.resolve(tagId),
        mode: searched ? 'generated' : 'chat',
        usage,
      });
      if (figures.promptTokens) answer.promptTokens = figures.promptTokens;
      if (answer.citationIssues) {
        options.logger.warn({ answerId: answer.id, ...answer.citationIssues }, 'citations removed from a model answer');
        if (answer.citationIssues.unsupportedSpans > 0) answer.notices.push(PHRASES.unsupportedNotice[language](answer.citationIssues.unsupportedSpans));
      }
      if (answer.parts.length === 0) return notFound(language, [], figures);
      return answer;
    },
  };
}

/** Consumes a streamed reasoning call, forwarding answer text as previews (citation tags hidden). */
async function streamed(events: AsyncIterable<ChatEvent>, request: AnswerRequest): Promise<ChatCompletion> {
  const preview = new CitationPreview();
  for await (const event of events) {
    if (event.type === 'text-delta') {
      const visible = preview.push(event.text);
      if (visible) await request.progress({ type: 'text-delta', text: visible });
    } else if (event.type === 'completed') {
      const rest = preview.flush();
      if (rest) await request.progress({ type: 'text-delta', text: rest });
      return event.completion;
    }
  }
  throw new Error('the reasoning stream ended without a completed event');
}

async function runCall(call: ToolCall, options: RagAnswererOptions, signal: AbortSignal): Promise<CallOutcome> {
  const parsed = parseSearchArguments(call.name, call.arguments);
  if ('problem' in parsed) return { call, problem: parsed.problem, ranked: [], triedSuggestions: [] };
  const search = (query: string) =>
    searchAndRerank({ query, retriever: options.retriever, reranker: options.reranker, topK: options.topK, signal, ...(options.metrics ? { metrics: options.metrics } : {}) });
  const first = await search(parsed.query);
  if (first.ranked.length > 0 || first.suggestedQueries.length === 0) {
    return { call, query: parsed.query, ranked: first.ranked.map((entry) => entry.doc), triedSuggestions: [] };
  }
  const suggestions = [...new Set(first.suggestedQueries.map((query) => query.trim()).filter((query) => query !== '' && query !== parsed.query))].slice(0, MAX_SUGGESTIONS_TRIED);
  const retries = await Promise.all(suggestions.map((query) => search(query)));
  const ranked = new Map<string, Doc>();
  for (const retry of retries) for (const entry of retry.ranked) if (!ranked.has(entry.doc.id)) ranked.set(entry.doc.id, entry.doc);
  return { call, query: parsed.query, ranked: [...ranked.values()], triedSuggestions: suggestions };
}

/**
 * The `tool` message of one call: its own documents under their aliases, as JSON data. A document
 * already sent earlier in this answer is referenced by id only; document text is cut to what is
 * left of the budget, and stripped of citation-like markup.
 */
function toolResult(outcome: CallOutcome, registry: DocumentRegistry, options: RagAnswererOptions, remainingTokens: number): { content: string; tokens: number } {
  if (outcome.problem !== undefined) return { content: JSON.stringify({ search_result: [], error: outcome.problem }), tokens: 0 };
  const results: { id: string; title?: string; doc: string }[] = [];
  let tokens = 0;
  let omitted = 0;
  for (const doc of outcome.ranked) {
    const known = registry.resolveById(doc.id);
    if (known) {
      results.push({ id: known, doc: 'The same document as in an earlier search result.' });
      continue;
    }
    const text = doc.content.replace(CITATION_MARKUP, ' ');
    const fitted = fitToTokens(text, remainingTokens - tokens, options.tokenCounter);
    if (fitted === undefined) {
      omitted += 1;
      continue;
    }
    tokens += options.tokenCounter.countText(fitted) + (doc.title ? options.tokenCounter.countText(doc.title) : 0);
    const { alias } = registry.register({ ...doc, content: fitted });
    results.push({ id: alias, ...(doc.title ? { title: doc.title } : {}), doc: fitted });
  }
  const payload: Record<string, unknown> = { search_result: results };
  if (outcome.triedSuggestions.length > 0) payload.searched_instead = outcome.triedSuggestions;
  if (results.length === 0) payload.note = 'Nothing relevant was found for this query. Tell the user the knowledge base does not cover it.';
  if (omitted > 0) payload.omitted_for_length = omitted;
  return { content: JSON.stringify(payload), tokens };
}

/** The text cut to at most `budget` tokens at a sentence or word boundary; undefined when too little room is left. */
function fitToTokens(text: string, budget: number, counter: TokenCounter): string | undefined {
  if (budget < MIN_DOCUMENT_TOKENS) return undefined;
  if (counter.countText(text) <= budget) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (counter.countText(text.slice(0, middle)) <= budget - 1) low = middle;
    else high = middle - 1;
  }
  const cut = text.slice(0, low);
  const boundary = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('다. '), cut.lastIndexOf('\n'));
  const trimmed = boundary > cut.length / 2 ? cut.slice(0, boundary + 1) : cut.replace(/\s+\S*$/, '');
  return trimmed.trim() === '' ? undefined : `${trimmed.trim()} …`;
}

function notFound(language: 'ko' | 'en', triedSuggestions: string[], figures: Pick<Answer, 'usage' | 'promptTokens'>): Answer {
  const text = triedSuggestions.length > 0 ? `${PHRASES.notFound[language]} ${PHRASES.trySuggestions[language](triedSuggestions)}` : PHRASES.notFound[language];
  return { id: randomUUID(), parts: [{ type: 'text', text }], sources: [], mode: 'not-found', notices: [], ...figures };
}

/**
 * What compaction may learn from the first call of an answer: its prompt is the fitted history plus
 * the system prompt and the tool schema, nothing else (documents come only with later calls, whose
 * figures are never used). Absent when the provider reported no usage (a stream without it), and
 * when tools were offered with `toolChoice: 'none'`, which some providers send and others leave out.
 */
async function firstCallReport(
  completion: ChatCompletion,
  toolChoice: 'auto' | 'none',
  systemPrompt: string,
  systemMessageTokens: SystemMessageTokens,
  toolSchemaTokens: number,
  signal: AbortSignal,
): Promise<PromptTokenReport | undefined> {
  if (toolChoice !== 'auto') return undefined;
  return systemMessageTokens.report(completion.usage.inputTokens, systemPrompt, signal, toolSchemaTokens);
}
