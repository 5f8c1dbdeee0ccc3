import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ChatCompletion, ChatEvent, ChatMessage, ChatModel, ChatParams, FinishReason, Reasoner, ToolCall, ToolDefinition } from '../types.js';
import type { OpenAiClient } from './openai-client.js';
import { detailsWithPartialText, ProviderError } from '../http/provider-error.js';
import { createOpenAiError } from './openai-errors.js';
import type { ChatResponse, OpenAiChatRequest, OpenAiMessage } from './wire-schemas.js';

/** Our messages on the OpenAI wire: tool-call arguments become JSON strings. */
export function toOpenAiMessages(messages: ChatMessage[]): OpenAiMessage[] {
  return messages.map((message) => {
    const wire: OpenAiMessage = { role: message.role, content: message.content };
    if (message.toolCalls && message.toolCalls.length > 0) {
      wire.tool_calls = message.toolCalls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } }));
    }
    if (message.toolCallId !== undefined) wire.tool_call_id = message.toolCallId;
    return wire;
  });
}

export function toOpenAiRequest(model: string, messages: ChatMessage[], params: ChatParams, maxOutputTokens: number): OpenAiChatRequest {
  const body: OpenAiChatRequest = { model, messages: toOpenAiMessages(messages), max_tokens: Math.max(1, Math.min(Math.floor(params.maxTokens), maxOutputTokens)) };
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.stop !== undefined) body.stop = params.stop;
  if (params.seed !== undefined) body.seed = params.seed;
  if (params.tools && params.tools.length > 0) {
    body.tools = params.tools.map((tool) => ({ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }));
    if (params.toolChoice !== undefined) body.tool_choice = typeof params.toolChoice === 'string' ? params.toolChoice : { type: 'function', function: { name: params.toolChoice.name } };
  }
  if (params.thinking && params.thinking !== 'none') body.reasoning_effort = params.thinking;
  return body;
}

/**
 * Parses string tool arguments at the edge. Malformed JSON is a typed `openai_protocol` error, not
 * an empty object: a tool run with made-up arguments would answer a question nobody asked.
 */
export function parseToolArguments(name: string, text: string | null | undefined, requestId: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text && text.trim() !== '' ? text : '{}');
  } catch (error) {
    throw createOpenAiError({ kind: 'protocol', message: `tool call ${name} has arguments that are not valid JSON`, requestId, retryable: false, cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw createOpenAiError({ kind: 'protocol', message: `tool call ${name} has arguments that are not a JSON object`, requestId, retryable: false });
  }
  return parsed as Record<string, unknown>;
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop' || reason === 'length' || reason === 'tool_calls') return reason;
  if (reason === 'function_call') return 'tool_calls';
  return 'unknown';
}

function completionOf(response: ChatResponse, requestId: string): ChatCompletion {
  const choice = response.choices[0];
  const toolCalls: ToolCall[] = (choice?.message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.function.name, arguments: parseToolArguments(call.function.name, call.function.arguments, requestId) }));
  const completion: ChatCompletion = {
    text: choice?.message.content ?? '',
    toolCalls,
    finishReason: toFinishReason(choice?.finish_reason),
    usage: { inputTokens: response.usage?.prompt_tokens ?? 0, outputTokens: response.usage?.completion_tokens ?? 0 },
    requestId,
  };
  const thinking = choice?.message.reasoning_content ?? choice?.message.thinking_content;
  if (thinking) completion.thinking = thinking;
  return completion;
}

/** A chat model behind an OpenAI-compatible `/chat/completions`. */
export class OpenAiChatModel implements ChatModel {
  constructor(
    private readonly client: OpenAiClient,
    readonly modelId: string,
    readonly contextWindow: number,
    readonly maxOutputTokens: number,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  async complete(messages: ChatMessage[], params: ChatParams): Promise<ChatCompletion> {
    const startedAt = performance.now();
    const { response, requestId } = await this.client.chat(toOpenAiRequest(this.modelId, messages, params, this.maxOutputTokens), params.signal ? { signal: params.signal } : {});
    this.metrics?.modelResponse.observe({ streamed: 'false' }, (performance.now() - startedAt) / 1000);
    const completion = completionOf(response, requestId);
    this.countTokens(completion);
    return completion;
  }

  async *stream(messages: ChatMessage[], params: ChatParams): AsyncGenerator<ChatEvent> {
    const requestId = this.client.newRequestId();
    const startedAt = performance.now();
    let text = '';
    let thinking = '';
    let finishReason: FinishReason = 'unknown';
    let usage = { inputTokens: 0, outputTokens: 0 };
    // Streamed tool calls arrive as fragments keyed by `index`; the first fragment carries id and name.
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    try {
      for await (const chunk of this.client.streamChat(toOpenAiRequest(this.modelId, messages, params, this.maxOutputTokens), { requestId, ...(params.signal ? { signal: params.signal } : {}) })) {
        if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
        for (const choice of chunk.choices) {
          const delta = choice.delta;
          const thinkingDelta = delta?.reasoning_content ?? delta?.thinking_content;
          if (thinkingDelta) {
            if (!text && !thinking) this.metrics?.modelFirstToken.observe((performance.now() - startedAt) / 1000);
            thinking += thinkingDelta;
            yield { type: 'thinking-delta', text: thinkingDelta };
          }
          if (delta?.content) {
            if (!text && !thinking) this.metrics?.modelFirstToken.observe((performance.now() - startedAt) / 1000);
            text += delta.content;
            yield { type: 'text-delta', text: delta.content };
          }
          for (const fragment of delta?.tool_calls ?? []) {
            const index = fragment.index ?? calls.size;
            const current = calls.get(index) ?? { id: '', name: '', arguments: '' };
            if (fragment.id) current.id = fragment.id;
            if (fragment.function?.name) current.name = fragment.function.name;
            if (fragment.function?.arguments) current.arguments += fragment.function.arguments;
            calls.set(index, current);
          }
          if (choice.finish_reason) finishReason = toFinishReason(choice.finish_reason);
        }
      }
    } catch (error) {
      // Keep what the user already saw, so the failure line can say the answer broke off.
      if (error instanceof ProviderError && error.partialText === undefined && text !== '') throw createOpenAiError(detailsWithPartialText(error, text));
      throw error;
    }
    const toolCalls = [...calls.entries()].sort(([left], [right]) => left - right).map(([, call]) => ({ id: call.id, name: call.name, arguments: parseToolArguments(call.name, call.arguments, requestId) }));
    if (usage.inputTokens === 0 && usage.outputTokens === 0) this.logger.debug({ requestId, model: this.modelId }, 'the server streamed no usage; token counts stay estimates');
    const completion: ChatCompletion = { text, toolCalls, finishReason, usage, requestId };
    if (thinking) completion.thinking = thinking;
    this.metrics?.modelResponse.observe({ streamed: 'true' }, (performance.now() - startedAt) / 1000);
    this.countTokens(completion);
    yield { type: 'completed', completion };
  }

  private countTokens(completion: ChatCompletion): void {
    this.metrics?.modelTokens.inc({ direction: 'input' }, completion.usage.inputTokens);
    this.metrics?.modelTokens.inc({ direction: 'output' }, completion.usage.outputTokens);
  }
}

/** The chat model with function calling as a `Reasoner`. */
export class OpenAiChatReasoner implements Reasoner {
  constructor(private readonly chatModel: ChatModel) {}

  reason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): Promise<ChatCompletion> {
    return this.chatModel.complete(messages, { ...params, tools });
  }

  streamReason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): AsyncIterable<ChatEvent> {
    return this.chatModel.stream(messages, { ...params, tools });
  }
}
