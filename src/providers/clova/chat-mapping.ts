/**
 * Translation between our chat types and CLOVA's v1/v3 wire bodies. The field-name traps live here
 * and only here: v1 `repeatPenalty`/`stopBefore`/`stopReason`/`inputLength` versus v3
 * `repetitionPenalty`/`stop`/`finishReason`/`usage`, object-valued tool arguments, one system message.
 */
import type { ModelInfo } from '../model-catalogue.js';
import type { ChatCompletion, ChatMessage, ChatParams, FinishReason, ToolCall, ToolChoice, ToolDefinition } from '../types.js';
import { createClovaError } from './clova-errors.js';
import type { ChatV1Request, ChatV1Result, ChatV3Request, ChatV3Result, V1Message, V3Message, WireTool, WireToolCall, WireToolChoice } from './wire-schemas.js';

/** Function calling needs at least this output reserve (API guide). */
export const FUNCTION_CALLING_MIN_OUTPUT_TOKENS = 1_024;
// v1 rejects temperature 0; the smallest value it accepts behaves the same in practice.
const V1_MIN_TEMPERATURE = 0.01;

/** v1 knows no tools: tool results become user turns that say what they are, tool calls are dropped. */
export function toV1Messages(messages: ChatMessage[]): V1Message[] {
  return messages.map((message) => {
    if (message.role === 'tool') return { role: 'user', content: `[tool result${message.toolCallId ? ` ${message.toolCallId}` : ''}]\n${message.content}` };
    return { role: message.role, content: message.content };
  });
}

/** Our tool calls on the wire: `arguments` stays an object. */
export function toWireToolCalls(calls: ToolCall[]): WireToolCall[] {
  return calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
}

/** v3 allows one system message: several are joined, first in the list. */
export function toV3Messages(messages: ChatMessage[]): V3Message[] {
  const systemTexts = messages.filter((message) => message.role === 'system').map((message) => message.content);
  const rest: V3Message[] = messages
    .filter((message) => message.role !== 'system')
    .map((message) => {
      const wire: V3Message = { role: message.role, content: message.content };
      if (message.toolCalls && message.toolCalls.length > 0) wire.toolCalls = toWireToolCalls(message.toolCalls);
      if (message.toolCallId !== undefined) wire.toolCallId = message.toolCallId;
      return wire;
    });
  return systemTexts.length > 0 ? [{ role: 'system', content: systemTexts.join('\n\n') }, ...rest] : rest;
}

export function toWireTools(tools: ToolDefinition[]): WireTool[] {
  return tools.map((tool) => ({ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }));
}

export function toWireToolChoice(choice: ToolChoice): WireToolChoice {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

function clampOutput(maxTokens: number, info: ModelInfo): number {
  return Math.max(1, Math.min(Math.floor(maxTokens), info.maxOutputTokens));
}

/** The v1 body for `messages` and `params`. */
export function toV1Request(messages: ChatMessage[], params: ChatParams, info: ModelInfo): ChatV1Request {
  const body: ChatV1Request = { messages: toV1Messages(messages), maxTokens: clampOutput(params.maxTokens, info) };
  if (params.temperature !== undefined) body.temperature = Math.max(V1_MIN_TEMPERATURE, params.temperature);
  if (params.topP !== undefined) body.topP = params.topP;
  if (params.topK !== undefined) body.topK = params.topK;
  if (params.repetitionPenalty !== undefined) body.repeatPenalty = params.repetitionPenalty;
  if (params.stop !== undefined) body.stopBefore = params.stop;
  if (params.seed !== undefined) body.seed = params.seed;
  return body;
}

/**
 * The v3 body. Reasoning models take `maxCompletionTokens` and a `thinking` effort; function
 * calling turns thinking off and raises the output reserve to the documented minimum.
 */
export function toV3Request(messages: ChatMessage[], params: ChatParams, info: ModelInfo): ChatV3Request {
  const body: ChatV3Request = { messages: toV3Messages(messages) };
  const usesTools = params.tools !== undefined && params.tools.length > 0 && params.toolChoice !== 'none';
  let output = clampOutput(params.maxTokens, info);
  if (usesTools) {
    body.tools = toWireTools(params.tools ?? []);
    if (params.toolChoice !== undefined) body.toolChoice = toWireToolChoice(params.toolChoice);
    output = Math.min(info.maxOutputTokens, Math.max(output, FUNCTION_CALLING_MIN_OUTPUT_TOKENS));
  }
  if (info.supportsThinking) {
    const effort = usesTools ? 'none' : (params.thinking ?? 'none');
    body.thinking = { effort };
    body.maxCompletionTokens = output;
  } else {
    body.maxTokens = output;
  }
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.topP = params.topP;
  if (params.topK !== undefined) body.topK = params.topK;
  if (params.repetitionPenalty !== undefined) body.repetitionPenalty = params.repetitionPenalty;
  // `stop` cannot be combined with thinking.
  if (params.stop !== undefined && !(body.thinking && body.thinking.effort !== 'none')) body.stop = params.stop;
  if (params.seed !== undefined) body.seed = params.seed;
  return body;
}

/** Our finish reason for CLOVA's (v1 `stop_before`/`end_token`/`length`, v3 `stop`/`length`/`tool_calls`; any case). */
export function toFinishReason(reason: string | null | undefined): FinishReason {
  switch ((reason ?? '').toLowerCase()) {
    case 'stop':
    case 'stop_before':
    case 'end_token':
      return 'stop';
    case 'length':
      return 'length';
    case 'tool_calls':
      return 'tool_calls';
    default:
      return 'unknown';
  }
}

/** A wire tool call with its arguments as an object; a string form (OpenAI habit) is parsed, never trusted blindly. */
export function fromWireToolCall(call: { id: string; function: { name: string; arguments: Record<string, unknown> | string } }, requestId: string): ToolCall {
  let args = call.function.arguments;
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args || '{}') as Record<string, unknown>;
    } catch (error) {
      throw createClovaError({ kind: 'protocol', message: `tool call ${call.function.name} has arguments that are not JSON`, requestId, retryable: false, cause: error });
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw createClovaError({ kind: 'protocol', message: `tool call ${call.function.name} has arguments that are not an object`, requestId, retryable: false });
    }
  }
  return { id: call.id, name: call.function.name, arguments: args };
}

export function completionFromV1(result: ChatV1Result, requestId: string): ChatCompletion {
  return {
    text: result.message.content,
    toolCalls: [],
    finishReason: toFinishReason(result.stopReason),
    usage: { inputTokens: result.inputLength, outputTokens: result.outputLength },
    requestId,
  };
}

export function completionFromV3(result: Pick<ChatV3Result, 'message' | 'usage'> & { finishReason?: string | null | undefined }, requestId: string): ChatCompletion {
  const toolCalls = (result.message.toolCalls ?? []).map((call) => fromWireToolCall(call, requestId));
  const completion: ChatCompletion = {
    text: result.message.content ?? '',
    toolCalls,
    finishReason: result.finishReason ? toFinishReason(result.finishReason) : toolCalls.length > 0 ? 'tool_calls' : 'stop',
    usage: { inputTokens: result.usage.promptTokens, outputTokens: result.usage.completionTokens },
    requestId,
  };
  if (result.message.thinkingContent) completion.thinking = result.message.thinkingContent;
  return completion;
}
