import type { Metrics } from '../../observability/metrics.js';
import type { ModelInfo } from '../model-catalogue.js';
import type { ChatCompletion, ChatEvent, ChatMessage, ChatModel, ChatParams, ToolCall } from '../types.js';
import type { ClovaClient } from './clova-client.js';
import { createClovaError } from './clova-errors.js';
import { completionFromV1, completionFromV3, toV1Request, toV3Request } from './chat-mapping.js';
import type { ChatV3Token } from './wire-schemas.js';

/** Tool-call fragments as they stream: the first event names the call, later ones append `partialJson`. */
class ToolCallAssembler {
  private readonly calls: Array<{ id: string; name: string; json: string }> = [];

  add(token: ChatV3Token): void {
    for (const delta of token.message?.toolCalls ?? []) {
      if (delta.id !== undefined || delta.function?.name !== undefined) {
        this.calls.push({ id: delta.id ?? '', name: delta.function?.name ?? '', json: '' });
      }
      const fragment = delta.function?.partialJson;
      const current = this.calls[this.calls.length - 1];
      if (fragment !== undefined && current) current.json += fragment;
    }
  }

  /** The assembled calls; only used when the `result` event did not carry them already parsed. */
  finish(requestId: string): ToolCall[] {
    return this.calls.map((call) => {
      try {
        const parsed = JSON.parse(call.json || '{}') as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        return { id: call.id, name: call.name, arguments: parsed as Record<string, unknown> };
      } catch (error) {
        throw createClovaError({ kind: 'protocol', message: `streamed arguments of tool call ${call.name} are not a JSON object`, requestId, retryable: false, cause: error });
      }
    });
  }
}

/** A CLOVA chat model (v1 or v3 by the catalogue) as our `ChatModel`. */
export class ClovaChatModel implements ChatModel {
  readonly modelId: string;
  readonly contextWindow: number;
  readonly maxOutputTokens: number;

  constructor(
    private readonly client: ClovaClient,
    private readonly info: ModelInfo,
    private readonly metrics?: Metrics,
  ) {
    this.modelId = info.modelId;
    this.contextWindow = info.contextWindow;
    this.maxOutputTokens = info.maxOutputTokens;
  }

  async complete(messages: ChatMessage[], params: ChatParams): Promise<ChatCompletion> {
    const options = params.signal ? { signal: params.signal } : {};
    const startedAt = performance.now();
    let completion: ChatCompletion;
    if (this.info.apiVersion === 'v1') {
      const response = await this.client.chatV1(this.modelId, toV1Request(messages, params, this.info), options);
      completion = completionFromV1(response.result, response.requestId);
    } else {
      const response = await this.client.chatV3(this.modelId, toV3Request(messages, params, this.info), options);
      completion = completionFromV3(response.result, response.requestId);
    }
    this.metrics?.modelResponse.observe({ streamed: 'false' }, (performance.now() - startedAt) / 1000);
    this.countTokens(completion);
    return completion;
  }

  async *stream(messages: ChatMessage[], params: ChatParams): AsyncGenerator<ChatEvent> {
    const requestId = this.client.newRequestId();
    const options = { requestId, ...(params.signal ? { signal: params.signal } : {}) };
    const startedAt = performance.now();
    let firstTokenSeen = false;
    const markFirstToken = () => {
      if (firstTokenSeen) return;
      firstTokenSeen = true;
      this.metrics?.modelFirstToken.observe((performance.now() - startedAt) / 1000);
    };
    let text = '';
    let completion: ChatCompletion | undefined;
    if (this.info.apiVersion === 'v1') {
      for await (const event of this.client.streamChatV1(this.modelId, toV1Request(messages, params, this.info), options)) {
        if (event.type === 'token') {
          const delta = event.data.message?.content ?? '';
          if (delta === '') continue;
          markFirstToken();
          text += delta;
          yield { type: 'text-delta', text: delta };
        } else {
          // The result repeats the whole answer; the streamed deltas stay the text.
          completion = { ...completionFromV1(event.data, requestId), text: text || event.data.message.content };
        }
      }
    } else {
      const assembler = new ToolCallAssembler();
      let thinking = '';
      for await (const event of this.client.streamChatV3(this.modelId, toV3Request(messages, params, this.info), options)) {
        if (event.type === 'token') {
          assembler.add(event.data);
          const thinkingDelta = event.data.message?.thinkingContent ?? '';
          if (thinkingDelta !== '') {
            markFirstToken();
            thinking += thinkingDelta;
            yield { type: 'thinking-delta', text: thinkingDelta };
          }
          const delta = event.data.message?.content ?? '';
          if (delta !== '') {
            markFirstToken();
            text += delta;
            yield { type: 'text-delta', text: delta };
          }
        } else {
          const fromResult = completionFromV3(event.data, requestId);
          const toolCalls = fromResult.toolCalls.length > 0 ? fromResult.toolCalls : assembler.finish(requestId);
          completion = { ...fromResult, text: text || fromResult.text, toolCalls };
          if (thinking && !completion.thinking) completion.thinking = thinking;
          if (toolCalls.length > 0 && completion.finishReason === 'unknown') completion.finishReason = 'tool_calls';
        }
      }
    }
    if (!completion) throw createClovaError({ kind: 'protocol', message: 'the stream ended without a result', requestId, retryable: false, partialText: text });
    this.metrics?.modelResponse.observe({ streamed: 'true' }, (performance.now() - startedAt) / 1000);
    this.countTokens(completion);
    yield { type: 'completed', completion };
  }

  private countTokens(completion: ChatCompletion): void {
    this.metrics?.modelTokens.inc({ direction: 'input' }, completion.usage.inputTokens);
    this.metrics?.modelTokens.inc({ direction: 'output' }, completion.usage.outputTokens);
  }
}
