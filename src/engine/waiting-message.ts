import { z } from 'zod';
import { boundMessage } from './thread-transitions.js';
import type { IncomingMessage, ReplyHandle } from './types.js';

/**
 * What the engine records about a message while it waits for its thread's lock (the payload of a
 * `Coordinator.addPending` entry): everything another process needs to answer it should this one
 * stop. Versioned like the thread state, so a record this code cannot read is reported, not guessed at.
 */
const waitingMessageSchema = z.object({
  version: z.literal(1),
  platform: z.enum(['slack', 'discord', 'console']),
  eventId: z.string(),
  messageId: z.string(),
  scope: z.object({ workspaceId: z.string(), channelId: z.string() }),
  author: z.object({ id: z.string(), name: z.string().optional() }),
  text: z.string(),
  receivedAt: z.number(),
  addressedToBot: z.boolean().optional(),
  requestsPerson: z.boolean().optional(),
  addressedToOthers: z.boolean().optional(),
  /** Where the reply already shows on the platform (e.g. a "waiting…" placeholder), to be finished in place. */
  replyHandle: z.record(z.string(), z.string()).optional(),
});

/** A recorded message, ready to be answered by whichever process takes it over. */
export interface WaitingMessage {
  message: IncomingMessage;
  replyHandle: ReplyHandle | undefined;
}

/**
 * The stored form of `message`. The text is bounded as the engine bounds it, with one character to
 * spare, so that a message cut here is still reported to its author as cut when it is answered.
 */
export function waitingMessagePayload(message: IncomingMessage, maxMessageChars: number, replyHandle?: ReplyHandle): string {
  const record: z.infer<typeof waitingMessageSchema> = {
    version: 1,
    platform: message.platform,
    eventId: message.eventId,
    messageId: message.messageId,
    scope: message.scope,
    author: message.author,
    text: boundMessage(message.text.trim(), maxMessageChars + 1).text,
    receivedAt: message.receivedAt,
    ...(message.addressedToBot !== undefined ? { addressedToBot: message.addressedToBot } : {}),
    ...(message.requestsPerson !== undefined ? { requestsPerson: message.requestsPerson } : {}),
    ...(message.addressedToOthers !== undefined ? { addressedToOthers: message.addressedToOthers } : {}),
    ...(replyHandle ? { replyHandle } : {}),
  };
  return JSON.stringify(record);
}

/** The message recorded in `payload`, or undefined when the record cannot be read. */
export function waitingMessageFrom(threadKey: string, payload: string): WaitingMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = waitingMessageSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { version: _version, replyHandle, ...message } = parsed.data;
  return { message: { ...message, threadKey }, replyHandle };
}
