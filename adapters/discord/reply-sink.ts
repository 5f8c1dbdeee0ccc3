import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReplyEvent, ReplyHandle, ReplySink } from '../../src/engine/types.js';
import { errorCodeOf } from '../../src/errors.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { renderAnswerMarkdown, renderPreviewMarkdown, renderStatusLine } from './answer-renderer.js';
import type { DiscordRest, MessageComponentRow, OutgoingMessage } from './discord-rest.js';
import { DiscordRequestError } from './errors.js';
import { answerButtons } from './answer-buttons.js';
import { HANDOFF_POINTER, renderHandoffMessage } from './handoff-message.js';
import { defuseMentions } from './mentions.js';
import { DISCORD_MESSAGE_LIMIT, splitMessage } from './message-splitter.js';

/** Interaction tokens accept edits for 15 minutes after the interaction was created. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60_000;
/** How long before the token runs out we stop using it (clock skew, a slow last request). */
const DEFAULT_HANDOVER_MARGIN_MS = 90_000;
/** Discord shows "typing…" for about ten seconds; refresh a little before it fades. */
const TYPING_REFRESH_MS = 8_000;

/** Options of one turn's Discord reply. */
export interface DiscordReplySinkOptions {
  rest: DiscordRest;
  /** The channel (thread or DM) that holds the conversation; later messages go here. */
  conversationChannelId: string;
  /** Runs once before the first bot message or typing in the conversation channel (e.g. starts the thread). */
  prepareConversation?: () => Promise<void>;
  /**
   * For turns started by a slash command: the first message is the interaction's original response
   * (`shown`: what it already shows, when the caller edited it before the turn).
   */
  interaction?: { token: string; receivedAt: number; shown?: { channelId: string; messageId: string; content: string } };
  /** For turns started by a message: the first reply quotes it (not in a thread started from it). */
  replyToMessageId?: string;
  /** A message a previous process already posted for this turn (crash recovery): edited, not re-posted. */
  resumeMessage?: { channelId: string; messageId: string };
  logger: Logger;
  metrics?: Metrics;
  editIntervalMs?: number;
  messageLimit?: number;
  handoverMarginMs?: number;
  now?: () => number;
}

interface Slot {
  messageId?: string;
  channelId: string;
  via: 'interaction' | 'bot';
  content: string;
  componentsKey: string;
  /** An interaction response whose token is about to expire: it keeps what it shows. */
  frozen: boolean;
}

/**
 * Renders one turn into Discord: a status line (or typing) first, the streamed text edited in at a
 * steady cadence (about once a second) and continued in further messages past 2,000 characters, then
 * the final answer with sources and feedback buttons. Edits run one at a time in the background, so a
 * rate-limited edit (the REST client waits out 429s) never stalls the model, and the next edit always
 * carries everything buffered so far.
 */
export class DiscordReplySink implements ReplySink {
  private readonly slots: Slot[] = [];
  private readonly editIntervalMs: number;
  private readonly messageLimit: number;
  private readonly handoverMarginMs: number;
  private readonly now: () => number;
  private previewText = '';
  private hasAnswerText = false;
  private dirty = false;
  private finished = false;
  private statusRequested = false;
  /** Discord nonces are at most 25 characters: 16 random ones plus a counter. */
  private readonly nonceBase = randomUUID().replace(/-/g, '').slice(0, 16);
  private postsCreated = 0;
  private pendingStatus: string | undefined;
  private flushQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private lastTypingAt = Number.NEGATIVE_INFINITY;
  private work: Promise<void> = Promise.resolve();
  private preparation: Promise<void> | undefined;

  constructor(private readonly options: DiscordReplySinkOptions) {
    this.editIntervalMs = options.editIntervalMs ?? 1_000;
    this.messageLimit = options.messageLimit ?? DISCORD_MESSAGE_LIMIT;
    this.handoverMarginMs = options.handoverMarginMs ?? DEFAULT_HANDOVER_MARGIN_MS;
    this.now = options.now ?? Date.now;
    if (options.interaction) {
      const shown = options.interaction.shown;
      this.slots.push({ channelId: shown?.channelId ?? '', messageId: shown?.messageId, via: 'interaction', content: shown?.content ?? '', componentsKey: '[]', frozen: false });
    } else if (options.resumeMessage) {
      const { channelId, messageId } = options.resumeMessage;
      this.slots.push({ channelId, messageId, via: 'bot', content: '', componentsKey: '', frozen: false });
    }
  }

  /**
   * Where this reply lives once its first message exists (no tokens: the engine stores it), so that a
   * process taking over after a crash can finish the same message.
   */
  replyHandle(): ReplyHandle | undefined {
    // A finished reply needs no recovery; reporting it then would also race the engine's final save.
    if (this.finished) return undefined;
    const first = this.slots.find((slot) => slot.messageId && !slot.frozen);
    if (!first?.messageId) return undefined;
    return { conversationChannelId: this.options.conversationChannelId, firstChannelId: first.channelId, firstMessageId: first.messageId };
  }

  async emit(event: ReplyEvent): Promise<void> {
    if (this.finished) return;
    switch (event.type) {
      case 'turn-queued':
        await this.showStatus('Waiting for the previous question in this thread to finish…');
        return;
      case 'status-changed':
        await this.showStatus(event.text);
        return;
      case 'text-delta':
        this.previewText += event.text;
        this.hasAnswerText = true;
        this.dirty = true;
        this.scheduleFlush();
        return;
      case 'answer-completed': {
        const components = answerButtons(this.options.conversationChannelId, event.answer.id);
        await this.finish(renderAnswerMarkdown(event.answer), components);
        return;
      }
      case 'handoff-requested':
        await this.handOff(renderHandoffMessage(event));
        return;
      case 'turn-failed':
        await this.finish(`⚠️ ${defuseMentions(event.userMessage)}`, []);
        return;
    }
  }

  /** Ids of the messages this turn posted, in order (for logs and tests). */
  get messageIds(): string[] {
    return this.slots.flatMap((slot) => (slot.messageId ? [slot.messageId] : []));
  }

  private async showStatus(text: string): Promise<void> {
    if (this.hasAnswerText) return;
    if (this.options.interaction) {
      const first = !this.statusRequested;
      this.statusRequested = true;
      this.pendingStatus = text;
      const edit = this.enqueue(() => this.applyPendingStatus());
      // The first status is awaited so the reply exists (and its handle can be stored) once emit
      // returns; later ones are not: the turn goes on while Discord's rate limits pace the edits.
      if (first) await edit;
      return;
    }
    if (this.now() - this.lastTypingAt < TYPING_REFRESH_MS) return;
    this.lastTypingAt = this.now();
    this.enqueue(async () => {
      try {
        await this.prepare();
        await this.options.rest.sendTyping(this.options.conversationChannelId);
      } catch (error) {
        this.logFailure('typing', error);
      }
    });
  }

  /** Shows the newest status; statuses that were overtaken while waiting in line are skipped. */
  private async applyPendingStatus(): Promise<void> {
    const text = this.pendingStatus;
    this.pendingStatus = undefined;
    if (text === undefined || this.hasAnswerText || this.finished) return;
    await this.apply([renderStatusLine(text)], []).catch((error: unknown) => this.logFailure('status', error));
  }

  private scheduleFlush(): void {
    if (this.timer || this.flushQueued || this.finished) return;
    const wait = Math.max(0, this.lastFlushAt + this.editIntervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushQueued = true;
      this.enqueue(() => this.flushPreview());
    }, wait);
  }

  private async flushPreview(): Promise<void> {
    this.flushQueued = false;
    if (!this.dirty || this.finished) return;
    this.dirty = false;
    this.lastFlushAt = this.now();
    try {
      await this.apply(splitMessage(renderPreviewMarkdown(this.previewText), this.messageLimit), []);
    } catch (error) {
      // The next flush (or the final answer) sends the whole buffer again: nothing is lost.
      this.dirty = true;
      this.logFailure('preview edit', error);
    }
    if (this.dirty) this.scheduleFlush();
  }

  private async finish(markdown: string, components: MessageComponentRow[]): Promise<void> {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const chunks = splitMessage(markdown, this.messageLimit);
    await this.enqueue(() => this.applyFinal(chunks, components));
  }

  /**
   * The final reply is the one the user waits for: when Discord keeps failing it with 5xx (or the
   * connection drops) beyond the REST client's own immediate retries, try again with backoff.
   * `apply` skips messages already showing the right content, so nothing is posted twice.
   */
  private async applyFinal(chunks: string[], components: MessageComponentRow[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.apply(chunks, components);
        return;
      } catch (error) {
        const wait = FINAL_RETRY_DELAYS_MS[attempt];
        if (wait === undefined || !isTransient(error)) throw error;
        this.logFailure('final reply (retrying)', error);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * Posts the handoff as a new message in the conversation: Discord pings mentions only when a message
   * is created, never when one is edited. What the turn had shown so far is cleared away: a slash
   * command's original reply (which may carry the thread) becomes a short pointer, previews are deleted.
   */
  private async handOff(message: OutgoingMessage): Promise<void> {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.enqueue(async () => {
      for (const slot of [...this.slots]) {
        if (slot.frozen) continue;
        try {
          if (slot.via === 'interaction') {
            await this.write(slot, { content: HANDOFF_POINTER });
            slot.content = HANDOFF_POINTER;
            slot.componentsKey = '[]';
          } else if (slot.messageId) {
            await this.options.rest.deleteMessage(slot.channelId, slot.messageId);
            this.slots.splice(this.slots.indexOf(slot), 1);
          }
        } catch (error) {
          // Untidy, not wrong: the handoff itself still goes out below.
          this.logFailure('clearing before handoff', error);
        }
      }
      const created = await this.postInConversation(message, this.slots.length === 0 ? this.options.replyToMessageId : undefined);
      this.slots.push({ messageId: created.id, channelId: created.channelId, via: 'bot', content: message.content, componentsKey: '[]', frozen: false });
    });
  }

  /** Runs `task` after everything queued before it; the chain itself never rejects. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task);
    this.work = run.catch(() => undefined);
    return run;
  }

  private prepare(): Promise<void> {
    this.preparation ??= (this.options.prepareConversation?.() ?? Promise.resolve()).catch((error: unknown) => {
      this.preparation = undefined;
      throw error;
    });
    return this.preparation;
  }

  /**
   * Makes the posted messages show `chunks` (components on the last one): edits, posts and deletes as
   * needed. A message that can no longer be edited (deleted by someone, or an expired interaction
   * token) keeps what it shows and the text goes out in new messages instead.
   */
  private async apply(chunks: string[], components: MessageComponentRow[]): Promise<void> {
    try {
      await this.applyOnce(chunks, components);
    } catch (error) {
      if (!(error instanceof UneditableMessageError)) throw error;
      this.logFailure('edit (posting anew)', error.cause);
      await this.applyOnce(chunks, components);
    }
  }

  private async applyOnce(chunks: string[], components: MessageComponentRow[]): Promise<void> {
    await this.handOverIfExpiring();
    const writable = this.slots.filter((slot) => !slot.frozen);
    const componentsKey = JSON.stringify(components);
    for (const [index, content] of chunks.entries()) {
      const isLast = index === chunks.length - 1;
      const message: OutgoingMessage = isLast && components.length > 0 ? { content, components } : { content };
      const wantedKey = isLast ? componentsKey : '[]';
      const slot = writable[index];
      if (!slot) {
        const created = await this.postInConversation(message, this.slots.length === 0 ? this.options.replyToMessageId : undefined);
        this.slots.push({ messageId: created.id, channelId: created.channelId, via: 'bot', content, componentsKey: wantedKey, frozen: false });
        continue;
      }
      if (slot.messageId && slot.content === content && slot.componentsKey === wantedKey) continue;
      try {
        await this.write(slot, message);
      } catch (error) {
        if (!isUneditable(error)) throw error;
        slot.frozen = true;
        throw new UneditableMessageError(error);
      }
      slot.content = content;
      slot.componentsKey = wantedKey;
    }
    for (const surplus of writable.slice(chunks.length)) {
      if (surplus.via !== 'bot' || !surplus.messageId) continue;
      await this.options.rest.deleteMessage(surplus.channelId, surplus.messageId);
      this.slots.splice(this.slots.indexOf(surplus), 1);
    }
  }

  private async write(slot: Slot, message: OutgoingMessage): Promise<void> {
    const rest = this.options.rest;
    const posted =
      slot.via === 'interaction'
        ? await rest.editOriginalResponse(this.options.interaction?.token ?? '', message)
        : await rest.editMessage(slot.channelId, slot.messageId ?? '', message);
    slot.messageId = posted.id;
    slot.channelId = posted.channelId;
  }

  /**
   * Posts the next message of this reply. Its nonce changes only once a post succeeded, so a retried
   * post (ours after a 5xx, or the REST client's after a lost response) is created by Discord once.
   */
  private async postInConversation(message: OutgoingMessage, replyTo: string | undefined) {
    await this.prepare();
    const posted = await this.options.rest.createMessage(this.options.conversationChannelId, message, replyTo, `${this.nonceBase}-${this.postsCreated}`);
    this.postsCreated += 1;
    return posted;
  }

  /**
   * Before the interaction token runs out, turns the original response into a pointer to the
   * messages that follow and freezes it; from then on everything goes out as ordinary messages with the bot token.
   */
  private async handOverIfExpiring(): Promise<void> {
    const interaction = this.options.interaction;
    const original = this.slots[0];
    if (!interaction || !original || original.via !== 'interaction' || original.frozen) return;
    if (this.now() < interaction.receivedAt + INTERACTION_TOKEN_LIFETIME_MS - this.handoverMarginMs) return;
    original.frozen = true;
    // Everything it showed is posted again below, so it keeps only a pointer (no half-duplicated text).
    const content = '-# This answer continues in the messages below.';
    try {
      await this.write(original, { content });
      original.content = content;
    } catch (error) {
      this.logFailure('hand-over edit', error);
    }
  }

  private logFailure(stage: string, error: unknown): void {
    const code = errorCodeOf(error);
    this.options.metrics?.countError(error);
    const status = error instanceof DiscordRequestError ? error.status : undefined;
    const discordCode = error instanceof DiscordRequestError ? error.discordCode : undefined;
    this.options.logger.warn({ stage, code, status, discordCode, err: error instanceof DiscordRequestError ? error.message : undefined }, 'discord reply step failed');
  }
}

/** Backoff before each further attempt at the final reply (about 15 s in all). */
const FINAL_RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000];

/** A server-side failure or a dropped connection: worth sending the same reply again. */
function isTransient(error: unknown): boolean {
  return error instanceof DiscordRequestError && (error.status === undefined || error.status >= 500);
}

/** Discord will not take edits for this message any more (404 unknown message/webhook, 403). */
function isUneditable(error: unknown): boolean {
  return error instanceof DiscordRequestError && (error.status === 404 || error.status === 403);
}

class UneditableMessageError extends Error {
  constructor(override readonly cause: unknown) {
    super('message can no longer be edited');
  }
}
