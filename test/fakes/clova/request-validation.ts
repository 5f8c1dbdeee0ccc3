/**
 * The documented parameter ranges of each CLOVA API, enforced the way the service does: a body
 * that breaks them is answered with `40001 Invalid parameter` naming the offending fields.
 */
import { z } from 'zod';

const seed = z.number().int().min(0).max(4_294_967_295);
const topK = z.number().int().min(0).max(128);
const openUnit = z.number().gt(0).max(1);
const stringList = z.array(z.string());

const v1Message = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) }),
});

const v3Message = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(z.object({ type: z.enum(['text', 'image_url']) }).loose())]),
  toolCalls: z.array(toolCall).optional(),
  toolCallId: z.string().optional(),
});

const toolDefinition = (parametersRequired: boolean) =>
  z.object({
    type: z.literal('function'),
    function: z.object({
      name: z.string().min(1),
      description: z.string(),
      parameters: parametersRequired ? z.record(z.string(), z.unknown()) : z.record(z.string(), z.unknown()).optional(),
    }),
  });

const toolChoice = z.union([z.enum(['auto', 'none']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) })]);

/** Chat Completions v1 (HCX-003, HCX-DASH-001). */
export const chatV1Body = z.object({
  messages: z.array(v1Message).min(1),
  temperature: openUnit.optional(),
  topK: topK.optional(),
  topP: openUnit.optional(),
  repeatPenalty: z.number().gt(0).max(10).optional(),
  stopBefore: stringList.optional(),
  maxTokens: z.number().int().gt(0).max(4_096).optional(),
  includeAiFilters: z.boolean().optional(),
  seed: seed.optional(),
});

/** Chat Completions v3 (HCX-005, HCX-DASH-002, HCX-007). */
export const chatV3Body = z.object({
  messages: z.array(v3Message).min(1),
  temperature: z.number().min(0).max(1).optional(),
  topK: topK.optional(),
  topP: openUnit.optional(),
  repetitionPenalty: z.number().gt(0).max(2).optional(),
  stop: stringList.optional(),
  maxTokens: z.number().int().min(1).optional(),
  maxCompletionTokens: z.number().int().min(1).optional(),
  includeAiFilters: z.boolean().optional(),
  seed: seed.optional(),
  thinking: z.object({ effort: z.enum(['none', 'low', 'medium', 'high']) }).optional(),
  tools: z.array(toolDefinition(false)).optional(),
  toolChoice: toolChoice.optional(),
  responseFormat: z.object({ type: z.literal('json'), schema: z.record(z.string(), z.unknown()) }).optional(),
});

/** RAG Reasoning. */
export const ragReasoningBody = z.object({
  messages: z.array(v3Message).min(1),
  tools: z.array(toolDefinition(true)).min(1),
  toolChoice: toolChoice.optional(),
  topP: openUnit.optional(),
  topK: topK.optional(),
  maxTokens: z.number().int().min(1_024).lt(4_096).optional(),
  temperature: openUnit.optional(),
  repetitionPenalty: z.number().gt(0).max(2).optional(),
  stop: stringList.optional(),
  seed: seed.optional(),
  includeAiFilters: z.boolean().optional(),
});

export const rerankerBody = z.object({
  query: z.string().min(1),
  documents: z.array(z.object({ id: z.string(), doc: z.string() })).min(1),
  maxTokens: z.number().int().min(1).lt(4_096).optional(),
});

export const summarizationBody = z
  .object({
    texts: z.array(z.string()).min(1),
    autoSentenceSplitter: z.boolean().optional(),
    segCount: z.number().int().refine((value) => value === -1 || value >= 1, 'must be -1 or at least 1').optional(),
    segMaxSize: z.number().int().min(1).max(3_000).optional(),
    segMinSize: z.number().int().min(0).optional(),
    includeAiFilters: z.boolean().optional(),
  })
  .superRefine((body, context) => {
    if (body.segMinSize !== undefined && body.segMinSize > (body.segMaxSize ?? 1_000)) {
      context.addIssue({ code: 'custom', path: ['segMinSize'], message: 'must not exceed segMaxSize' });
    }
    const characters = body.texts.reduce((sum, text) => sum + text.length, 0);
    if (characters < 1 || characters > 35_000) context.addIssue({ code: 'custom', path: ['texts'], message: 'must hold 1 to 35,000 characters' });
  });

export const slidingBody = z.object({
  messages: z.array(v1Message).min(1),
  maxTokens: z.number().int().gt(0).max(4_096),
});

export const tokenizeV1Body = z.object({ messages: z.array(v1Message).min(1) });

export const tokenizeV3Body = z.object({
  messages: z.array(v3Message).min(1),
  tools: z.array(toolDefinition(false)).optional(),
  toolChoice: toolChoice.optional(),
  responseFormat: z.record(z.string(), z.unknown()).optional(),
});

/** Empty text is not a parameter error but `40004 Text empty` (checked by the handler). */
export const embeddingBody = z.object({ text: z.string() });

export const embeddingTokenizeBody = z.object({ text: z.string().min(1).max(10_000) });

/** Parses `body` with `schema`; on failure returns the offending top-level parameter names. */
export function validate<Schema extends z.ZodType>(schema: Schema, body: unknown): { ok: true; value: z.infer<Schema> } | { ok: false; parameters: string[] } {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const parameters = [...new Set(result.error.issues.map((issue) => String(issue.path[0] ?? 'body')))];
  return { ok: false, parameters };
}
