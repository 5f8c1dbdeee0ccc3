import type { Feedback } from '../../src/engine/types.js';
import type { MessageComponentRow } from './discord-rest.js';

/** Discord's limit for a component's `custom_id`. */
const CUSTOM_ID_LIMIT = 100;
const BUTTON_STYLE_PRIMARY = 1;
const BUTTON_STYLE_SECONDARY = 2;

type FeedbackValue = Feedback['value'];

/** What a feedback button's `custom_id` carries back to us when clicked. */
export interface FeedbackButtonTarget {
  value: FeedbackValue;
  /** The channel id of the conversation thread (or DM) the answer belongs to. */
  conversationChannelId: string;
  answerId: string;
}

/** What a "Talk to a person" button's `custom_id` carries back: the conversation and the answer it sat under. */
export interface HandoffButtonTarget {
  conversationChannelId: string;
  answerId: string;
}

/** Encodes a feedback button id; undefined when it would not fit Discord's 100-character limit. */
export function feedbackCustomId(target: FeedbackButtonTarget): string | undefined {
  return fitting(`feedback:${target.value}:${target.conversationChannelId}:${target.answerId}`);
}

/** Decodes a feedback button `custom_id`; undefined for ids that are not ours (or were tampered with). */
export function parseFeedbackCustomId(customId: string): FeedbackButtonTarget | undefined {
  const match = /^feedback:(helpful|not-helpful):(\d{1,25}):(.{1,64})$/.exec(customId);
  if (!match) return undefined;
  return { value: match[1] as FeedbackValue, conversationChannelId: match[2] as string, answerId: match[3] as string };
}

/** Encodes a "Talk to a person" button id; undefined when it would not fit. */
export function handoffCustomId(target: HandoffButtonTarget): string | undefined {
  return fitting(`handoff:${target.conversationChannelId}:${target.answerId}`);
}

/** Decodes a "Talk to a person" button `custom_id`; undefined for anything else. */
export function parseHandoffCustomId(customId: string): HandoffButtonTarget | undefined {
  const match = /^handoff:(\d{1,25}):(.{1,64})$/.exec(customId);
  if (!match) return undefined;
  return { conversationChannelId: match[1] as string, answerId: match[2] as string };
}

/**
 * The row under an answer: Helpful, Not helpful, Talk to a person. Nothing when the ids are too long
 * to encode (a row without one of its buttons would be confusing).
 */
export function answerButtons(conversationChannelId: string, answerId: string): MessageComponentRow[] {
  const helpful = feedbackCustomId({ value: 'helpful', conversationChannelId, answerId });
  const notHelpful = feedbackCustomId({ value: 'not-helpful', conversationChannelId, answerId });
  const handoff = handoffCustomId({ conversationChannelId, answerId });
  if (!helpful || !notHelpful || !handoff) return [];
  return [
    {
      type: 1,
      components: [
        { type: 2, style: BUTTON_STYLE_SECONDARY, label: 'Helpful', custom_id: helpful, emoji: { name: '👍' } },
        { type: 2, style: BUTTON_STYLE_SECONDARY, label: 'Not helpful', custom_id: notHelpful, emoji: { name: '👎' } },
        { type: 2, style: BUTTON_STYLE_PRIMARY, label: 'Talk to a person', custom_id: handoff, emoji: { name: '🙋' } },
      ],
    },
  ];
}

function fitting(customId: string): string | undefined {
  return customId.length <= CUSTOM_ID_LIMIT ? customId : undefined;
}
