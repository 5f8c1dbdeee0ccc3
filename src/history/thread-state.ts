import { z } from 'zod';

/**
 * The stored state of one conversation thread: plain JSON with a schema version, so a newer
 * process can refuse (and quarantine) what it does not understand instead of silently losing it.
 */
export const THREAD_STATE_VERSION = 1;

const tokenCountSchema = z.object({
  count: z.number().int().nonnegative(),
  /** `estimate`: local estimator; `api`: corrected from reported usage; `tokenizer`: counted by the provider's tokenizer. */
  source: z.enum(['estimate', 'api', 'tokenizer']),
});

const toolCallSchema = z.object({
  id: z.string(),
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});

export const storedMessageSchema = z.object({
  id: z.string(),
  role: z.enum(['user', 'assistant', 'tool']),
  content: z.string(),
  createdAt: z.number(),
  authorId: z.string().optional(),
  authorName: z.string().optional(),
  tokens: tokenCountSchema.optional(),
  toolCalls: z.array(toolCallSchema).optional(),
  toolCallId: z.string().optional(),
  /** On assistant messages: the answer id (feedback refers to it). */
  answerId: z.string().optional(),
  /** On user messages: `failed` when no answer could be produced; the message itself is kept. */
  status: z.enum(['answered', 'failed']).optional(),
});

/** The platform-neutral `Answer` (src/engine/answer.ts) as stored. */
const storedAnswerSchema = z.object({
  id: z.string(),
  parts: z.array(z.union([z.object({ type: z.literal('text'), text: z.string() }), z.object({ type: z.literal('citation'), source: z.number().int().positive() })])),
  sources: z.array(z.object({ docId: z.string(), title: z.string(), url: z.string().optional(), snippet: z.string() })),
  mode: z.enum(['generated', 'extractive', 'not-found', 'chat']),
  notices: z.array(z.string()),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }).optional(),
  citationIssues: z.object({ unknownIds: z.number(), unsupportedSpans: z.number() }).optional(),
});

export const threadSummarySchema = z.object({
  text: z.string(),
  /** Id of the newest message folded into the summary. */
  coversUpToMessageId: z.string(),
  tokens: z.number().int().nonnegative(),
  updatedAt: z.number(),
});

export const threadStateSchema = z.object({
  version: z.literal(THREAD_STATE_VERSION),
  threadKey: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  messages: z.array(storedMessageSchema),
  summary: threadSummarySchema.optional(),
  usage: z.object({
    inputTokens: z.number().nonnegative(),
    outputTokens: z.number().nonnegative(),
    turns: z.number().int().nonnegative(),
  }),
  /**
   * The turn being answered right now. Cleared when the turn ends; if it is still here when another
   * process holds the thread's lock, the process that set it died mid-turn.
   */
  inFlight: z
    .object({
      messageId: z.string(),
      eventId: z.string(),
      platform: z.enum(['slack', 'discord', 'console']),
      scope: z.object({ workspaceId: z.string(), channelId: z.string() }),
      authorId: z.string(),
      authorName: z.string().optional(),
      receivedAt: z.number(),
      startedAt: z.number(),
      processId: z.string(),
      replyHandle: z.record(z.string(), z.string()).optional(),
      /**
       * The finished answer, between saving it and posting it: a process that dies in that window
       * leaves it here, and the one that takes over posts it instead of asking the model again.
       */
      answer: storedAnswerSchema.optional(),
    })
    .optional(),
  /**
   * Set when the user asked for a person. Once one of `contacts` writes in the thread the bot stays
   * quiet (`humanJoinedAt`) until it is addressed directly again.
   */
  handoff: z
    .object({
      requestedAt: z.number(),
      requestedBy: z.string(),
      contacts: z.array(z.string()),
      humanJoinedAt: z.number().optional(),
    })
    .optional(),
  /** Compaction bookkeeping (e.g. a summary that failed and should be retried on a later turn). */
  compaction: z
    .object({
      summaryRetryPending: z.boolean().optional(),
      lastKind: z.enum(['none', 'sliding', 'summary']).optional(),
    })
    .optional(),
});

export type StoredMessage = z.infer<typeof storedMessageSchema>;
export type ThreadSummary = z.infer<typeof threadSummarySchema>;
export type ThreadState = z.infer<typeof threadStateSchema>;

export function emptyThreadState(threadKey: string, now: number): ThreadState {
  return {
    version: THREAD_STATE_VERSION,
    threadKey,
    createdAt: now,
    updatedAt: now,
    messages: [],
    usage: { inputTokens: 0, outputTokens: 0, turns: 0 },
  };
}
