/** A Web API answer body. */
export type ApiResult = { ok: boolean; error?: string } & Record<string, unknown>;

/** Message metadata as Slack takes and returns it (docs: "Using message metadata"). */
export interface SlackMessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

/** A message the bot posted, as the fake keeps it. */
export interface StoredSlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  /** Invisible to people; returned by conversations.history/replies only with `include_all_metadata`. */
  metadata?: SlackMessageMetadata;
  user: string;
  botId: string;
  /** Set for messages created by `chat.startStream`. */
  streamingState?: 'in_progress' | 'completed';
  deleted: boolean;
  /** The user pressed the stop button on the streaming message. */
  stoppedByUser?: boolean;
  /** How many times `chat.update` changed it. */
  updates: number;
}

export interface StatusRecord {
  channelId: string;
  threadTs: string;
  status: string;
}

export interface EphemeralRecord {
  channel: string;
  user: string;
  threadTs?: string;
  text: string;
}

/** Limits Slack enforces (docs: chat.postMessage, chat.update, chat.startStream, Block Kit reference). */
const LIMITS = {
  postText: 40_000,
  metadataBytes: 8_000,
  repliesPage: 1_000,
  updateText: 4_000,
  streamText: 12_000,
  blocks: 50,
  sectionText: 3_000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2_000,
} as const;

/**
 * The fake's memory of the bot's messages, with the behaviour of Slack's `chat.*` methods: ids are
 * increasing `ts` strings, edits only to the bot's own messages, streaming state enforced.
 */
export class SlackMessageStore {
  readonly messages: StoredSlackMessage[] = [];
  readonly statuses: StatusRecord[] = [];
  readonly ephemerals: EphemeralRecord[] = [];
  private lastTs = 0;

  constructor(private readonly identity: { botUserId: string; botId: string; teamId: string }) {}

  /** The bot's visible messages in a thread, oldest first. */
  threadReplies(channel: string, threadTs: string): StoredSlackMessage[] {
    return this.messages.filter((message) => message.channel === channel && message.threadTs === threadTs && !message.deleted);
  }

  /** What Slack does when the user presses "stop" on a streaming message: the stream ends, appends are refused. */
  pressStop(channel: string, ts: string): void {
    const message = this.messages.find((candidate) => candidate.channel === channel && candidate.ts === ts);
    if (!message || message.streamingState !== 'in_progress') throw new Error(`no streaming message ${channel}/${ts}`);
    message.streamingState = 'completed';
    message.stoppedByUser = true;
  }

  apply(method: string, params: Record<string, unknown>): ApiResult {
    switch (method) {
      case 'chat.postMessage':
        return this.postMessage(params);
      case 'chat.update':
        return this.update(params);
      case 'chat.delete':
        return this.remove(params);
      case 'chat.postEphemeral':
        return this.postEphemeral(params);
      case 'chat.startStream':
        return this.startStream(params);
      case 'chat.appendStream':
        return this.appendStream(params);
      case 'chat.stopStream':
        return this.stopStream(params);
      case 'assistant.threads.setStatus':
        return this.setStatus(params);
      case 'conversations.replies':
        return this.replies(params);
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private postMessage(params: Record<string, unknown>): ApiResult {
    const channel = stringParam(params.channel);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    const text = stringParam(params.text) ?? '';
    const blocks = params.blocks as unknown[] | undefined;
    if (!text && !blocks?.length) return { ok: false, error: 'no_text' };
    if (text.length > LIMITS.postText) return { ok: false, error: 'msg_too_long' };
    const blockProblem = validateBlocks(blocks);
    if (blockProblem) return { ok: false, error: blockProblem };
    const metadata = parseMetadata(params.metadata);
    if (metadata === 'invalid') return { ok: false, error: 'invalid_metadata_format' };
    if (metadata && JSON.stringify(metadata).length > LIMITS.metadataBytes) return { ok: false, error: 'metadata_too_large' };
    const message = this.create(channel, stringParam(params.thread_ts), text);
    if (blocks) message.blocks = blocks;
    if (metadata) message.metadata = metadata;
    return { ok: true, channel, ts: message.ts, message: { type: 'message', text, user: message.user, bot_id: message.botId, ts: message.ts, thread_ts: message.threadTs } };
  }

  private update(params: Record<string, unknown>): ApiResult {
    const found = this.find(params);
    if ('error' in found) return found.error;
    const { message } = found;
    if (message.streamingState === 'in_progress') return { ok: false, error: 'streaming_state_conflict' };
    const text = stringParam(params.text);
    if (text !== undefined && text.length > LIMITS.updateText) return { ok: false, error: 'msg_too_long' };
    const blocks = params.blocks as unknown[] | undefined;
    const blockProblem = validateBlocks(blocks);
    if (blockProblem) return { ok: false, error: blockProblem };
    const metadata = parseMetadata(params.metadata);
    if (metadata === 'invalid') return { ok: false, error: 'invalid_metadata_format' };
    // Without `metadata` the message keeps what it had.
    if (metadata) message.metadata = metadata;
    if (text !== undefined) message.text = text;
    // Without `blocks` Slack keeps the old ones; an empty list removes them.
    if (blocks !== undefined) message.blocks = blocks.length > 0 ? blocks : undefined;
    message.updates += 1;
    return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
  }

  private remove(params: Record<string, unknown>): ApiResult {
    const found = this.find(params, 'cant_delete_message');
    if ('error' in found) return found.error;
    found.message.deleted = true;
    return { ok: true, channel: found.message.channel, ts: found.message.ts };
  }

  private postEphemeral(params: Record<string, unknown>): ApiResult {
    const channel = stringParam(params.channel);
    const user = stringParam(params.user);
    const text = stringParam(params.text);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    if (!user) return { ok: false, error: 'user_not_in_channel' };
    if (!text) return { ok: false, error: 'no_text' };
    this.ephemerals.push({ channel, user, threadTs: stringParam(params.thread_ts), text });
    return { ok: true, message_ts: this.nextTs() };
  }

  private startStream(params: Record<string, unknown>): ApiResult {
    const channel = stringParam(params.channel);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    const threadTs = stringParam(params.thread_ts);
    // "Streamed messages should always be replies."
    if (!threadTs) return { ok: false, error: 'invalid_arguments' };
    const inChannel = channel.startsWith('C') || channel.startsWith('G');
    if (inChannel && !stringParam(params.recipient_user_id)) return { ok: false, error: 'missing_recipient_user_id' };
    if (inChannel && !stringParam(params.recipient_team_id)) return { ok: false, error: 'missing_recipient_team_id' };
    const text = stringParam(params.markdown_text) ?? '';
    if (text.length > LIMITS.streamText) return { ok: false, error: 'msg_too_long' };
    const message = this.create(channel, threadTs, text);
    message.streamingState = 'in_progress';
    return { ok: true, channel, ts: message.ts };
  }

  private appendStream(params: Record<string, unknown>): ApiResult {
    const found = this.find(params);
    if ('error' in found) return found.error;
    const { message } = found;
    if (message.stoppedByUser) return { ok: false, error: 'stopped_by_user' };
    if (message.streamingState !== 'in_progress') return { ok: false, error: 'message_not_in_streaming_state' };
    const text = stringParam(params.markdown_text);
    if (!text) return { ok: false, error: 'no_text' };
    if (message.text.length + text.length > LIMITS.streamText) return { ok: false, error: 'msg_too_long' };
    message.text += text;
    return { ok: true, channel: message.channel, ts: message.ts };
  }

  private stopStream(params: Record<string, unknown>): ApiResult {
    const found = this.find(params);
    if ('error' in found) return found.error;
    const { message } = found;
    if (message.streamingState !== 'in_progress') return { ok: false, error: 'message_not_in_streaming_state' };
    const text = stringParam(params.markdown_text);
    if (text) message.text += text;
    const blocks = params.blocks as unknown[] | undefined;
    const blockProblem = validateBlocks(blocks);
    if (blockProblem) return { ok: false, error: blockProblem };
    if (blocks) message.blocks = blocks;
    message.streamingState = 'completed';
    return { ok: true, channel: message.channel, ts: message.ts };
  }

  private setStatus(params: Record<string, unknown>): ApiResult {
    const channelId = stringParam(params.channel_id);
    const threadTs = stringParam(params.thread_ts);
    if (!channelId || !threadTs) return { ok: false, error: 'invalid_arguments' };
    const status = typeof params.status === 'string' ? params.status : undefined;
    if (status === undefined) return { ok: false, error: 'invalid_arguments' };
    this.statuses.push({ channelId, threadTs, status });
    return { ok: true };
  }

  /**
   * `conversations.replies`: the thread's messages oldest first, `oldest`/`latest` bounds (exclusive unless
   * `inclusive`), `limit` + `cursor` pages, metadata only with `include_all_metadata`. The fake holds only
   * the bot's messages, so the root a person wrote is not among them, and a thread it holds nothing of
   * is answered empty rather than `thread_not_found`.
   */
  private replies(params: Record<string, unknown>): ApiResult {
    const channel = stringParam(params.channel);
    const threadTs = stringParam(params.ts);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    if (!threadTs) return { ok: false, error: 'invalid_arguments' };
    const inclusive = flagParam(params.inclusive);
    const oldest = stringParam(params.oldest);
    const latest = stringParam(params.latest);
    const withMetadata = flagParam(params.include_all_metadata);
    const inWindow = (ts: string) =>
      (oldest === undefined || (inclusive ? Number(ts) >= Number(oldest) : Number(ts) > Number(oldest))) &&
      (latest === undefined || (inclusive ? Number(ts) <= Number(latest) : Number(ts) < Number(latest)));
    const thread = this.messages.filter(
      (message) => message.channel === channel && !message.deleted && (message.ts === threadTs || message.threadTs === threadTs) && inWindow(message.ts),
    );
    const limit = Math.min(Math.max(Number(params.limit) || 1_000, 1), LIMITS.repliesPage);
    const start = Number(stringParam(params.cursor)?.replace(/^offset:/, '') ?? 0) || 0;
    const page = thread.slice(start, start + limit);
    const hasMore = start + limit < thread.length;
    return {
      ok: true,
      messages: page.map((message) => ({
        type: 'message',
        user: message.user,
        bot_id: message.botId,
        text: message.text,
        ts: message.ts,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(withMetadata && message.metadata ? { metadata: message.metadata } : {}),
      })),
      has_more: hasMore,
      response_metadata: { next_cursor: hasMore ? `offset:${start + limit}` : '' },
    };
  }

  private create(channel: string, threadTs: string | undefined, text: string): StoredSlackMessage {
    const message: StoredSlackMessage = {
      channel,
      ts: this.nextTs(),
      ...(threadTs ? { threadTs } : {}),
      text,
      user: this.identity.botUserId,
      botId: this.identity.botId,
      deleted: false,
      updates: 0,
    };
    this.messages.push(message);
    return message;
  }

  private find(params: Record<string, unknown>, notOwnError = 'cant_update_message'): { message: StoredSlackMessage } | { error: ApiResult } {
    const channel = stringParam(params.channel);
    const ts = stringParam(params.ts);
    if (!channel) return { error: { ok: false, error: 'channel_not_found' } };
    const message = this.messages.find((candidate) => candidate.channel === channel && candidate.ts === ts && !candidate.deleted);
    if (!message) return { error: { ok: false, error: 'message_not_found' } };
    if (message.user !== this.identity.botUserId) return { error: { ok: false, error: notOwnError } };
    return { message };
  }

  private nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTs + 1);
    this.lastTs = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Form bodies carry booleans as "true"/"1", JSON bodies as booleans. */
function flagParam(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

/** `metadata` as Slack requires it: an object with a string `event_type` and an object `event_payload`. */
function parseMetadata(value: unknown): SlackMessageMetadata | 'invalid' | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || value === null) return 'invalid';
  const { event_type: eventType, event_payload: eventPayload } = value as Record<string, unknown>;
  if (typeof eventType !== 'string' || eventType.length === 0) return 'invalid';
  if (typeof eventPayload !== 'object' || eventPayload === null || Array.isArray(eventPayload)) return 'invalid';
  return { event_type: eventType, event_payload: eventPayload as Record<string, unknown> };
}

/** Slack's block validation, for the limits an answer renderer can run into. */
function validateBlocks(blocks: unknown[] | undefined): string | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks)) return 'invalid_blocks_format';
  if (blocks.length > LIMITS.blocks) return 'msg_blocks_too_many';
  for (const block of blocks as Array<Record<string, unknown>>) {
    switch (block.type) {
      case 'section': {
        const text = (block.text as { text?: unknown } | undefined)?.text;
        if (typeof text !== 'string' || text.length === 0 || text.length > LIMITS.sectionText) return 'invalid_blocks';
        break;
      }
      case 'context': {
        const elements = block.elements as unknown[] | undefined;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > LIMITS.contextElements) return 'invalid_blocks';
        break;
      }
      case 'actions': {
        const elements = block.elements as Array<Record<string, unknown>> | undefined;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > LIMITS.actionsElements) return 'invalid_blocks';
        for (const element of elements) {
          const text = (element.text as { text?: unknown } | undefined)?.text;
          if (typeof text !== 'string' || text.length > LIMITS.buttonText) return 'invalid_blocks';
          if (typeof element.value === 'string' && element.value.length > LIMITS.buttonValue) return 'invalid_blocks';
          if (typeof element.action_id !== 'string' || element.action_id.length > 255) return 'invalid_blocks';
        }
        break;
      }
      case 'divider':
      case 'header':
      case 'markdown':
      case 'rich_text':
      case 'context_actions':
        break;
      default:
        return 'invalid_blocks';
    }
  }
  return undefined;
}
