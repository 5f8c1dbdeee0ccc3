import type { ReplyEvent, ReplyHandle, ReplySink } from '../../src/engine/types.js';
import type { Logger } from '../../src/observability/logger.js';
import { renderAnswer, renderFailure, renderPreview, renderStatusLine, type RenderedMessage } from './answer-renderer.js';
import type { CapabilityCache } from './capability-cache.js';
import { mayHaveBeenCarriedOut, SlackApiError } from './errors.js';
import { renderHandoff } from './handoff-message.js';
import { clipText } from './mrkdwn.js';
import { NativeStream, type NativeStreamLimits } from './native-stream.js';
import type { SlackCaller } from './slack-caller.js';
import { ThreadMessages } from './thread-messages.js';
import type { UpdateBudget } from './update-budget.js';

/** `native`: chat.startStream where Slack allows it, else placeholder updates. `update`: placeholder updates only. */
export type StreamingMode = 'native' | 'update';

export interface SlackReplySinkOptions {
  caller: SlackCaller;
  channelId: string;
  /** The thread root every message of the reply goes under. */
  threadTs: string;
  /** The asker; native streaming in channels needs both ids. */
  recipient?: { userId: string; teamId: string };
  directMessage: boolean;
  streaming: StreamingMode;
  capabilities: CapabilityCache;
  updateBudget: UpdateBudget;
  /** Minimum time between two preview updates of one reply. */
  previewIntervalMs: number;
  nativeStreamLimits?: NativeStreamLimits;
  logger: Logger;
  /** Told the first time anything becomes visible (bench and metrics). */
  onFirstVisible?: () => void;
  /**
   * Messages a process that stopped had already posted for this reply (crash recovery): they are
   * edited into the answer instead of being left behind. A stream it left open is stopped first.
   */
  resume?: { messageTimestamps: string[]; streamingTs?: string };
}

const QUEUED_STATUS = 'Waiting for the previous question in this thread…';
const MAX_STATUS_CHARS = 100;

/**
 * Renders one turn into a Slack thread: a status right away (assistant status API, or a placeholder
 * message where that API is refused), preview text while the answer is written (native stream, or
 * throttled `chat.update` under the workspace budget), then the final answer with sources and buttons.
 * Every Slack call runs through one queue, so a slow or rate-limited call never reorders the reply.
 */
export class SlackReplySink implements ReplySink {
  private readonly messages: ThreadMessages;
  private readonly stream: NativeStream;
  private previewText = '';
  /** Raw preview characters already handed to the native stream. */
  private streamedChars = 0;
  private previewMode: 'native' | 'update' | 'stopped';
  private statusShown = false;
  private postedSinceStatus = false;
  private finished = false;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastPreviewAt = 0;
  private visible = false;

  constructor(private readonly options: SlackReplySinkOptions) {
    this.messages = new ThreadMessages(options.caller, options.channelId, options.threadTs, options.updateBudget);
    this.stream = new NativeStream({
      caller: options.caller,
      channelId: options.channelId,
      threadTs: options.threadTs,
      recipient: options.recipient,
      limits: options.nativeStreamLimits,
      onMessageStarted: (ts) => {
        this.messages.adopt(ts);
        this.markPosted();
      },
    });
    const canStream = options.streaming === 'native' && (options.directMessage || options.recipient !== undefined);
    this.previewMode = canStream && this.allows('native-stream') ? 'native' : 'update';
    if (options.resume) this.resumeFrom(options.resume);
  }

  /**
   * Where the reply lives on Slack (channel, thread and the ts of every message posted so far; no
   * tokens), so that another process can finish it in place after a crash. Undefined before anything
   * was posted and once the reply is complete.
   */
  replyHandle(): ReplyHandle | undefined {
    if (this.finished || this.messages.count === 0) return undefined;
    const streamingTs = this.stream.activeTs;
    return {
      channelId: this.options.channelId,
      threadTs: this.options.threadTs,
      messageTs: this.messages.timestamps.join(' '),
      ...(streamingTs ? { streamingTs } : {}),
    };
  }

  async emit(event: ReplyEvent): Promise<void> {
    if (this.finished) return;
    switch (event.type) {
      case 'turn-queued':
        return this.enqueue(() => this.showStatus(QUEUED_STATUS));
      case 'status-changed':
        return this.enqueue(() => this.showStatus(event.text));
      case 'text-delta':
        this.previewText += event.text;
        this.schedulePreview();
        return;
      case 'answer-completed':
        return this.finish(renderAnswer(event.answer));
      case 'handoff-requested':
        // Slack notifies mentions in new messages only, never in edits: the handoff must be a fresh post.
        return this.finish([renderHandoff(event)], { freshMessages: true });
      case 'turn-failed':
        return this.finish([renderFailure(event.userMessage)]);
    }
  }

  private resumeFrom(resume: NonNullable<SlackReplySinkOptions['resume']>): void {
    for (const ts of resume.messageTimestamps) this.messages.adopt(ts);
    this.markPosted();
    const streamingTs = resume.streamingTs;
    if (!streamingTs) return;
    // Queued before anything else: a message still streaming refuses every edit.
    void this.enqueue(async () => {
      try {
        await this.options.caller.call('chat.stopStream', { channel: this.options.channelId, ts: streamingTs }, 'required');
      } catch (error) {
        // Slack ends abandoned streams on its own after a while; then there is nothing to stop.
        if (!(error instanceof SlackApiError)) throw error;
      }
    }).catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not stop the stream a stopped process left open'));
  }

  private async showStatus(text: string): Promise<void> {
    // Once answer text is on screen, it is the progress indicator.
    if (this.finished || this.previewText.length > 0) return;
    const status = clipText(text.replace(/\s+/g, ' ').trim(), MAX_STATUS_CHARS);
    if (this.allows('assistant-status')) {
      try {
        const response = await this.options.caller.call(
          'assistant.threads.setStatus',
          { channel_id: this.options.channelId, thread_ts: this.options.threadTs, status },
          'best-effort',
        );
        if (response) {
          this.statusShown = true;
          this.postedSinceStatus = false;
          this.markVisible();
        }
        return;
      } catch (error) {
        if (!(error instanceof SlackApiError)) throw error;
        this.disable('assistant-status', error);
      }
    }
    // The first sign of life must appear even under a rate limit; later status changes may be skipped.
    const priority = this.messages.count === 0 ? 'required' : 'best-effort';
    if (await this.messages.sync([renderStatusLine(status)], { priority, deleteExtras: false })) this.markPosted();
  }

  private schedulePreview(): void {
    if (this.timer || this.finished) return;
    const waitMs = Math.max(0, this.lastPreviewAt + this.options.previewIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue(() => this.flushPreview()).catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'slack preview update failed');
      });
    }, waitMs);
  }

  private async flushPreview(): Promise<void> {
    if (this.finished || this.previewMode === 'stopped') return;
    this.lastPreviewAt = Date.now();
    const complete = this.previewMode === 'native' ? await this.flushNative() : await this.flushUpdate();
    // Whatever a rate limit or the budget held back goes out with the next flush.
    if (!complete) this.schedulePreview();
  }

  private async flushNative(): Promise<boolean> {
    const end = this.previewText.length;
    if (end <= this.streamedChars) return true;
    try {
      const result = await this.stream.push(this.previewText.slice(this.streamedChars, end));
      if ('stoppedByUser' in result) {
        this.previewMode = 'stopped';
        return true;
      }
      this.streamedChars += result.sent;
      if (result.sent > 0) this.markVisible();
      return this.streamedChars >= end;
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      // A lost answer says nothing about whether Slack allows streaming here: only this reply falls back.
      if (mayHaveBeenCarriedOut(error)) this.options.logger.warn({ slackError: error.slackError, method: error.method }, 'slack stream call lost its answer; this reply continues with updates');
      else this.disable('native-stream', error);
      await this.stopStreamQuietly();
      this.previewMode = 'update';
      return this.flushUpdate();
    }
  }

  private async flushUpdate(): Promise<boolean> {
    const complete = await this.messages.sync(renderPreview(this.previewText), { priority: 'best-effort', deleteExtras: false });
    if (this.messages.count > 0) this.markPosted();
    return complete;
  }

  private async finish(rendered: RenderedMessage[], options: { freshMessages?: boolean } = {}): Promise<void> {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.enqueue(async () => {
      // A message still streaming cannot be edited (`streaming_state_conflict`); if stopping fails, the
      // final sync posts the answer as a new message instead.
      if (this.stream.isActive) await this.stopStreamQuietly();
      if (options.freshMessages) await this.messages.sync([], { priority: 'required', deleteExtras: true });
      await this.messages.sync(rendered, { priority: 'required', deleteExtras: true });
      this.markPosted();
      if (this.statusShown && !this.postedSinceStatus) await this.clearStatus();
    });
  }

  private async clearStatus(): Promise<void> {
    try {
      await this.options.caller.call('assistant.threads.setStatus', { channel_id: this.options.channelId, thread_ts: this.options.threadTs, status: '' }, 'best-effort');
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
    }
  }

  private async stopStreamQuietly(): Promise<void> {
    try {
      await this.stream.stop();
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    // The queue itself must survive a failed step; the caller still sees the failure.
    this.queue = next.catch(() => {});
    return next;
  }

  private allows(capability: 'assistant-status' | 'native-stream'): boolean {
    return this.options.capabilities.allows(capability, this.options.caller.workspaceId, this.options.channelId);
  }

  private disable(capability: 'assistant-status' | 'native-stream', error: SlackApiError): void {
    this.options.capabilities.disable(capability, this.options.caller.workspaceId, this.options.channelId);
    this.options.logger.info({ capability, slackError: error.slackError, method: error.method }, 'slack feature unavailable, using the fallback');
  }

  private markPosted(): void {
    this.postedSinceStatus = true;
    this.markVisible();
  }

  private markVisible(): void {
    if (this.visible) return;
    this.visible = true;
    this.options.onFirstVisible?.();
  }
}
