/**
 * What the fake answers when a test scripted nothing: replies computed from the request (never a
 * fixed string), so local development and tests that only care about the plumbing get sensible,
 * checkable output.
 */
import type {
  ChatAnswer,
  ChatRequestView,
  RagReasoningAnswer,
  RagReasoningRequestView,
  RerankerAnswer,
  RerankerRequestView,
} from './scripts.js';
import { citeSpan } from './scripts.js';

const MAX_ECHO_CHARS = 400;

function lastUserText(messages: ChatRequestView['messages']): string {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message?.role === 'user') return contentText(message.content);
  }
  return '';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part: { type?: string; text?: string }) => (part.type === 'text' ? (part.text ?? '') : '[image]')).join(' ');
  }
  return '';
}

/** Echoes the newest user message and says how many messages it saw. */
export function echoChat(request: ChatRequestView): ChatAnswer {
  const asked = lastUserText(request.messages).slice(0, MAX_ECHO_CHARS);
  return { text: `(fake ${request.model}) You said: ${asked} [${request.messages.length} messages]` };
}

/** First sentence of a text (up to a terminal mark or 160 characters). */
export function firstSentence(text: string): string {
  const match = /^[\s\S]*?[.!?。](?=\s|$)/.exec(text.trim());
  const sentence = (match ? match[0] : text.trim()).trim();
  return sentence.length > 160 ? sentence.slice(0, 160) : sentence;
}

/** Character bigrams of a text with whitespace removed, lower-cased. */
export function characterBigrams(text: string): string[] {
  const characters = Array.from(text.toLowerCase().replace(/\s+/g, ''));
  const bigrams: string[] = [];
  for (let index = 0; index + 1 < characters.length; index += 1) bigrams.push(`${characters[index]}${characters[index + 1]}`);
  return bigrams;
}

/** Share of the query's bigrams that occur in the document, 0–1. */
export function bigramOverlap(query: string, document: string): number {
  const queryBigrams = new Set(characterBigrams(query));
  if (queryBigrams.size === 0) return 0;
  const documentBigrams = new Set(characterBigrams(document));
  let shared = 0;
  for (const bigram of queryBigrams) if (documentBigrams.has(bigram)) shared += 1;
  return shared / queryBigrams.size;
}

const CITE_THRESHOLD = 0.2;
const MAX_CITED = 3;

/** Cites the (up to three) documents sharing the most character bigrams with the query; suggests re-searches when none do. */
export function lexicalReranker(request: RerankerRequestView): RerankerAnswer {
  const scored = request.documents
    .map((document) => ({ id: document.id, score: bigramOverlap(request.query, document.doc) }))
    .filter((entry) => entry.score >= CITE_THRESHOLD)
    .sort((left, right) => right.score - left.score)
    .slice(0, MAX_CITED);
  if (scored.length === 0) {
    const words = request.query.split(/\s+/).filter(Boolean);
    return { citedIds: [], suggestedQueries: [words.slice(0, Math.max(1, words.length - 1)).join(' '), `${request.query} 방법`] };
  }
  return { citedIds: scored.map((entry) => entry.id) };
}

/** The reranker's answer text: each cited document's first sentence in its positional `<docN>` tag. */
export function rerankerAnswerText(request: RerankerRequestView, citedIds: string[]): string {
  if (citedIds.length === 0) return '답변: 검색 결과에는 질문에 대한 답을 찾을 수 없습니다.';
  const spans = citedIds.map((id) => {
    const position = request.documents.findIndex((document) => document.id === id) + 1;
    const document = request.documents[position - 1];
    return `<doc${position}>${firstSentence(document?.doc ?? '')}</doc${position}>`;
  });
  return `답변: ${spans.join(' ')}`;
}

/**
 * Searches first, answers second: while the newest message is from the user, calls the first tool
 * with `{query: <that message>}`; after a tool result, answers with the first sentence of each
 * returned document in its `<doc-ID>` span.
 */
export function searchThenCite(request: RagReasoningRequestView): RagReasoningAnswer {
  const last = request.messages[request.messages.length - 1];
  const tool = request.tools[0];
  if (last?.role === 'user' && tool) {
    return { thinking: `The user asks about "${contentText(last.content).slice(0, 80)}"; I should search.`, toolCalls: [{ name: tool.function.name, arguments: { query: contentText(last.content) } }] };
  }
  const documents: Array<{ id: string; doc: string }> = [];
  for (const message of request.messages) {
    if (message.role !== 'tool' || typeof message.content !== 'string') continue;
    try {
      const parsed = JSON.parse(message.content) as { search_result?: Array<{ id?: unknown; doc?: unknown }> };
      for (const entry of parsed.search_result ?? []) {
        if (typeof entry.id === 'string' && typeof entry.doc === 'string') documents.push({ id: entry.id, doc: entry.doc });
      }
    } catch {
      // A tool result that is not JSON simply contributes no documents.
    }
  }
  if (documents.length === 0) return { text: '검색 결과에서 답을 찾지 못했습니다.' };
  return { text: documents.slice(0, MAX_CITED).map((document) => citeSpan(document.id, firstSentence(document.doc))).join(' ') };
}

/**
 * `searchThenCite` for a chat model with function calling (the bot's chat reasoner, used when RAG
 * Reasoning is off): the same search step and cited answer, without the thinking text, which the
 * chat models that take tools do not stream.
 */
export function searchThenCiteInChat(request: ChatRequestView): ChatAnswer {
  const tools = (request.body.tools ?? []) as RagReasoningRequestView['tools'];
  const { thinking: _thinking, ...answer } = searchThenCite({ messages: request.messages, tools, body: request.body });
  return answer;
}

/** Bulleted first sentences of the texts, as the summarization API formats its output. */
export function extractiveSummary(texts: string[]): string {
  return texts
    .map((text) => firstSentence(text))
    .filter(Boolean)
    .map((sentence) => `- ${sentence}`)
    .join('\n');
}

/** Dimensions of the fake's embedding vectors, as bge-m3. */
export const FAKE_EMBEDDING_DIMENSIONS = 1024;

/**
 * A deterministic embedding: character bigrams hashed (FNV-1a) into 1,024 buckets, L2-normalised,
 * so texts sharing wording get a high cosine similarity and retrieval tests mean something.
 */
export function fakeEmbedding(text: string): number[] {
  const vector = new Array<number>(FAKE_EMBEDDING_DIMENSIONS).fill(0);
  const grams = characterBigrams(text);
  const units = grams.length > 0 ? grams : Array.from(text);
  for (const gram of units) {
    let hash = 0x811c9dc5;
    for (let index = 0; index < gram.length; index += 1) {
      hash ^= gram.charCodeAt(index);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    const bucket = hash % FAKE_EMBEDDING_DIMENSIONS;
    vector[bucket] = (vector[bucket] ?? 0) + ((hash >>> 16) & 1 ? 1 : -1) * 0.25 + 1;
  }
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)) || 1;
  return vector.map((value) => value / norm);
}
