import type { Answer } from './answer.js';

export type Platform = 'slack' | 'discord' | 'console';

/** Where a message was written, for per-channel settings and key scoping. */
export interface MessageScope {
  /** Slack team id, Discord guild id (or `dm`), `local` for the console. */
  workspaceId: string;
  channelId: string;
}

/**
 * One user message, normalised by an adapter. The engine never sees a platform payload.
 *
 * @example
 * { threadKey: 'slack:T1:C1:1700000000.000100', eventId: 'slack:T1:C1:1700000000.000200', … }
 */
export interface IncomingMessage {
  platform: Platform;
  /** Opaque, platform-prefixed key of the conversation thread. */
  threadKey: string;
  /** Dedupe key: the same platform delivery (or the same user message delivered twice) maps to the same id. */
  eventId: string;
  /** Stable id of the user message itself, stored in history. */
  messageId: string;
  scope: MessageScope;
  author: { id: string; name?: string };
  text: string;
  /** When the platform says the message was written (ms since epoch). */
  receivedAt: number;
  /**
   * The message calls on the bot directly (a mention, a slash command, a DM). Plain follow-ups in a
   * thread are not; after a person took a thread over, only an addressed message wakes the bot.
   */
  addressedToBot?: boolean;
  /** The user pressed "talk to a person" (the keyword in the text works too). */
  requestsPerson?: boolean;
  /**
   * The message speaks to other people in the thread ("@dana can you check?") and not to the bot:
   * it is kept as context but not answered. From an escalation contact it also marks the handoff taken.
   */
  addressedToOthers?: boolean;
}

/** What the engine tells an adapter while a turn runs. Names are noun-verb, as everywhere. */
export type ReplyEvent =
  /** The turn is waiting behind another turn of the same thread. */
  | { type: 'turn-queued' }
  /** Progress worth showing ("Searching the knowledge base…"). */
  | { type: 'status-changed'; status: TurnStatus; text: string }
  /** Preview text; the `answer-completed` event replaces all of it. */
  | { type: 'text-delta'; text: string }
  | { type: 'answer-completed'; answer: Answer }
  /**
   * The user asked for a person: the adapter notifies `contacts` (platform user or group ids — the
   * only mentions ever allowed to ping) with `summary`, and tells the user `text`.
   */
  | { type: 'handoff-requested'; contacts: string[]; summary: string; text: string }
  /** The turn failed; `userMessage` is one plain sentence safe to post. */
  | { type: 'turn-failed'; code: string; userMessage: string };

export type TurnStatus = 'thinking' | 'searching' | 'reading' | 'compacting' | 'writing';

/** Adapter-owned output of one turn. `emit` may be slow (platform rate limits); the engine awaits it. */
export interface ReplySink {
  emit(event: ReplyEvent): Promise<void>;
  /**
   * Where the reply lives on the platform once something was posted (e.g. a placeholder's channel and
   * timestamp). The engine stores it with the in-flight turn so that, after a crash, another process
   * can finish or apologise in that same message. Plain strings only (it is stored as JSON).
   */
  replyHandle?(): ReplyHandle | undefined;
}

export type ReplyHandle = Record<string, string>;

/** Builds a sink that continues a reply a crashed process left behind (`handle` is what it stored). */
export type RecoverySinkFactory = (message: IncomingMessage, handle: ReplyHandle | undefined) => ReplySink;

/** How a call to `engine.handle` ended. */
export type TurnOutcome =
  | { kind: 'answered'; answer: Answer }
  | { kind: 'duplicate' }
  | { kind: 'failed'; code: string; userMessage: string }
  | { kind: 'reset' }
  /** The channel's settings say the bot stays silent here, or a person has taken the thread over. */
  | { kind: 'ignored' }
  | { kind: 'handed-off'; contacts: string[] }
  /**
   * The engine was shutting down while the message waited for its thread: it stays recorded, with
   * where its reply shows, for another process to answer. Nothing final was posted here, and nothing
   * should be: the adapter treats it as done.
   */
  | { kind: 'handed-over' };

/** A click on a feedback button under an answer. */
export interface Feedback {
  platform: Platform;
  threadKey: string;
  answerId: string;
  userId: string;
  value: 'helpful' | 'not-helpful';
  at: number;
}

/**
 * What adapters talk to. One instance per process; correctness across replicas comes from the
 * shared store and coordinator behind it.
 */
export interface ConversationEngine {
  /** Runs one turn: dedupe → lock → load → persist the user message → compact → answer → persist. */
  handle(message: IncomingMessage, sink: ReplySink): Promise<TurnOutcome>;
  /** Claims a non-turn event (a button click, a command) once across replicas; false when already claimed. */
  claimEvent(eventId: string): Promise<boolean>;
  /** Gives back a claim made with `claimEvent` when the work it guarded failed, so a retry can run. */
  releaseEvent(eventId: string): Promise<void>;
  /** Whether the bot already holds a conversation in this thread (adapters answer un-mentioned follow-ups only there). */
  hasThread(threadKey: string): Promise<boolean>;
  /** Starts the thread over: its history is forgotten (serialised with any running turn). */
  resetThread(threadKey: string): Promise<void>;
  /** Stores a feedback click with the thread and answer ids (one vote per user and answer; the latest wins). */
  recordFeedback(feedback: Feedback): Promise<void>;
  /**
   * Finishes turns that a crashed or killed process left in flight on `platform`: each is answered
   * again into the reply it had started (via `sinkFor`), exactly once across replicas. Messages that
   * were still waiting for their thread in that process are answered after it, in arrival order.
   * Returns how many. The engine keeps `sinkFor` so that a live turn can answer such messages first.
   */
  recoverOrphanedTurns(platform: Platform, sinkFor: RecoverySinkFactory): Promise<number>;
  /**
   * Stops taking new turns, lets running ones finish (up to `deadlineMs`), cancels the rest and gives
   * them up to `cancelGraceMs` (default `deadlineMs`) to tell their users, then releases everything.
   * Messages still waiting for their thread are left to another process (outcome `handed-over`) when
   * the coordinator is shared; alone, they wait on through the drain.
   */
  close(deadlineMs?: number, cancelGraceMs?: number): Promise<void>;
}
