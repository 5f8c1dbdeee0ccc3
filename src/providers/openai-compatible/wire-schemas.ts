/** The OpenAI chat and embeddings wire format (snake_case; tool `arguments` are JSON strings). */
import { z } from 'zod';

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAiMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: OpenAiToolCall[];
  tool_call_id?: string;
}

export interface OpenAiChatRequest {
  model: string;
  messages: OpenAiMessage[];
  max_tokens: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  seed?: number;
  tools?: Array<{ type: 'function'; function: { name: string; description: string; parameters: Record<string, unknown> } }>;
  tool_choice?: 'auto' | 'none' | { type: 'function'; function: { name: string } };
  reasoning_effort?: 'low' | 'medium' | 'high';
  stream?: boolean;
  stream_options?: { include_usage: boolean };
}

const usageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish();

const toolCallSchema = z.object({ id: z.string(), function: z.object({ name: z.string(), arguments: z.string().nullish() }) });

export const chatResponseSchema = z.object({
  id: z.string().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          tool_calls: z.array(toolCallSchema).nullish(),
          reasoning_content: z.string().nullish(),
          thinking_content: z.string().nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: usageSchema,
});
export type ChatResponse = z.infer<typeof chatResponseSchema>;

export const chatChunkSchema = z.object({
  id: z.string().optional(),
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            reasoning_content: z.string().nullish(),
            thinking_content: z.string().nullish(),
            tool_calls: z
              .array(z.object({ index: z.number().optional(), id: z.string().nullish(), function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish() }))
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .default([]),
  usage: usageSchema,
});
export type ChatChunk = z.infer<typeof chatChunkSchema>;

export const embeddingsResponseSchema = z.object({
  data: z.array(z.object({ index: z.number(), embedding: z.array(z.number()) })),
});
