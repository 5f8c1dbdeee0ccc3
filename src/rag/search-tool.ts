import { z } from 'zod';
import type { ToolDefinition } from '../providers/types.js';

export const SEARCH_TOOL_NAME = 'knowledge_search';

/** Queries longer than this are cut before searching; the model writes them, and it can ramble. */
const MAX_QUERY_CHARACTERS = 500;

/** The one tool the reasoning model may call. */
export const SEARCH_TOOL: ToolDefinition = {
  name: SEARCH_TOOL_NAME,
  description:
    "Searches the team's knowledge base and returns matching documents, each with an id such as doc-3. " +
    'Make one call per distinct question: when the user asks several things, call the tool once for each of them. ' +
    'When a search finds nothing, the result may suggest other queries to try.',
  parameters: {
    type: 'object',
    properties: {
      query: { type: 'string', description: "A short search query in the user's language, with the key terms of one question." },
    },
    required: ['query'],
  },
};

const argumentsSchema = z.object({
  query: z
    .string()
    .trim()
    .min(1, 'query must not be empty')
    // Zero-width characters survive trim(); a query of only those would search for nothing at the price of a search.
    .refine((query) => query.replace(/[\s\u200B-\u200D\u2060\uFEFF]/g, '') !== '', 'query must not be empty')
    .transform((query) => query.slice(0, MAX_QUERY_CHARACTERS)),
});

/** Validates what a model wrote as tool arguments; a problem comes back as a sentence for an error tool result. */
export function parseSearchArguments(name: string, input: Record<string, unknown>): { query: string } | { problem: string } {
  if (name !== SEARCH_TOOL_NAME) return { problem: `unknown tool "${name.slice(0, 60)}"; the only tool is ${SEARCH_TOOL_NAME}` };
  const parsed = argumentsSchema.safeParse(input);
  if (!parsed.success) return { problem: `invalid arguments: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'arguments'} ${issue.message}`).join('; ')}` };
  return parsed.data;
}
