import { escapeMrkdwn } from './mrkdwn.js';
import type { SlackCaller } from './slack-caller.js';

/** Slack caps a streamed message at 12,000 characters and stops streams after about five minutes. */
export interface NativeStreamLimits {
  maxChars: number;
  maxAgeMs: number;
}

export const NATIVE_STREAM_LIMITS: NativeStreamLimits = { maxChars: 11_000, maxAgeMs: 4.5 * 60_000 };

export interface NativeStreamOptions {
  caller: SlackCaller;
  channelId: string;
  threadTs: string;
  /** The asker: `chat.startStream` requires both ids when streaming in a channel. */
  recipient?: { userId: string; teamId: string };
  limits?: NativeStreamLimits;
  now?: () => number;
  /** Called with the ts of every message a stream creates (the reply adopts them). */
  onMessageStarted: (ts: string) => void;
}

/** Outcome of one `push`: how many raw characters went out (0 when a rate limit skipped the call). */
export type PushResult = { sent: number } | { stoppedByUser: true };

interface ActiveStream {
  ts: string;
  chars: number;
  startedAt: number;
}

/**
 * Preview text through Slack's native streaming methods (`chat.startStream` / `appendStream` /
 * `stopStream`). Before a message would pass the size or age limit the stream is stopped and a new
 * one continues in the next message, so no text is refused.
 */
export class NativeStream {
  private active: ActiveStream | undefined;
  private readonly limits: NativeStreamLimits;
  private readonly now: () => number;

  constructor(private readonly options: NativeStreamOptions) {
    this.limits = options.limits ?? NATIVE_STREAM_LIMITS;
    this.now = options.now ?? Date.now;
  }

  get isActive(): boolean {
    return this.active !== undefined;
  }

  /** The ts of the message being streamed into right now. */
  get activeTs(): string | undefined {
    return this.active?.ts;
  }

  /**
   * Sends `rawText` (escaped here). Throws `SlackApiError` when Slack refuses streaming; the caller
   * then falls back to updating a placeholder.
   */
  async push(rawText: string): Promise<PushResult> {
    let sent = 0;
    while (sent < rawText.length) {
      if (this.active && this.mustRollOver()) await this.stop();
      const room = this.limits.maxChars - (this.active?.chars ?? 0);
      const take = rawCharsFitting(rawText.slice(sent), room);
      const chunk = escapeMrkdwn(rawText.slice(sent, sent + take));
      const result = this.active ? await this.append(this.active, chunk) : await this.start(chunk);
      if (result === 'skipped') return { sent };
      if (result === 'stopped-by-user') return { stoppedByUser: true };
      sent += take;
    }
    return { sent };
  }

  /** Ends the current stream, if any; the message then shows its text as a normal message. */
  async stop(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await this.options.caller.call('chat.stopStream', { channel: this.options.channelId, ts: active.ts }, 'required');
  }

  private mustRollOver(): boolean {
    const active = this.active!;
    return active.chars >= this.limits.maxChars || this.now() - active.startedAt >= this.limits.maxAgeMs;
  }

  private async start(chunk: string): Promise<'sent' | 'skipped'> {
    const { caller, channelId, threadTs, recipient } = this.options;
    const params: Record<string, unknown> = { channel: channelId, thread_ts: threadTs, markdown_text: chunk };
    if (recipient) {
      params.recipient_user_id = recipient.userId;
      params.recipient_team_id = recipient.teamId;
    }
    // Creates a message: never repeated after a lost answer (startStream takes no metadata to find it by).
    const response = await caller.call('chat.startStream', params, 'best-effort', { idempotent: false });
    if (!response) return 'skipped';
    const ts = String(response.ts);
    this.active = { ts, chars: chunk.length, startedAt: this.now() };
    this.options.onMessageStarted(ts);
    return 'sent';
  }

  private async append(active: ActiveStream, chunk: string): Promise<'sent' | 'skipped' | 'stopped-by-user'> {
    try {
      const response = await this.options.caller.call('chat.appendStream', { channel: this.options.channelId, ts: active.ts, markdown_text: chunk }, 'best-effort');
      if (!response) return 'skipped';
    } catch (error) {
      if ((error as { slackError?: string }).slackError === 'stopped_by_user') {
        this.active = undefined;
        return 'stopped-by-user';
      }
      throw error;
    }
    active.chars += chunk.length;
    return 'sent';
  }
}

/** How many leading characters of `raw` fit in `room` once escaped (at least one, so progress is certain). */
export function rawCharsFitting(raw: string, room: number): number {
  let used = 0;
  for (let index = 0; index < raw.length; index += 1) {
    const character = raw[index]!;
    const cost = character === '&' ? 5 : character === '<' || character === '>' ? 4 : 1;
    if (used + cost > room) {
      // Never cut between the two halves of a surrogate pair (emoji, rare Hangul): each request must be valid UTF-16.
      const backOff = index > 1 && isHighSurrogate(raw.charCodeAt(index - 1)) ? index - 1 : index;
      return Math.max(backOff, 1);
    }
    used += cost;
  }
  return raw.length;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
