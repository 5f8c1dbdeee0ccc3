import { z } from 'zod';
import type { ConversationEngine, IncomingMessage, MessageScope, ReplySink, TurnOutcome } from '../../src/engine/types.js';
import type { ChannelSettings } from '../../src/settings/index.js';
import type { Logger } from '../../src/observability/logger.js';
import { ACTION_IDS } from './answer-renderer.js';
import { slackThreadKey } from './incoming-message.js';
import type { SlackCaller } from './slack-caller.js';
import { startOver } from './thread-controls.js';

/** The parts of a `block_actions` payload the buttons under an answer need, validated at the edge. */
export const blockActionsSchema = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string().min(1), team_id: z.string().optional(), name: z.string().max(200).optional() }),
  team: z.looseObject({ id: z.string().min(1) }).nullish(),
  channel: z.looseObject({ id: z.string().min(1) }),
  message: z.looseObject({ ts: z.string().min(1), thread_ts: z.string().optional() }),
  actions: z
    .array(z.looseObject({ action_id: z.string(), value: z.string().max(2_000).optional(), action_ts: z.string().optional() }))
    .min(1),
});

export type BlockActions = z.infer<typeof blockActionsSchema>;

export const FEEDBACK_THANKS = {
  helpful: 'Thanks! Glad it helped. Your feedback was recorded.',
  'not-helpful': 'Thanks for telling me. Your feedback was recorded and helps improve the answers.',
} as const;

export interface InteractionContext {
  engine: ConversationEngine;
  caller: SlackCaller;
  logger: Logger;
}

/** The thread a clicked answer belongs to (answers are always posted as thread replies). */
export function threadOfClick(payload: BlockActions): { workspaceId: string; channelId: string; threadTs: string; threadKey: string } {
  const workspaceId = payload.team?.id ?? payload.user.team_id ?? 'unknown';
  const threadTs = payload.message.thread_ts ?? payload.message.ts;
  return { workspaceId, channelId: payload.channel.id, threadTs, threadKey: slackThreadKey(workspaceId, payload.channel.id, threadTs) };
}

/**
 * Stores a helpful / not helpful click with its thread and answer, then thanks the clicker privately
 * (an ephemeral message only they see). Repeated clicks overwrite: one vote per user and answer.
 */
export async function handleFeedbackClick(payload: BlockActions, value: 'helpful' | 'not-helpful', context: InteractionContext): Promise<void> {
  const action = payload.actions[0]!;
  const answerId = action.value;
  if (!answerId) {
    context.logger.warn({ actionId: action.action_id }, 'feedback click without an answer id');
    return;
  }
  const thread = threadOfClick(payload);
  await context.engine.recordFeedback({
    platform: 'slack',
    threadKey: thread.threadKey,
    answerId,
    userId: payload.user.id,
    value,
    at: Date.now(),
  });
  await context.caller.call(
    'chat.postEphemeral',
    { channel: thread.channelId, user: payload.user.id, thread_ts: thread.threadTs, text: FEEDBACK_THANKS[value] },
    'required',
  );
}

/** "Start over" under an answer: forgets the thread once, whoever clicks first. */
export async function handleStartOverClick(payload: BlockActions, context: InteractionContext): Promise<void> {
  const action = payload.actions[0]!;
  const thread = threadOfClick(payload);
  await startOver({
    engine: context.engine,
    caller: context.caller,
    channelId: thread.channelId,
    threadTs: thread.threadTs,
    threadKey: thread.threadKey,
    directMessage: thread.channelId.startsWith('D'),
    claimId: `slack-action:${thread.threadKey}:${ACTION_IDS.startOver}:${action.action_ts ?? payload.message.ts}`,
  });
}

/** What the user's side of the conversation shows for a click on "Talk to a person" (stored in history). */
export const HANDOFF_CLICK_TEXT = 'Talk to a person';

/** A "Talk to a person" click, as a turn for the engine. */
export interface HandoffClick {
  /** Claimed once per answer across replicas: double clicks and a second person's click hand off once. */
  claimId: string;
  message: IncomingMessage;
  thread: ReturnType<typeof threadOfClick>;
}

/**
 * Turns a click on "Talk to a person" into the message the engine hands off on: addressed to the bot
 * (it wakes a quiet thread) and asking for a person whatever the words.
 */
export function handoffClickOf(payload: BlockActions, now = Date.now()): HandoffClick {
  const action = payload.actions[0]!;
  const thread = threadOfClick(payload);
  const clickTs = action.action_ts ?? payload.message.ts;
  const eventId = `slack-action:${thread.threadKey}:${ACTION_IDS.talkToPerson}:${clickTs}:${payload.user.id}`;
  const clickedAt = Math.round(Number.parseFloat(clickTs) * 1000);
  return {
    claimId: `slack-handoff:${thread.threadKey}:${action.value ?? payload.message.ts}`,
    thread,
    message: {
      platform: 'slack',
      threadKey: thread.threadKey,
      eventId,
      messageId: eventId,
      scope: { workspaceId: thread.workspaceId, channelId: thread.channelId },
      author: { id: payload.user.id, ...(payload.user.name ? { name: payload.user.name } : {}) },
      text: HANDOFF_CLICK_TEXT,
      receivedAt: Number.isFinite(clickedAt) ? clickedAt : now,
      addressedToBot: true,
      requestsPerson: true,
    },
  };
}

/** Told privately to whoever clicks "Talk to a person" after someone already did under that answer. */
export const HANDOFF_ALREADY_REQUESTED = 'A person has already been asked to take over this thread; they will reply here.';

export interface HandoffClickContext extends InteractionContext {
  settingsFor?: (scope: MessageScope) => ChannelSettings;
  /** The reply sink of the handoff turn, built like any turn's (the clicker is the recipient). */
  sinkFor: (turn: { channelId: string; threadTs: string; recipient: { userId: string; teamId: string }; directMessage: boolean }) => ReplySink;
}

/**
 * "Talk to a person": one handoff per answer whoever clicks and however often (later clickers are
 * told privately that a person is on the way), run as a turn so the engine records and announces it.
 * Returns the turn's outcome, or why no turn ran.
 */
export async function handleHandoffClick(
  payload: BlockActions,
  context: HandoffClickContext,
): Promise<TurnOutcome | { kind: 'channel-disabled' } | { kind: 'already-requested' }> {
  const click = handoffClickOf(payload);
  const { thread } = click;
  if (context.settingsFor && !context.settingsFor(click.message.scope).enabled) return { kind: 'channel-disabled' };
  if (!(await context.engine.claimEvent(click.claimId))) {
    await context.caller.call('chat.postEphemeral', { channel: thread.channelId, user: payload.user.id, thread_ts: thread.threadTs, text: HANDOFF_ALREADY_REQUESTED }, 'best-effort');
    return { kind: 'already-requested' };
  }
  const sink = context.sinkFor({
    channelId: thread.channelId,
    threadTs: thread.threadTs,
    recipient: { userId: payload.user.id, teamId: payload.user.team_id ?? thread.workspaceId },
    directMessage: thread.channelId.startsWith('D'),
  });
  const outcome = await context.engine.handle(click.message, sink);
  context.logger.info({ outcome: outcome.kind }, 'slack handoff click done');
  // Nobody was asked (the turn failed): the button must work again rather than claim "already requested".
  if (outcome.kind === 'failed') await context.engine.releaseEvent(click.claimId).catch(() => {});
  return outcome;
}
