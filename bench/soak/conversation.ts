/** The harness's side of one conversation thread, whichever platform it runs on. */
import type { SoakPlatform, TurnRecord } from './turn-record.js';

export interface TurnSpec {
  thread: number;
  turn: number;
  attempt: number;
  tag: string;
  question: string;
  /** Deliver this event to both processes. */
  duplicate: boolean;
  sentDuringOutage: boolean;
}

export interface SoakConversation {
  readonly platform: SoakPlatform;
  /**
   * Sends one user message in the thread (the first one opens it) and follows it until its answer or
   * a failure line reached the platform, or the turn timeout passed.
   */
  ask(spec: TurnSpec): Promise<TurnRecord>;
  /** The engine's key for this thread, once the thread exists. */
  threadKey(): string | undefined;
}

/** Starts conversations on one platform. */
export interface SoakDriver {
  readonly platform: SoakPlatform;
  conversation(): SoakConversation;
  /**
   * Where the platform shows a whole thread in one place: whether it shows exactly the replies the
   * thread's turns got, in their order (undefined when it does).
   */
  visibleThreadProblem?(threadKey: string, records: TurnRecord[]): string | undefined;
  /** Answers seen on the platform that carried no turn tag the harness sent (must stay 0), where answers are matched by tag. */
  readonly unattributedAnswers?: number;
}
