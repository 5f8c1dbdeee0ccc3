import { BotError } from '../errors.js';

/**
 * Thrown when even the system parts and the newest user message cannot fit the budget: no amount of
 * dropping or summarising helps, so the user must shorten what they sent.
 */
export class MessageTooLongError extends BotError {
  /** Estimated tokens of the newest turn (the user message and anything that belongs to it). */
  readonly messageTokens: number;
  /** Tokens the newest turn may take at most under this budget. */
  readonly availableTokens: number;

  constructor(messageTokens: number, availableTokens: number) {
    super({
      code: 'message_too_long',
      message: `The newest message needs about ${messageTokens} tokens but only ${availableTokens} fit the budget after the system prompt, documents and output reserve`,
      userMessage:
        availableTokens > 0
          ? `Your message is too long for me to read in one go (about ${messageTokens} tokens; I can take about ${availableTokens}). Please shorten it or send it in smaller parts.`
          : 'My settings leave no room for your message in this conversation. Please tell an operator (the history budget is smaller than the system prompt and answer reserve).',
    });
    this.messageTokens = messageTokens;
    this.availableTokens = availableTokens;
  }
}

/** A summariser call that failed, timed out or returned nothing usable. The turn falls back to sliding. */
export class SummaryFailedError extends BotError {
  /** `timeout`, `empty` or `failed` (the summariser threw). */
  readonly reason: 'timeout' | 'empty' | 'failed';

  constructor(reason: 'timeout' | 'empty' | 'failed', cause?: unknown) {
    super({
      code: 'summary_failed',
      message: `Summarising earlier messages failed (${reason})`,
      userMessage: 'I could not summarise the earlier part of this thread just now; I will try again on a later message.',
      cause,
    });
    this.reason = reason;
  }
}
