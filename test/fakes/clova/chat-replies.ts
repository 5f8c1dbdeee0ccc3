/**
 * Turns a scripted chat answer into the exact v1 / v3 payloads: the non-streaming `result`, and the
 * streamed `token` deltas followed by the `result` event (which repeats the whole text).
 */
import { randomBytes } from 'node:crypto';
import { fakeTokenCount, fakeTokenPieces } from './fake-token-count.js';
import type { ChatAnswer, ScriptedToolCall } from './scripts.js';

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: Record<string, unknown> };
}

/** Everything the fake decided about one chat answer, before formatting for an API version. */
export interface PlannedAnswer {
  apiVersion: 'v1' | 'v3';
  textPieces: string[];
  thinkingPieces: string[];
  toolCalls: WireToolCall[];
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  seed: number;
  created: number;
  aiFilter?: Array<Record<string, string>>;
}

/** A fresh id in the documented `call_` + 24 characters form. */
export function newToolCallId(): string {
  return `call_${randomBytes(18).toString('base64url').slice(0, 24)}`;
}

function toWireToolCalls(calls: ScriptedToolCall[] | undefined): WireToolCall[] {
  return (calls ?? []).map((call) => ({ id: call.id ?? newToolCallId(), type: 'function', function: { name: call.name, arguments: call.arguments } }));
}

function aiFilterFor(apiVersion: 'v1' | 'v3'): Array<Record<string, string>> {
  const items = [
    { groupName: 'curse', name: 'discrimination', score: '2' },
    { groupName: 'curse', name: 'insult', score: '2' },
    { groupName: 'unsafeContents', name: 'sexualHarassment', score: '2' },
  ];
  return apiVersion === 'v3' ? items.map((item) => ({ ...item, result: 'OK' })) : items;
}

/**
 * Plans an answer: the text is cut to `outputReserve` tokens (finish reason `length`) the way the
 * service stops at `maxTokens`; thinking and tool-call JSON count as completion tokens.
 */
export function planAnswer(
  answer: ChatAnswer,
  context: { apiVersion: 'v1' | 'v3'; promptTokens: number; outputReserve: number; seed?: number; includeAiFilters?: boolean },
): PlannedAnswer {
  const thinkingPieces = fakeTokenPieces(answer.thinking ?? '');
  const toolCalls = toWireToolCalls(answer.toolCalls);
  const toolTokens = toolCalls.length > 0 ? fakeTokenCount(JSON.stringify(toolCalls.map((call) => call.function))) : 0;
  const room = Math.max(0, context.outputReserve - thinkingPieces.length - toolTokens);
  const allTextPieces = fakeTokenPieces(answer.text ?? '');
  const truncated = allTextPieces.length > room;
  const textPieces = truncated ? allTextPieces.slice(0, room) : allTextPieces;
  let finishReason = answer.finishReason;
  if (!finishReason) {
    if (truncated) finishReason = 'length';
    else if (toolCalls.length > 0) finishReason = 'tool_calls';
    else finishReason = context.apiVersion === 'v1' ? 'stop_before' : 'stop';
  }
  return {
    apiVersion: context.apiVersion,
    textPieces,
    thinkingPieces,
    toolCalls,
    finishReason,
    promptTokens: context.promptTokens,
    completionTokens: textPieces.length + thinkingPieces.length + toolTokens,
    seed: context.seed && context.seed > 0 ? context.seed : 1 + Math.floor(Math.random() * 4_294_967_294),
    created: Date.now(),
    ...(context.includeAiFilters ? { aiFilter: aiFilterFor(context.apiVersion) } : {}),
  };
}

function v3Usage(plan: PlannedAnswer): Record<string, unknown> {
  const usage: Record<string, unknown> = {
    promptTokens: plan.promptTokens,
    completionTokens: plan.completionTokens,
    totalTokens: plan.promptTokens + plan.completionTokens,
  };
  if (plan.thinkingPieces.length > 0) usage.completionTokensDetails = { thinkingTokens: plan.thinkingPieces.length };
  return usage;
}

/** The `result` object of a non-streaming response (also the data of the streamed `result` event). */
export function resultPayload(plan: PlannedAnswer): Record<string, unknown> {
  const text = plan.textPieces.join('');
  if (plan.apiVersion === 'v1') {
    return {
      message: { role: 'assistant', content: text },
      stopReason: plan.finishReason,
      inputLength: plan.promptTokens,
      outputLength: plan.completionTokens,
      seed: plan.seed,
      ...(plan.aiFilter ? { aiFilter: plan.aiFilter } : {}),
    };
  }
  const message: Record<string, unknown> = { role: 'assistant', content: text };
  if (plan.thinkingPieces.length > 0) message.thinkingContent = plan.thinkingPieces.join('');
  if (plan.toolCalls.length > 0) message.toolCalls = plan.toolCalls;
  return {
    created: plan.created,
    usage: v3Usage(plan),
    message,
    finishReason: plan.finishReason,
    seed: plan.seed,
    ...(plan.aiFilter ? { aiFilter: plan.aiFilter } : {}),
  };
}

/** Splits a JSON text into the small `partialJson` fragments the service streams. */
export function partialJsonFragments(json: string, size = 3): string[] {
  const characters = Array.from(json);
  const fragments: string[] = [];
  for (let index = 0; index < characters.length; index += size) fragments.push(characters.slice(index, index + size).join(''));
  return fragments;
}

/** The data objects of the streamed `token` events, in order. */
export function tokenPayloads(plan: PlannedAnswer): Array<Record<string, unknown>> {
  const payloads: Array<Record<string, unknown>> = [];
  if (plan.apiVersion === 'v1') {
    plan.textPieces.forEach((piece, index) => {
      payloads.push({ message: { role: 'assistant', content: piece }, index: 0, inputLength: plan.promptTokens, outputLength: index + 1, stopReason: null });
    });
    return payloads;
  }
  const frame = (message: Record<string, unknown>) => ({ message: { role: 'assistant', ...message }, finishReason: null, created: plan.created, seed: plan.seed, usage: null });
  for (const piece of plan.thinkingPieces) payloads.push(frame({ content: '', thinkingContent: piece }));
  for (const piece of plan.textPieces) payloads.push(frame({ content: piece }));
  for (const call of plan.toolCalls) {
    payloads.push(frame({ content: '', toolCalls: [{ id: call.id, type: 'function', function: { name: call.function.name } }] }));
    for (const fragment of partialJsonFragments(JSON.stringify(call.function.arguments))) {
      payloads.push(frame({ content: '', toolCalls: [{ type: 'function', function: { partialJson: fragment } }] }));
    }
  }
  return payloads;
}
