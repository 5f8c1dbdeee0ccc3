/**
 * What the soak records about one turn, whichever platform carried it, and how a record is judged:
 * answered, told plainly that the message could not be taken (Redis unreachable), failed, or lost.
 */
import type { Interval } from './timed-clova.js';

export type SoakPlatform = 'slack' | 'discord';

/** What happened to one event the harness sent, in `performance.now()` milliseconds. */
export interface TurnRecord {
  platform: SoakPlatform;
  thread: number;
  turn: number;
  /** 0, or how many times the harness had already sent this turn (after being told it was not taken). */
  attempt: number;
  /** `thread.turn` (`thread.turn.attempt` for a resend): in the question, the model calls and the answer. */
  tag: string;
  question: string;
  /** The id the bot stores the user message under (Discord: the interaction id; Slack: `slack:team:channel:ts`). */
  messageId: string;
  /** Which process(es) the event was delivered to. */
  deliveredTo: number[];
  /** How the event reached the second process, when it did. */
  duplicateKind?: 'same-interaction' | 'message-twin' | 'retry';
  sentAt: number;
  /** Discord: the deferral (type 5) came back in the HTTP response; Slack: the events endpoint answered 200. */
  acknowledgedAt?: number;
  /** Discord: interaction response types the processes answered. */
  responseTypes: number[];
  /** Discord: second deliveries the other process turned away ("This request is already being handled."). */
  refusedAsAlreadyHandled: number;
  firstUpdateAt?: number;
  finalAt?: number;
  /** Answers to this turn that reached the platform (final message with its buttons); more than one is a duplicate. */
  finalAnswers: number;
  /** The turn tag each of those answers carried (the fake model marks every answer with its turn). */
  answerTags: string[];
  /** Replies saying the message could not be taken because the conversation memory was unreachable. */
  outageLines: number;
  /** Any other failure line. */
  failureLines: number;
  /** Replies saying the answer was ready but could not be saved, and will come once memory is back (not final). */
  deferredLines: number;
  /** Every update of this turn's reply: when it reached the platform and when its response was back. */
  edits: Array<[number, number]>;
  modelCalls: Interval[];
  /** Sent while the soak's Redis was stopped. */
  sentDuringOutage: boolean;
}

/** What one event came to, from the user's side. */
export type TurnOutcome = 'answered' | 'told-not-taken' | 'failed' | 'lost';

/** The line the bot gives when Redis is unreachable (src/redis/connection.ts, src/history/thread-store.ts). */
const OUTAGE_LINE = /could not take your message/;

export function isOutageLine(text: string): boolean {
  return OUTAGE_LINE.test(text);
}

/** The line the bot gives when an answer could not be saved and recovery will post it (src/engine/turn-errors.ts). */
const DEFERRED_LINE = /Your message is saved, and I will answer it here/;

/** A promise of a later answer, not a final reply: the user waits for the answer, as the soak does. */
export function isDeferredLine(text: string): boolean {
  return DEFERRED_LINE.test(text);
}

export function outcomeOf(record: TurnRecord): TurnOutcome {
  if (record.finalAnswers > 0) return 'answered';
  if (record.outageLines > 0) return 'told-not-taken';
  if (record.failureLines > 0) return 'failed';
  return 'lost';
}

/**
 * Answered twice, acknowledged twice, or answered although the user was told it failed: the user
 * would see two replies to one message.
 */
export function isDuplicated(record: TurnRecord): boolean {
  return (
    record.finalAnswers > 1 ||
    (record.finalAnswers > 0 && record.outageLines + record.failureLines > 0) ||
    record.responseTypes.filter((type) => type === 5).length > 1
  );
}

/** A fresh record for an event about to be sent. */
export function newTurnRecord(fields: Pick<TurnRecord, 'platform' | 'thread' | 'turn' | 'attempt' | 'tag' | 'question' | 'messageId' | 'deliveredTo' | 'duplicateKind' | 'sentAt' | 'sentDuringOutage'>): TurnRecord {
  return { ...fields, responseTypes: [], refusedAsAlreadyHandled: 0, finalAnswers: 0, answerTags: [], outageLines: 0, failureLines: 0, deferredLines: 0, edits: [], modelCalls: [] };
}
