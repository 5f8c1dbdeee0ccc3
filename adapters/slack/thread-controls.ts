import type { ConversationEngine } from '../../src/engine/types.js';
import { renderNotice } from './answer-renderer.js';
import { postInThreadOnce } from './post-once.js';
import type { SlackCaller } from './slack-caller.js';

/** Words that start a thread over instead of asking a question (English and Korean). */
const RESET_COMMANDS = new Set(['reset', 'start over', 'new conversation', 'forget this thread', '초기화', '다시 시작', '처음부터']);

/** Whether a (mention-stripped) message asks to start the thread over. */
export function isResetCommand(text: string): boolean {
  const normalised = text
    .toLowerCase()
    .replace(/^[/!]+/, '')
    .replace(/[.!?。]+$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return RESET_COMMANDS.has(normalised);
}

/** The confirmation line; in channels the next question needs a mention, because the thread is new to the bot again. */
export function resetConfirmation(directMessage: boolean): string {
  const next = directMessage ? 'Ask me your next question.' : 'Mention me with your next question.';
  return `Starting over: I have forgotten the earlier messages in this thread. ${next}`;
}

export interface StartOverRequest {
  engine: ConversationEngine;
  caller: SlackCaller;
  channelId: string;
  threadTs: string;
  threadKey: string;
  directMessage: boolean;
  /** Claimed once across replicas, so a retried delivery or a double click confirms once. */
  claimId: string;
}

/** Forgets the thread's history and says so in the thread. Returns false when another delivery already did. */
export async function startOver(request: StartOverRequest): Promise<boolean> {
  if (!(await request.engine.claimEvent(request.claimId))) return false;
  await request.engine.resetThread(request.threadKey);
  const notice = renderNotice(resetConfirmation(request.directMessage));
  await postInThreadOnce(
    request.caller,
    { channel: request.channelId, thread_ts: request.threadTs, text: notice.text, unfurl_links: false, unfurl_media: false },
    'required',
  );
  return true;
}
