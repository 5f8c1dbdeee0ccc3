import type { RenderedMessage } from './answer-renderer.js';
import { SlackApiError } from './errors.js';
import { postInThreadOnce } from './post-once.js';
import type { CallPriority, SlackCaller } from './slack-caller.js';
import type { UpdateBudget } from './update-budget.js';

/** How a sync treats `chat.update`: previews take a budget token or wait; finals always go. */
export interface SyncOptions {
  priority: CallPriority;
  /** Remove messages beyond the rendered ones (a final answer shorter than its preview). */
  deleteExtras: boolean;
}

/** Errors after which a message can no longer be edited, so the content goes into a new one. */
const UNUPDATABLE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'streaming_state_conflict']);

interface PostedMessage {
  ts: string;
  /** What the message shows now; undefined when unknown (a natively streamed message). */
  signature: string | undefined;
}

/**
 * The bot's messages for one reply in one thread. `sync` makes Slack show exactly the rendered
 * messages: unchanged ones are left alone, changed ones updated, missing ones posted in the thread.
 */
export class ThreadMessages {
  private readonly posted: PostedMessage[] = [];

  constructor(
    private readonly caller: SlackCaller,
    private readonly channelId: string,
    private readonly threadTs: string,
    private readonly updateBudget: UpdateBudget,
  ) {}

  get count(): number {
    return this.posted.length;
  }

  /** The ts of every message of the reply, in order. */
  get timestamps(): string[] {
    return this.posted.map((message) => message.ts);
  }

  /** Adopts a message posted by other means (a native stream) as the next message of the reply. */
  adopt(ts: string): void {
    this.posted.push({ ts, signature: undefined });
  }

  /**
   * Brings Slack in line with `rendered`. Returns false when a best-effort sync stopped early (rate
   * limit or update budget); the caller keeps its text and syncs again later.
   */
  async sync(rendered: RenderedMessage[], options: SyncOptions): Promise<boolean> {
    for (const [index, message] of rendered.entries()) {
      const signature = JSON.stringify(message);
      const existing = this.posted[index];
      if (existing?.signature === signature) continue;
      const done = existing ? await this.update(existing, message, signature, options.priority) : await this.post(message, signature, options.priority);
      if (!done) return false;
    }
    if (options.deleteExtras) await this.deleteFrom(rendered.length);
    return true;
  }

  private async update(existing: PostedMessage, message: RenderedMessage, signature: string, priority: CallPriority): Promise<boolean> {
    if (priority === 'best-effort') {
      if (!(await this.updateBudget.tryTake(this.caller.workspaceId))) return false;
    } else {
      await this.updateBudget.take(this.caller.workspaceId);
    }
    const params: Record<string, unknown> = { channel: this.channelId, ts: existing.ts, text: message.text };
    // Without `blocks`, chat.update keeps the old ones; an empty list clears a previous answer's buttons.
    params.blocks = message.blocks ?? [];
    try {
      const response = await this.caller.call('chat.update', params, priority);
      if (!response) return false;
    } catch (error) {
      // A final answer must land even when its preview message is gone or frozen: post it anew.
      if (priority === 'required' && error instanceof SlackApiError && UNUPDATABLE.has(error.slackError)) {
        const fresh = await this.postRaw(message, 'required');
        if (!fresh) return false;
        existing.ts = fresh;
        existing.signature = signature;
        return true;
      }
      throw error;
    }
    existing.signature = signature;
    return true;
  }

  private async post(message: RenderedMessage, signature: string, priority: CallPriority): Promise<boolean> {
    const ts = await this.postRaw(message, priority);
    if (!ts) return false;
    this.posted.push({ ts, signature });
    return true;
  }

  private postRaw(message: RenderedMessage, priority: CallPriority): Promise<string | undefined> {
    return postInThreadOnce(
      this.caller,
      {
        channel: this.channelId,
        thread_ts: this.threadTs,
        text: message.text,
        unfurl_links: false,
        unfurl_media: false,
        ...(message.blocks ? { blocks: message.blocks } : {}),
      },
      priority,
    );
  }

  private async deleteFrom(index: number): Promise<void> {
    const extras = this.posted.splice(index);
    for (const extra of extras) {
      try {
        await this.caller.call('chat.delete', { channel: this.channelId, ts: extra.ts }, 'required');
      } catch (error) {
        // A leftover preview is untidy, not wrong: the full answer is already in place above it.
        if (!(error instanceof SlackApiError)) throw error;
      }
    }
  }
}
