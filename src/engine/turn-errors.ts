import { BotError } from '../errors.js';

/** Why a turn ended without an answer, beyond what providers and stores report themselves. */

export class EmptyMessageError extends BotError {
  constructor() {
    super({
      code: 'empty_message',
      message: 'The message has no text after the mention was removed',
      userMessage: 'Ask me a question after the mention, for example: "@bot how do I reset my password?"',
    });
  }
}

export class TurnTimeoutError extends BotError {
  constructor(timeoutMs: number) {
    super({
      code: 'turn_timeout',
      message: `The answer took longer than ${timeoutMs} ms`,
      userMessage: 'That took too long to answer, so I stopped. Your message is saved; please ask again, perhaps more briefly.',
    });
  }
}

export class EngineClosingError extends BotError {
  constructor() {
    super({
      code: 'shutting_down',
      message: 'The engine is shutting down and takes no new turns',
      userMessage: 'I am restarting right now. Please send your message again in a moment.',
    });
  }
}

/**
 * The answer was ready but the conversation memory stayed unreachable while it was being saved.
 * The question and its in-flight record were saved before the model was asked, so it is answered
 * once memory is back: by the next turn in the thread, which finishes the record before its own
 * message, or else by the recovery sweep. Asking the user to send it again would answer it twice.
 */
export class AnswerDeferredError extends BotError {
  constructor(cause: unknown) {
    super({
      code: 'answer_deferred',
      message: 'The answer could not be saved because the conversation memory stayed unreachable; recovery will answer the saved message',
      userMessage: 'I lost the connection to my conversation memory while finishing this answer. Your message is saved, and I will answer it here once the connection is back.',
      cause,
    });
  }
}

/**
 * The turn ended before the message was stored in its thread (the wait for the thread failed, or
 * the turn failed early) and the message's waiting record could not be removed: conversation memory
 * stayed unreachable. The record is left to lapse, and recovery answers the message then; telling
 * the user to send it again would answer it twice.
 */
export class MessageKeptError extends BotError {
  constructor(cause: unknown) {
    super({
      code: 'message_kept',
      message: 'The turn ended before the message was stored, and its waiting record could not be removed; recovery will answer it once its lease runs out',
      userMessage: 'I lost the connection to my conversation memory before I could get to your message. Your message is saved, and I will answer it here once the connection is back.',
      cause,
    });
  }
}

/**
 * A turn left in flight ahead of this one (its answer deferred, or its process stopped) could not be
 * finished, so its record still stands: writing over it would drop that message for good. It stays
 * for the recovery sweep, and this message, not yet stored, is refused.
 */
export class EarlierTurnUnfinishedError extends BotError {
  constructor(threadKey: string, earlierMessageId: string) {
    super({
      code: 'earlier_turn_unfinished',
      message: `The turn of message ${earlierMessageId} left in flight in ${threadKey} could not be finished ahead of this one`,
      userMessage: 'I could not finish answering an earlier message in this thread, so I could not take yours. Please send it again in a minute.',
    });
  }
}
