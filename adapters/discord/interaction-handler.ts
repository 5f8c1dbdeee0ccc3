import type { Logger } from 'pino';
import type { ConversationEngine, MessageScope } from '../../src/engine/types.js';
import type { ChannelSettings } from '../../src/settings/index.js';
import { errorCodeOf, userMessageOf } from '../../src/errors.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { EngineClosingError } from '../../src/engine/turn-errors.js';
import { renderStatusLine } from './answer-renderer.js';
import { COMMAND_ASK, COMMAND_HELP, COMMAND_RESET, HELP_TEXT } from './commands.js';
import { interactionAcknowledgementId, interactionEventId, threadKeyFor, threadNameFrom } from './conversation.js';
import type { DiscordRest } from './discord-rest.js';
import { parseFeedbackCustomId, parseHandoffCustomId, type HandoffButtonTarget } from './answer-buttons.js';
import { DiscordReplySink, type DiscordReplySinkOptions } from './reply-sink.js';

/** A slash command, whether it came over the gateway or the HTTP endpoint. */
export interface CommandInvocation {
  interactionId: string;
  /** The interaction token: a credential for 15 minutes of edits. Never log it. */
  token: string;
  receivedAt: number;
  commandName: string;
  question: string | undefined;
  /** Undefined in DMs. */
  guildId: string | undefined;
  channelId: string;
  /** The parent channel when `channelId` is a thread. */
  parentChannelId: string | undefined;
  channelIsThread: boolean;
  user: { id: string; name?: string };
}

/** A click on one of our buttons. */
export interface ButtonClick {
  interactionId: string;
  token: string;
  receivedAt: number;
  customId: string;
  guildId: string | undefined;
  channelId: string;
  /** The parent channel when `channelId` is a thread (per-channel settings are kept for the parent). */
  parentChannelId?: string | undefined;
  userId: string;
  userName?: string;
}

/**
 * How the first response to an interaction goes out: over the gateway it is a callback request,
 * over the HTTP endpoint it is the body of the HTTP response. Either way it must happen within 3 s.
 */
export interface InteractionResponder {
  /** Acknowledges with a deferred message (Discord shows "thinking…"); edits follow over REST. */
  defer(options: { ephemeral: boolean }): Promise<void>;
  /** Acknowledges with a complete message. */
  reply(content: string, options: { ephemeral: boolean }): Promise<void>;
  /** Acknowledges a button click without any message (a deferred update: the clicked message stays as it is). */
  acknowledge(): Promise<void>;
}

export interface InteractionHandlerOptions {
  engine: ConversationEngine;
  rest: DiscordRest;
  logger: Logger;
  metrics?: Metrics;
  /** Passed to every reply sink (edit cadence, clock). */
  sinkSettings?: Pick<DiscordReplySinkOptions, 'editIntervalMs' | 'now' | 'handoverMarginMs'>;
  /** Per-channel settings: a disabled channel gets a private "switched off" note instead of an answer. */
  settingsFor?: (scope: MessageScope) => ChannelSettings;
  /**
   * False once the adapter has stopped (the process is about to exit): interactions then get a private
   * "restarting, ask again" reply at once instead of a "thinking…" that nothing would ever finish.
   */
  accepting?: () => boolean;
}

/** Told privately to someone who uses a command or a button in a channel where the bot is switched off. */
export const CHANNEL_DISABLED_TEXT = 'I am switched off in this channel, so I cannot help here.';
/** Told privately to whoever clicks "Talk to a person" after someone already did under that answer. */
export const HANDOFF_ALREADY_REQUESTED = 'A person has already been asked to take over this conversation; they will reply here.';
/** Told privately to whoever uses a command or button after this process stopped taking work (Discord cannot redeliver it). */
export const RESTARTING_TEXT = userMessageOf(new EngineClosingError());
/** What the user's side of the conversation shows for a click on "Talk to a person" (stored in history). */
export const HANDOFF_CLICK_TEXT = 'Talk to a person';

/**
 * Handles `/ask`, `/reset`, `/help` and feedback buttons. Every interaction is claimed once across
 * replicas *before* it is acknowledged, so two processes on one token never both answer (nor hit
 * Discord's "already acknowledged").
 */
export class InteractionHandler {
  constructor(private readonly options: InteractionHandlerOptions) {}

  /** Runs a command to completion (for `/ask`: until the answer is posted). */
  async handleCommand(invocation: CommandInvocation, responder: InteractionResponder): Promise<'handled' | 'duplicate'> {
    if (await this.refusedWhileStopped(responder)) return 'handled';
    const claim = await this.claim(interactionAcknowledgementId(invocation.interactionId), responder);
    if (claim !== 'claimed') return claim === 'duplicate' ? 'duplicate' : 'handled';
    if (invocation.commandName !== COMMAND_HELP && !this.enabledIn(scopeOf(invocation.guildId, invocation.parentChannelId ?? invocation.channelId))) {
      // Nothing visible in the channel: only the person who asked learns why there is no answer.
      await responder.reply(CHANNEL_DISABLED_TEXT, { ephemeral: true });
      return 'handled';
    }
    switch (invocation.commandName) {
      case COMMAND_HELP:
        await responder.reply(HELP_TEXT, { ephemeral: true });
        break;
      case COMMAND_RESET:
        await this.reset(invocation, responder);
        break;
      case COMMAND_ASK:
        await this.ask(invocation, responder);
        break;
      default:
        await responder.reply('I do not know that command; `/help` lists what I can do.', { ephemeral: true });
    }
    return 'handled';
  }

  /** Stores a feedback click (one vote per user and answer; the latest wins), or hands the conversation to a person. */
  async handleButton(click: ButtonClick, responder: InteractionResponder): Promise<'handled' | 'duplicate'> {
    const { engine, logger } = this.options;
    if (await this.refusedWhileStopped(responder)) return 'handled';
    const claim = await this.claim(interactionEventId(click.interactionId), responder);
    if (claim !== 'claimed') return claim === 'duplicate' ? 'duplicate' : 'handled';
    const handoff = parseHandoffCustomId(click.customId);
    if (handoff) {
      await this.handOff(click, handoff, responder);
      return 'handled';
    }
    const target = parseFeedbackCustomId(click.customId);
    if (!target) {
      await responder.reply('This button is no longer active.', { ephemeral: true });
      return 'handled';
    }
    try {
      await engine.recordFeedback({
        platform: 'discord',
        threadKey: threadKeyFor(click.guildId, target.conversationChannelId),
        answerId: target.answerId,
        userId: click.userId,
        value: target.value,
        at: click.receivedAt,
      });
    } catch (error) {
      this.countError(error);
      logger.error({ code: errorCodeOf(error) }, 'could not store discord feedback');
      await responder.reply('Sorry, I could not save your feedback. Please try again later.', { ephemeral: true });
      return 'handled';
    }
    await responder.reply(target.value === 'helpful' ? 'Thanks, glad it helped!' : 'Thanks for telling me; the team will look at this answer.', { ephemeral: true });
    return 'handled';
  }

  /**
   * After the adapter stopped, only the HTTP endpoint still receives interactions, and whatever they
   * started would be cut off by the exit: the first (and only) response says so. Nothing is claimed,
   * so no other replica is kept from answering.
   */
  private async refusedWhileStopped(responder: InteractionResponder): Promise<boolean> {
    if (this.options.accepting?.() ?? true) return false;
    await responder.reply(RESTARTING_TEXT, { ephemeral: true });
    return true;
  }

  /**
   * Claims an interaction once across replicas. When the shared store is unreachable the user is told
   * so privately: two replicas might then both reply, which beats Discord's bare "interaction failed".
   */
  private async claim(eventId: string, responder: InteractionResponder): Promise<'claimed' | 'duplicate' | 'failed'> {
    try {
      return (await this.options.engine.claimEvent(eventId)) ? 'claimed' : 'duplicate';
    } catch (error) {
      this.countError(error);
      this.options.logger.error({ code: errorCodeOf(error) }, 'could not claim a discord interaction');
      await responder.reply(userMessageOf(error), { ephemeral: true }).catch(() => {});
      return 'failed';
    }
  }

  /**
   * "Talk to a person": one handoff per answer whoever clicks and however often, run as a turn (in the
   * conversation, with the bot token) so the engine records it and the contacts are pinged once.
   */
  private async handOff(click: ButtonClick, target: HandoffButtonTarget, responder: InteractionResponder): Promise<void> {
    const { engine, rest, logger, metrics } = this.options;
    const scope = scopeOf(click.guildId, click.parentChannelId ?? click.channelId);
    if (!this.enabledIn(scope)) {
      await responder.reply(CHANNEL_DISABLED_TEXT, { ephemeral: true });
      return;
    }
    const handoffClaim = `discord:handoff:${target.conversationChannelId}:${target.answerId}`;
    if (!(await engine.claimEvent(handoffClaim))) {
      await responder.reply(HANDOFF_ALREADY_REQUESTED, { ephemeral: true });
      return;
    }
    await responder.acknowledge();
    const sink = new DiscordReplySink({ ...this.options.sinkSettings, rest, conversationChannelId: target.conversationChannelId, logger, metrics });
    const outcome = await engine.handle(
      {
        platform: 'discord',
        threadKey: threadKeyFor(click.guildId, target.conversationChannelId),
        eventId: `discord:handoff-click:${click.interactionId}`,
        messageId: click.interactionId,
        scope,
        author: { id: click.userId, ...(click.userName ? { name: click.userName } : {}) },
        text: HANDOFF_CLICK_TEXT,
        receivedAt: click.receivedAt,
        addressedToBot: true,
        requestsPerson: true,
      },
      sink,
    );
    logger.info({ outcome: outcome.kind }, 'discord handoff click done');
    // Nobody was asked (the turn failed): the button must work again rather than claim "already requested".
    if (outcome.kind === 'failed') await engine.releaseEvent(handoffClaim).catch(() => {});
  }

  private enabledIn(scope: MessageScope): boolean {
    return this.options.settingsFor?.(scope).enabled ?? true;
  }

  private async reset(invocation: CommandInvocation, responder: InteractionResponder): Promise<void> {
    const inConversation = invocation.guildId === undefined || invocation.channelIsThread;
    if (!inConversation) {
      await responder.reply('Use `/reset` inside a conversation thread (or in our direct messages).', { ephemeral: true });
      return;
    }
    // The reset waits for a running turn of this thread, which can take longer than the 3-second window.
    await responder.defer({ ephemeral: true });
    const { engine, rest } = this.options;
    let content = 'Done: I have forgotten this conversation. Ask me anything to start over.';
    try {
      await engine.resetThread(threadKeyFor(invocation.guildId, invocation.channelId));
    } catch (error) {
      this.countError(error);
      this.options.logger.error({ code: errorCodeOf(error) }, 'discord reset failed');
      content = 'Sorry, I could not reset this conversation. Please try again in a moment.';
    }
    await rest.editOriginalResponse(invocation.token, { content });
  }

  private async ask(invocation: CommandInvocation, responder: InteractionResponder): Promise<void> {
    const question = (invocation.question ?? '').trim();
    if (question.length === 0) {
      await responder.reply('Please add a question: `/ask question:<text>`.', { ephemeral: true });
      return;
    }
    await responder.defer({ ephemeral: false });
    const { guildId, channelId } = invocation;
    const opened = guildId === undefined || invocation.channelIsThread ? undefined : await this.openThread(invocation, question);
    const conversationChannelId = guildId === undefined || invocation.channelIsThread ? channelId : opened?.threadId;
    // Without a thread (no permission) the answer stands alone under a key no later message can reach.
    const threadKey = conversationChannelId ? threadKeyFor(guildId, conversationChannelId) : `${threadKeyFor(guildId, channelId)}:${invocation.interactionId}`;
    const sink = new DiscordReplySink({
      ...this.options.sinkSettings,
      rest: this.options.rest,
      conversationChannelId: conversationChannelId ?? channelId,
      interaction: { token: invocation.token, receivedAt: invocation.receivedAt, ...(opened ? { shown: opened.shown } : {}) },
      logger: this.options.logger,
      metrics: this.options.metrics,
    });
    const outcome = await this.options.engine.handle(
      {
        platform: 'discord',
        threadKey,
        eventId: interactionEventId(invocation.interactionId),
        messageId: invocation.interactionId,
        scope: { workspaceId: guildId ?? 'dm', channelId: invocation.parentChannelId ?? channelId },
        author: invocation.user,
        text: question,
        receivedAt: invocation.receivedAt,
        addressedToBot: true,
      },
      sink,
    );
    this.options.logger.info({ outcome: outcome.kind }, 'discord /ask done');
  }

  /** Shows a status line in the reply and starts a thread on it; no thread when Discord refuses. */
  private async openThread(
    invocation: CommandInvocation,
    question: string,
  ): Promise<{ threadId?: string; shown: { channelId: string; messageId: string; content: string } } | undefined> {
    const { rest, logger } = this.options;
    const content = renderStatusLine('Thinking…');
    let original: { id: string; channelId: string } | undefined;
    try {
      original = await rest.editOriginalResponse(invocation.token, { content });
      const shown = { channelId: original.channelId, messageId: original.id, content };
      return { threadId: await rest.startThreadFromMessage(original.channelId, original.id, threadNameFrom(question)), shown };
    } catch (error) {
      this.countError(error);
      logger.warn({ code: errorCodeOf(error) }, 'could not open a thread for /ask; answering in the channel');
      return original ? { shown: { channelId: original.channelId, messageId: original.id, content } } : undefined;
    }
  }

  private countError(error: unknown): void {
    this.options.metrics?.countError(error);
  }
}

/** Where a Discord interaction happened, for settings: the guild (or `dm`) and the channel (a thread's parent). */
function scopeOf(guildId: string | undefined, channelId: string): MessageScope {
  return { workspaceId: guildId ?? 'dm', channelId };
}
