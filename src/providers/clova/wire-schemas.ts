/**
 * CLOVA Studio's wire format: request bodies as types, response bodies as zod schemas (validated
 * at the edge, trusted after). Names follow the API guide exactly; v1 and v3 differ on purpose.
 */
import { z } from 'zod';

// ---- requests ----

export interface WireToolCall {
  id: string;
  type: 'function';
  /** An object, not a JSON string (unlike OpenAI). */
  function: { name: string; arguments: Record<string, unknown> };
}

export interface V1Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface V3Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: WireToolCall[];
  toolCallId?: string;
}

export interface WireTool {
  type: 'function';
  function: { name: string; description: string; parameters?: Record<string, unknown> };
}

export type WireToolChoice = 'auto' | 'none' | { type: 'function'; function: { name: string } };

/** Chat Completions v1 (HCX-003, HCX-DASH-001). */
export interface ChatV1Request {
  messages: V1Message[];
  temperature?: number;
  topK?: number;
  topP?: number;
  repeatPenalty?: number;
  stopBefore?: string[];
  maxTokens?: number;
  includeAiFilters?: boolean;
  seed?: number;
}

/** Chat Completions v3 (HCX-005, HCX-DASH-002, HCX-007). */
export interface ChatV3Request {
  messages: V3Message[];
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  stop?: string[];
  maxTokens?: number;
  maxCompletionTokens?: number;
  includeAiFilters?: boolean;
  seed?: number;
  thinking?: { effort: 'none' | 'low' | 'medium' | 'high' };
  tools?: WireTool[];
  toolChoice?: WireToolChoice;
  responseFormat?: { type: 'json'; schema: Record<string, unknown> };
}

export interface RagReasoningRequest {
  messages: V3Message[];
  tools: Array<WireTool & { function: { parameters: Record<string, unknown> } }>;
  toolChoice?: WireToolChoice;
  topP?: number;
  topK?: number;
  maxTokens?: number;
  temperature?: number;
  repetitionPenalty?: number;
  stop?: string[];
  seed?: number;
  includeAiFilters?: boolean;
}

export interface RerankerRequest {
  query: string;
  documents: Array<{ id: string; doc: string }>;
  maxTokens?: number;
}

export interface SummarizationRequest {
  texts: string[];
  autoSentenceSplitter?: boolean;
  segCount?: number;
  segMaxSize?: number;
  segMinSize?: number;
  includeAiFilters?: boolean;
}

export interface SlidingWindowRequest {
  messages: V1Message[];
  maxTokens: number;
}

// ---- responses ----

export const envelopeSchema = z.object({
  status: z.object({ code: z.string(), message: z.string().optional() }),
  result: z.unknown().optional(),
});

const aiFilterSchema = z.object({ groupName: z.string(), name: z.string(), score: z.string(), result: z.string().optional() });

export const usageSchema = z.object({
  promptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number().optional(),
  completionTokensDetails: z.object({ thinkingTokens: z.number().optional() }).optional(),
});

const toolCallSchema = z.object({
  id: z.string(),
  type: z.string().optional(),
  function: z.object({ name: z.string(), arguments: z.union([z.record(z.string(), z.unknown()), z.string()]) }),
});

export const chatV1ResultSchema = z.object({
  message: z.object({ role: z.string(), content: z.string() }),
  stopReason: z.string().nullish(),
  inputLength: z.number(),
  outputLength: z.number(),
  seed: z.number().optional(),
  aiFilter: z.array(aiFilterSchema).optional(),
});
export type ChatV1Result = z.infer<typeof chatV1ResultSchema>;

const v3AssistantSchema = z.object({
  role: z.string(),
  content: z.string().nullish(),
  thinkingContent: z.string().nullish(),
  toolCalls: z.array(toolCallSchema).nullish(),
});

export const chatV3ResultSchema = z.object({
  created: z.number().optional(),
  usage: usageSchema,
  message: v3AssistantSchema,
  finishReason: z.string().nullish(),
  seed: z.number().optional(),
  aiFilter: z.array(aiFilterSchema).optional(),
});
export type ChatV3Result = z.infer<typeof chatV3ResultSchema>;

export const chatV1TokenSchema = z.object({
  message: z.object({ content: z.string().nullish() }).optional(),
  inputLength: z.number().optional(),
  outputLength: z.number().optional(),
});

export const chatV3TokenSchema = z.object({
  message: z
    .object({
      content: z.string().nullish(),
      thinkingContent: z.string().nullish(),
      toolCalls: z
        .array(
          z.object({
            id: z.string().optional(),
            function: z.object({ name: z.string().optional(), partialJson: z.string().optional() }).optional(),
          }),
        )
        .nullish(),
    })
    .optional(),
});
export type ChatV3Token = z.infer<typeof chatV3TokenSchema>;

export const streamErrorSchema = z.object({ status: z.object({ code: z.string(), message: z.string().optional() }) });
export const streamSignalSchema = z.object({ data: z.string() });

export const tokenizeV1ResultSchema = z.object({
  messages: z.array(z.object({ role: z.string(), content: z.string(), count: z.number() })),
});

const countedPartSchema = z.object({ type: z.string().optional(), count: z.number() });
export const tokenizeV3ResultSchema = z.object({
  messages: z.array(z.object({ role: z.string(), content: z.union([countedPartSchema, z.array(countedPartSchema)]) })),
  tools: z.object({ count: z.number() }).optional(),
  responseFormat: z.object({ count: z.number() }).optional(),
});
export type TokenizeV3Result = z.infer<typeof tokenizeV3ResultSchema>;

export const slidingResultSchema = z.object({
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })),
});

export const summarizationResultSchema = z.object({ text: z.string(), inputTokens: z.number().optional() });

export const rerankerResultSchema = z.object({
  result: z.string(),
  citedDocuments: z.array(z.object({ id: z.string(), doc: z.string() })),
  suggestedQueries: z.array(z.string()).nullish(),
  usage: usageSchema.optional(),
});
export type RerankerResult = z.infer<typeof rerankerResultSchema>;

export const ragReasoningResultSchema = z.object({
  message: v3AssistantSchema,
  usage: usageSchema,
});
export type RagReasoningResult = z.infer<typeof ragReasoningResultSchema>;

export const embeddingResultSchema = z.object({ embedding: z.array(z.number()), inputTokens: z.number().optional() });
export type EmbeddingResult = z.infer<typeof embeddingResultSchema>;

export const embeddingTokenizeResultSchema = z.object({ numTokens: z.number() });
