import type { ChatCompletion, ChatEvent, ChatMessage, ChatModel, ChatParams, Reasoner, ToolDefinition } from '../types.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ClovaClient } from './clova-client.js';
import { createClovaError } from './clova-errors.js';
import { completionFromV3, toV3Messages, toWireToolChoice, toWireTools } from './chat-mapping.js';
import type { RagReasoningRequest } from './wire-schemas.js';

// Documented bounds of RAG Reasoning's `maxTokens`: 1,024 ≤ n < 4,096.
const RAG_MIN_OUTPUT_TOKENS = 1_024;
const RAG_MAX_OUTPUT_TOKENS = 4_095;
// RAG Reasoning rejects temperature 0; the smallest accepted value stands in for it.
const RAG_MIN_TEMPERATURE = 0.01;

/**
 * The RAG Reasoning API as a `Reasoner`: it decides when to call the search tool and writes the
 * final answer with `<doc-ID>…</doc-ID>` citation spans.
 */
export class ClovaRagReasoner implements Reasoner {
  constructor(
    private readonly client: ClovaClient,
    private readonly metrics?: Metrics,
  ) {}

  async reason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): Promise<ChatCompletion> {
    const body: RagReasoningRequest = {
      messages: toV3Messages(messages),
      tools: toWireTools(tools).map((tool) => ({ ...tool, function: { ...tool.function, parameters: tool.function.parameters ?? { type: 'object', properties: {} } } })),
      maxTokens: Math.min(RAG_MAX_OUTPUT_TOKENS, Math.max(RAG_MIN_OUTPUT_TOKENS, Math.floor(params.maxTokens))),
      // AI filter scores are not used by the bot; the API turns them on unless told otherwise.
      includeAiFilters: false,
    };
    if (params.toolChoice !== undefined) body.toolChoice = toWireToolChoice(params.toolChoice);
    if (params.temperature !== undefined) body.temperature = Math.max(RAG_MIN_TEMPERATURE, params.temperature);
    if (params.topP !== undefined) body.topP = params.topP;
    if (params.topK !== undefined) body.topK = params.topK;
    if (params.repetitionPenalty !== undefined) body.repetitionPenalty = params.repetitionPenalty;
    if (params.stop !== undefined) body.stop = params.stop;
    if (params.seed !== undefined) body.seed = params.seed;
    const startedAt = performance.now();
    const response = await this.client.ragReasoning(body, params.signal ? { signal: params.signal } : {});
    // Not streamed (the API documents no streaming): the user sees no model text before this point.
    this.metrics?.modelResponse.observe({ streamed: 'false' }, (performance.now() - startedAt) / 1000);
    const completion = completionFromV3(response.result, response.requestId);
    this.metrics?.modelTokens.inc({ direction: 'input' }, completion.usage.inputTokens);
    this.metrics?.modelTokens.inc({ direction: 'output' }, completion.usage.outputTokens);
    return completion;
  }
}

/** A chat model with function calling as a `Reasoner`, for when RAG Reasoning is turned off. */
export class ChatModelReasoner implements Reasoner {
  constructor(
    private readonly chatModel: ChatModel,
    private readonly supportsTools: boolean,
  ) {}

  async reason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): Promise<ChatCompletion> {
    this.assertToolsSupported(tools);
    return this.chatModel.complete(messages, { ...params, tools });
  }

  streamReason(messages: ChatMessage[], tools: ToolDefinition[], params: ChatParams): AsyncIterable<ChatEvent> {
    this.assertToolsSupported(tools);
    return this.chatModel.stream(messages, { ...params, tools });
  }

  private assertToolsSupported(tools: ToolDefinition[]): void {
    if (!this.supportsTools && tools.length > 0) {
      throw createClovaError({
        kind: 'invalid_parameter',
        message: `${this.chatModel.modelId} has no function calling; use a v3 model (HCX-005, HCX-DASH-002, HCX-007) or RAG Reasoning`,
        retryable: false,
      });
    }
  }
}
