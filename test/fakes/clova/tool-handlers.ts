/** The api-tools endpoints on the fake: tokenizers, sliding window, summarization, reranker, RAG Reasoning, embeddings. */
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { newToolCallId } from './chat-replies.js';
import { fakeEmbedding, rerankerAnswerText, searchThenCite, lexicalReranker, extractiveSummary } from './default-responders.js';
import type { FakeApi, FakeContext } from './fake-clova-server.js';
import { fakeContentTokens, fakePromptTokens, fakeTokenCount } from './fake-token-count.js';
import { answerJsonFault } from './faults.js';
import {
  embeddingBody,
  embeddingTokenizeBody,
  ragReasoningBody,
  rerankerBody,
  slidingBody,
  summarizationBody,
  tokenizeV1Body,
  tokenizeV3Body,
  validate,
} from './request-validation.js';
import {
  isFault,
  nextReply,
  type RagReasoningRequestView,
  type RerankerRequestView,
  type Responder,
  type ScriptedFault,
} from './scripts.js';
import { sendEnvelope } from './wire-writer.js';

/** Scripted embeddings: a vector per request, or a fault. */
export type EmbeddingResponder = Responder<{ text: string }, { embedding: number[] } | ScriptedFault>;

export interface ToolCall {
  api: FakeApi;
  response: ServerResponse;
  body: Record<string, unknown>;
  model?: string;
  version?: 'v1' | 'v3';
}

const RAG_MAX_INPUT_TOKENS = 128_000;
const EMBEDDING_MAX_TOKENS = 8_192;

type Outcome = { result: unknown } | { fault: ScriptedFault } | { error: { code: string; message: string } };

function invalid(parameters: string[]): Outcome {
  return { error: { code: '40001', message: `Invalid parameter: ${parameters.join(', ')}` } };
}

/** Serves one api-tools request. */
export async function handleTool(context: FakeContext, call: ToolCall): Promise<void> {
  const { response } = call;
  const injected = context.takeFault(call.api);
  if (injected?.fault === 'slow-first-byte') {
    await delay(injected.delayMs, undefined, { signal: context.signal }).catch(() => undefined);
    if (response.destroyed) return;
  }
  const outcome = await computeOutcome(context, call, injected && injected.fault !== 'slow-first-byte' ? injected : undefined);
  if (outcome === undefined) return;
  if ('error' in outcome) return sendEnvelope(response, outcome.error.code, outcome.error.message);
  if ('fault' in outcome) {
    await answerJsonFault(outcome.fault, response, () => ({ status: { code: '20000', message: 'OK' }, result: {} }), context.signal);
    return;
  }
  sendEnvelope(response, '20000', 'OK', { result: outcome.result });
}

const EXHAUSTED: ScriptedFault = { fault: 'status', httpStatus: 500, code: '50000', message: 'Internal server error (fake: the script is exhausted)' };

/**
 * A scripted `slow-first-byte` reply waits, then gives the default answer; an exhausted queue
 * answers HTTP 500 so the test notices; other replies pass through.
 */
async function settle<Reply extends object>(reply: Reply | ScriptedFault | undefined, fallback: () => Reply, signal: AbortSignal): Promise<Reply | ScriptedFault> {
  if (reply && isFault(reply) && reply.fault === 'slow-first-byte') {
    await delay(reply.delayMs, undefined, { signal }).catch(() => undefined);
    return fallback();
  }
  return reply ?? EXHAUSTED;
}

/** Validates, rate-limits and answers; `undefined` when a 429 was already sent. */
async function computeOutcome(context: FakeContext, call: ToolCall, injected: ScriptedFault | undefined): Promise<Outcome | undefined> {
  const { body, response } = call;
  switch (call.api) {
    case 'tokenize': {
      const info = context.model(call.model ?? '');
      if (!info) return { error: { code: '40080', message: 'Model not found' } };
      if (info.apiVersion !== call.version) return { error: { code: '40084', message: 'Unsupported API for model' } };
      const parsed = validate(call.version === 'v1' ? tokenizeV1Body : tokenizeV3Body, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      if (!context.admit('tokenize', 0, response)) return undefined;
      if (injected) return { fault: injected };
      const messages = body.messages as Array<{ role: string; content: unknown; toolCalls?: unknown }>;
      if (call.version === 'v1') {
        return { result: { messages: messages.map((message) => ({ role: message.role, content: message.content, count: fakeContentTokens(message) })) } };
      }
      const counted = messages.map((message) => ({
        role: message.role,
        content: Array.isArray(message.content)
          ? (message.content as Array<Record<string, unknown>>).map((part) => ({ ...part, count: fakeContentTokens({ role: message.role, content: [part] }) }))
          : { type: 'text', text: message.content, count: fakeContentTokens(message) },
      }));
      const result: Record<string, unknown> = { messages: counted };
      if (body.tools !== undefined) result.tools = { count: fakeTokenCount(JSON.stringify(body.tools)) };
      if (body.responseFormat !== undefined) result.responseFormat = { count: fakeTokenCount(JSON.stringify(body.responseFormat)) };
      return { result };
    }
    case 'sliding': {
      const info = context.model(call.model ?? '');
      if (!info) return { error: { code: '40080', message: 'Model not found' } };
      const parsed = validate(slidingBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      if (!context.admit('sliding', 0, response)) return undefined;
      if (injected) return { fault: injected };
      const kept = slideMessages(parsed.value.messages, parsed.value.maxTokens, info.contextWindow);
      return kept ? { result: { messages: kept } } : { error: { code: '40003', message: 'Context length exceeded' } };
    }
    case 'summarization': {
      const parsed = validate(summarizationBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      const inputTokens = parsed.value.texts.reduce((sum, text) => sum + fakeTokenCount(text), 0);
      if (!context.admit('summarization', inputTokens, response)) return undefined;
      if (injected) return { fault: injected };
      const reply = await settle(await nextReply(context.summarization, { texts: parsed.value.texts, body }), () => ({ text: extractiveSummary(parsed.value.texts) }), context.signal);
      return isFault(reply) ? { fault: reply } : { result: { text: reply.text, inputTokens } };
    }
    case 'reranker': {
      const parsed = validate(rerankerBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      const view: RerankerRequestView = { query: parsed.value.query, documents: parsed.value.documents, body };
      const promptTokens = fakeTokenCount(view.query) + view.documents.reduce((sum, document) => sum + fakeTokenCount(document.doc) + 3, 0);
      if (promptTokens > RAG_MAX_INPUT_TOKENS) return { error: { code: '40003', message: 'Context length exceeded' } };
      if (!context.admit('reranker', promptTokens + (parsed.value.maxTokens ?? 1_024), response)) return undefined;
      if (injected) return { fault: injected };
      const reply = await settle(await nextReply(context.reranker, view), () => lexicalReranker(view), context.signal);
      if (isFault(reply)) return { fault: reply };
      const unknownIds = reply.citedIds.filter((id) => !view.documents.some((document) => document.id === id));
      if (unknownIds.length > 0) return { error: { code: '50000', message: `Internal server error (fake: scripted citation of unsent ids ${unknownIds.join(', ')})` } };
      const answer = reply.answer ?? rerankerAnswerText(view, reply.citedIds);
      const completionTokens = fakeTokenCount(answer);
      return {
        result: {
          result: answer,
          citedDocuments: reply.citedIds.map((id) => view.documents.find((document) => document.id === id)),
          suggestedQueries: reply.suggestedQueries ?? (reply.citedIds.length === 0 ? [`${view.query} 방법`] : []),
          usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
        },
      };
    }
    case 'rag-reasoning': {
      const parsed = validate(ragReasoningBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      const view = { messages: body.messages, tools: body.tools, body } as RagReasoningRequestView;
      const promptTokens = fakePromptTokens(view.messages, view.tools);
      const outputReserve = parsed.value.maxTokens ?? 1_024;
      if (!context.admit('rag-reasoning', promptTokens + outputReserve, response)) return undefined;
      if (promptTokens > RAG_MAX_INPUT_TOKENS) return { error: { code: '40003', message: 'Context length exceeded' } };
      if (injected) return { fault: injected };
      const reply = await settle(await nextReply(context.ragReasoning, view), () => searchThenCite(view), context.signal);
      if (isFault(reply)) return { fault: reply };
      const toolNames = new Set(view.tools.map((tool) => tool.function.name));
      const strangers = (reply.toolCalls ?? []).filter((toolCall) => !toolNames.has(toolCall.name));
      if (strangers.length > 0) return { error: { code: '50000', message: `Internal server error (fake: scripted call of undeclared tool ${strangers[0]?.name})` } };
      const message: Record<string, unknown> = { role: 'assistant', content: reply.text ?? '' };
      if (reply.thinking) message.thinkingContent = reply.thinking;
      if (reply.toolCalls && reply.toolCalls.length > 0) {
        message.toolCalls = reply.toolCalls.map((toolCall) => ({ id: toolCall.id ?? newToolCallId(), type: 'function', function: { name: toolCall.name, arguments: toolCall.arguments } }));
      }
      const completionTokens = fakeTokenCount(`${reply.text ?? ''}${reply.thinking ?? ''}${JSON.stringify(reply.toolCalls ?? [])}`);
      return { result: { message, usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } } };
    }
    case 'embedding': {
      const parsed = validate(embeddingBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      if (parsed.value.text === '') return { error: { code: '40004', message: 'Text empty' } };
      const inputTokens = fakeTokenCount(parsed.value.text);
      if (inputTokens > EMBEDDING_MAX_TOKENS) return { error: { code: '40003', message: 'Context length exceeded' } };
      if (!context.admit('embedding', inputTokens, response)) return undefined;
      if (injected) return { fault: injected };
      const fallback = () => ({ embedding: fakeEmbedding(parsed.value.text) });
      const reply = context.embedding ? await settle(await nextReply(context.embedding, { text: parsed.value.text }), fallback, context.signal) : fallback();
      if (isFault(reply)) return { fault: reply };
      return { result: { embedding: reply.embedding, inputTokens } };
    }
    case 'embedding-tokenize': {
      const parsed = validate(embeddingTokenizeBody, body);
      if (!parsed.ok) return invalid(parsed.parameters);
      if (injected) return { fault: injected };
      return { result: { numTokens: fakeTokenCount(parsed.value.text) } };
    }
    case 'chat':
      return { error: { code: '40400', message: 'Not found' } };
  }
}

/**
 * The documented sliding window: when prompt + maxTokens exceed the window, drop the oldest whole
 * turns after the system message(s) until the excess is covered; never the newest turn. `undefined`
 * when even that is not enough.
 */
export function slideMessages<Message extends { role: string; content: string }>(messages: Message[], maxTokens: number, window: number): Message[] | undefined {
  const excess = fakePromptTokens(messages) + maxTokens - window;
  if (excess <= 0) return messages;
  let firstTurn = 0;
  while (firstTurn < messages.length && messages[firstTurn]?.role === 'system') firstTurn += 1;
  const system = messages.slice(0, firstTurn);
  const turns: Message[][] = [];
  for (const message of messages.slice(firstTurn)) {
    const current = turns[turns.length - 1];
    if (message.role === 'user' || !current) turns.push([message]);
    else current.push(message);
  }
  let dropped = 0;
  while (turns.length > 1 && dropped < excess) {
    const oldest = turns.shift() ?? [];
    dropped += fakePromptTokens(oldest);
  }
  if (dropped < excess) return undefined;
  return [...system, ...turns.flat()];
}
