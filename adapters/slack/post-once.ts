import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { mayHaveBeenCarriedOut, SlackApiError, SlackPostUnconfirmedError } from './errors.js';
import type { CallPriority, SlackCaller } from './slack-caller.js';

/** `event_type` of the metadata on every message the bot posts in a thread. */
export const REPLY_EVENT_TYPE = 'threadline_reply';

/** A `chat.postMessage` in a thread: channel, thread and whatever else the message needs (`text`, `blocks`…). */
export type ThreadPost = Record<string, unknown> & { channel: string; thread_ts: string };

export interface PostOnceOptions {
  /** Posts tried before the last failure is thrown (default 3). */
  maxAttempts?: number;
  /** Pause before searching the thread after a lost answer, doubled each time (default 1 s). */
  searchDelayMs?: number;
  /** How far before the first attempt the search reaches back (default 10 minutes, for clock skew with Slack). */
  lookbackMs?: number;
  /** Pages of `conversations.replies` read per search, at most (default 3 of 200 messages). */
  maxSearchPages?: number;
  now?: () => number;
}

// Metadata stays unknown here: other apps' messages in the thread may carry any shape, and must not
// make the search fail.
const repliesPageSchema = z.looseObject({
  messages: z.array(z.looseObject({ ts: z.string(), metadata: z.unknown() })).default([]),
  response_metadata: z.looseObject({ next_cursor: z.string().optional() }).nullish(),
});

const replyMetadataSchema = z.looseObject({
  event_type: z.literal(REPLY_EVENT_TYPE),
  event_payload: z.looseObject({ post_id: z.string() }),
});

/**
 * Posts a message in a thread so that retrying can never show it twice. Slack has no idempotency key,
 * so the message carries its own in its metadata (`threadline_reply` with a fresh `post_id`, invisible
 * to people). The post goes out without the client's automatic retries; when its answer is lost after
 * Slack may have acted (timeout, network error, 5xx, `internal_error`), the thread is searched for that
 * post id first and a message found there is adopted instead of posting again. Rate limits are waited
 * out by `SlackCaller` and never searched for: Slack refused those requests outright.
 *
 * Resolves with the message's ts, or undefined when a best-effort post was skipped for a rate limit.
 * Throws `SlackPostUnconfirmedError` when the search itself fails, rather than risk a second copy.
 *
 * @example
 * const ts = await postInThreadOnce(caller, { channel, thread_ts: threadTs, text }, 'required');
 */
export async function postInThreadOnce(caller: SlackCaller, post: ThreadPost, priority: CallPriority, options: PostOnceOptions = {}): Promise<string | undefined> {
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 3;
  const postId = randomUUID();
  const params = { ...post, metadata: { event_type: REPLY_EVENT_TYPE, event_payload: { post_id: postId } } };
  const searchFrom = now() - (options.lookbackMs ?? 10 * 60_000);
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await caller.call('chat.postMessage', params, priority, { idempotent: false });
      if (!response) return undefined;
      if (typeof response.ts !== 'string') throw new SlackApiError({ method: 'chat.postMessage', slackError: 'missing_ts' });
      return response.ts;
    } catch (error) {
      if (!mayHaveBeenCarriedOut(error)) throw error;
      const log = { channel: post.channel, threadTs: post.thread_ts, postId, attempt, slackError: error.slackError, status: error.status };
      caller.logger.warn(log, 'slack post lost its answer; searching the thread before posting again');
      // Slack needs a moment before a message it has just created shows up in conversations.replies.
      await delay((options.searchDelayMs ?? 1_000) * 2 ** (attempt - 1));
      let found: string | undefined;
      try {
        found = await findPost(caller, post, postId, searchFrom, options.maxSearchPages ?? 3);
      } catch (searchError) {
        throw new SlackPostUnconfirmedError({ channelId: post.channel, threadTs: post.thread_ts, postId, cause: searchError });
      }
      if (found) {
        caller.logger.info({ ...log, ts: found }, 'slack post had landed; adopting it instead of posting again');
        return found;
      }
      if (attempt >= maxAttempts) throw error;
    }
  }
}

/** The ts of the thread's message tagged with `postId`, if Slack has it. */
async function findPost(caller: SlackCaller, post: ThreadPost, postId: string, searchFrom: number, maxPages: number): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page += 1) {
    const response = await caller.call(
      'conversations.replies',
      {
        channel: post.channel,
        ts: post.thread_ts,
        // Without it Slack leaves metadata out of every message.
        include_all_metadata: true,
        oldest: (searchFrom / 1000).toFixed(6),
        limit: 200,
        ...(cursor ? { cursor } : {}),
      },
      'required',
    );
    const parsed = repliesPageSchema.safeParse(response);
    if (!parsed.success) throw new SlackApiError({ method: 'conversations.replies', slackError: 'unexpected_response', cause: parsed.error });
    const match = parsed.data.messages.find((message) => replyMetadataSchema.safeParse(message.metadata).data?.event_payload.post_id === postId);
    if (match) return match.ts;
    cursor = parsed.data.response_metadata?.next_cursor || undefined;
    if (!cursor) return undefined;
  }
  return undefined;
}
