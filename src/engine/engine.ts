import { randomUUID } from 'node:crypto';
import { BotError, errorCodeOf, isCancellation, isContextOverflow, userMessageOf } from '../errors.js';
import { emptyThreadState, type StoredMessage, type ThreadState } from '../history/thread-state.js';
import type { LoadedThread, ThreadStore } from '../history/thread-store.js';
import type { Coordinator, PendingHold, ThreadLock } from '../coordination/coordinator.js';
import type { HistoryCompactor, TokenBudget } from '../compaction/types.js';
import { withoutConfirmedCounts } from '../compaction/token-counts.js';
import type { Answerer } from './answerer.js';
import { textAnswer, type Answer } from './answer.js';
import { asksForPerson, caseSummary } from './handoff.js';
import { AnswerDeferredError, EarlierTurnUnfinishedError, EmptyMessageError, EngineClosingError, MessageKeptError, TurnTimeoutError } from './turn-errors.js';
import { boundMessage, inFlightRecord, isBlank, withAssistantMessage, withUnansweredMessage } from './thread-transitions.js';
import { trackReplyHandle } from './reply-handle-tracking.js';
import { waitingMessageFrom, waitingMessagePayload } from './waiting-message.js';
import type {
  ConversationEngine,
  Feedback,
  IncomingMessage,
  Platform,
  RecoverySinkFactory,
  ReplyEvent,
  ReplySink,
  TurnOutcome,
} from './types.js';
import { LockWaitTimeoutError } from '../coordination/coordinator.js';
import type { Logger } from '../observability/logger.js';
import { runInTurnContext } from '../observability/turn-context.js';
import type { Metrics } from '../observability/metrics.js';

/** How one message is answered: the process defaults, refined per channel by the settings file. */
export interface TurnPolicy {
  answerer: Answerer;
  compactor: HistoryCompactor;
  /** The model's window X (or a lower configured budget) and output reserve B. */
  budget: { windowTokens: number; maxOutputTokens: number };
  persona?: string;
  /** Who gets the thread when the user asks for a person (platform user or group ids). */
  escalationContacts?: string[];
}

export interface ConversationEngineOptions {
  store: ThreadStore;
  coordinator: Coordinator;
  answerer: Answerer;
  compactor: HistoryCompactor;
  /** The model's window X (or the configured lower budget) and output reserve B. */
  budget: { windowTokens: number; maxOutputTokens: number };
  /**
   * Per-channel policy (settings file): `disabled` keeps the bot silent in that channel. Without it
   * every message gets `answerer`, `compactor` and `budget`.
   */
  policyFor?: (message: IncomingMessage) => Promise<TurnPolicy | 'disabled'>;
  logger: Logger;
  metrics?: Metrics;
  /** Longest one answer may take. */
  turnTimeoutMs: number;
  /** Longer user messages are cut (with a notice) so one paste cannot eat the whole budget. */
  maxMessageChars: number;
  /** How long an event id is remembered for dedupe. Slack retries for up to ~5 minutes; default 24 h. */
  eventTtlMs?: number;
  /**
   * How long a turn's writes (the question before the model is asked, the answer after) wait for an
   * unreachable conversation memory before the turn gives up; a given-up answer is left to crash
   * recovery. A Redis restart or failover takes seconds; throwing a ready answer away for it costs a
   * second model call and a late reply, and a write that failed on a connection may have been applied
   * anyway. Default 15 s.
   */
  answerSaveGraceMs?: number;
  now?: () => number;
}

/**
 * Creates the conversation engine: the one place that owns a thread's memory and the order of its
 * turns. Adapters call `handle`; everything platform-specific stays in the adapter's `ReplySink`.
 */
export function createConversationEngine(options: ConversationEngineOptions): ConversationEngine {
  return new Engine(options);
}

class Engine implements ConversationEngine {
  private readonly options: Required<Omit<ConversationEngineOptions, 'metrics' | 'policyFor'>> & Pick<ConversationEngineOptions, 'metrics' | 'policyFor'>;
  private readonly running = new Set<Promise<unknown>>();
  private closing = false;
  /** Aborted as soon as `close` is called: waits for a thread stop, and their messages go to another process. */
  private readonly closeStarted = new AbortController();
  /** Aborted when the shutdown deadline cancels running turns. */
  private readonly closeController = new AbortController();
  /** Identifies this process in in-flight records, for operators reading them. */
  private readonly processId = randomUUID();
  /** The sinks adapters gave for recovery, by platform: a live turn uses them for messages abandoned ahead of it. */
  private readonly recoverySinks = new Map<Platform, RecoverySinkFactory>();

  constructor(options: ConversationEngineOptions) {
    this.options = { eventTtlMs: 24 * 3600 * 1000, answerSaveGraceMs: 15_000, now: Date.now, ...options };
  }

  async handle(message: IncomingMessage, sink: ReplySink): Promise<TurnOutcome> {
    const turn = runInTurnContext({ eventId: message.eventId, threadKey: message.threadKey, platform: message.platform }, () => this.runTurn(message, sink));
    this.running.add(turn);
    try {
      return await turn;
    } finally {
      this.running.delete(turn);
    }
  }

  async claimEvent(eventId: string): Promise<boolean> {
    return this.options.coordinator.claimEvent(eventId, this.options.eventTtlMs);
  }

  async releaseEvent(eventId: string): Promise<void> {
    await this.options.coordinator.releaseEvent(eventId);
  }

  async hasThread(threadKey: string): Promise<boolean> {
    return this.options.store.exists(threadKey);
  }

  async resetThread(threadKey: string): Promise<void> {
    await this.options.coordinator.withThreadLock(threadKey, async () => this.options.store.delete(threadKey), {
      waitTimeoutMs: this.options.turnTimeoutMs,
    });
  }

  async recordFeedback(feedback: Feedback): Promise<void> {
    await this.options.store.saveFeedback(feedback);
  }

  async recoverOrphanedTurns(platform: Platform, sinkFor: RecoverySinkFactory): Promise<number> {
    const { coordinator, store, logger } = this.options;
    this.recoverySinks.set(platform, sinkFor);
    let recovered = 0;
    for (const threadKey of await coordinator.listInFlight()) {
      if (this.closing) break;
      const log = logger.child({ threadKey, platform, recovery: true });
      try {
        recovered += await coordinator.withThreadLock(
          threadKey,
          async (lock) => {
            // Holding the lock proves no live turn is running here; a leftover record means its process
            // died or gave up saving its answer.
            const state = (await store.load(threadKey)).state;
            const orphan = state?.inFlight;
            if (orphan && orphan.platform !== platform) return 0;
            // Messages that waited behind the orphan come after it, in the order they arrived.
            const finishedOrphan = state && orphan ? await this.finishOrphan(threadKey, state, orphan, sinkFor, lock, log) : 0;
            const answered = await this.answerAbandoned(threadKey, platform, sinkFor, lock, log);
            if (!orphan) await coordinator.clearInFlight(threadKey);
            return finishedOrphan + answered;
          },
          { waitTimeoutMs: 1_000 },
        );
      } catch (error) {
        // Busy threads are being answered by a live process right now; anything else is retried on the next sweep.
        if (!(error instanceof LockWaitTimeoutError)) log.warn({ err: describeError(error) }, 'could not recover an orphaned turn');
      }
    }
    return recovered;
  }

  /**
   * Finishes a turn whose process died while it held the thread, or gave up saving its answer (the
   * caller holds the lock now).
   */
  private async finishOrphan(
    threadKey: string,
    state: ThreadState,
    orphan: NonNullable<ThreadState['inFlight']>,
    sinkFor: RecoverySinkFactory,
    lock: ThreadLock,
    log: Logger,
  ): Promise<number> {
    const stored = state.messages.find((message) => message.id === orphan.messageId && message.role === 'user');
    const message: IncomingMessage = {
      platform: orphan.platform,
      threadKey,
      eventId: orphan.eventId,
      messageId: orphan.messageId,
      scope: orphan.scope,
      author: { id: orphan.authorId, ...(orphan.authorName ? { name: orphan.authorName } : {}) },
      text: stored?.content ?? '',
      receivedAt: orphan.receivedAt,
    };
    log.warn({ orphanedBy: orphan.processId, messageId: orphan.messageId }, 'finishing a turn left in flight by a process that stopped or could not save its answer');
    const sink = sinkFor(message, orphan.replyHandle);
    if (orphan.answer) {
      // The answer was stored before its process died; post it rather than ask the model again.
      await this.emit(sink, { type: 'answer-completed', answer: orphan.answer }, log);
      await this.finishInFlight(state, lock, log);
      return 1;
    }
    await this.attempt(message, sink, log, async () => this.answerInLock(message, sink, lock, log, await this.recoveryPolicyFor(message)));
    return 1;
  }

  /**
   * Answers, oldest first, the messages whose process stopped while they waited for this thread (the
   * caller holds its lock): into the reply that process had started, or a new one in the thread.
   * `arrivedBefore` keeps to those ahead of a live turn's own message.
   */
  private async answerAbandoned(threadKey: string, platform: Platform, sinkFor: RecoverySinkFactory, lock: ThreadLock, log: Logger, arrivedBefore?: number): Promise<number> {
    const { coordinator, store } = this.options;
    // All messages of a thread share its platform, which a sweep has to check (a live turn knows it):
    // another platform's process could not post the answers.
    if (arrivedBefore === undefined) {
      const readable = (await coordinator.listPending(threadKey)).map((entry) => waitingMessageFrom(threadKey, entry.payload)).find((waiting) => waiting !== undefined);
      if (readable?.message.platform !== platform) return 0;
    }
    // Adopted, not taken: until each is stored in the thread its record stays, so that whatever stops
    // this loop (a failed load, a shutdown, this process dying) leaves the rest to lapse to the next sweep.
    const adopted = await coordinator.adoptAbandonedPending(threadKey, arrivedBefore === undefined ? {} : { arrivedBefore });
    let answered = 0;
    try {
      for (const { id, payload, hold } of adopted) {
        if (this.closing) break;
        const waiting = waitingMessageFrom(threadKey, payload);
        if (!waiting) {
          log.error({ pendingId: id }, 'dropped a waiting message whose record could not be read');
          await hold.remove();
          continue;
        }
        const { message, replyHandle } = waiting;
        // Stored means its own turn had begun before the process stopped: that turn's in-flight record covered it.
        const state = (await store.load(threadKey)).state;
        if (state?.messages.some((stored) => stored.id === message.messageId && stored.role === 'user')) {
          await hold.remove();
          continue;
        }
        log.warn({ messageId: message.messageId, eventId: message.eventId }, 'answering a message whose process stopped while it waited for its thread');
        const sink = sinkFor(message, replyHandle);
        try {
          await this.attempt(message, sink, log, async () => this.answerInLock(message, sink, lock, log, await this.recoveryPolicyFor(message), () => hold.remove()));
        } finally {
          // As for a live turn: one that ended before storing the message (its user was told) drops the record too.
          await hold.remove().catch((error: unknown) => log.warn({ err: describeError(error) }, 'could not remove the record of a waiting message'));
        }
        answered += 1;
      }
    } finally {
      for (const { hold } of adopted) hold.abandon();
    }
    return answered;
  }

  async close(deadlineMs = 30_000, cancelGraceMs = deadlineMs): Promise<void> {
    this.closing = true;
    this.closeStarted.abort(new EngineClosingError());
    const everything = Promise.allSettled([...this.running]).then(() => 'done' as const);
    const deadline = (ms: number) => new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), ms).unref());
    if ((await Promise.race([everything, deadline(deadlineMs)])) === 'deadline') {
      this.options.logger.warn({ running: this.running.size }, 'shutdown deadline reached; aborting running turns');
      this.closeController.abort(new EngineClosingError());
      // A platform call that ignores the abort (a post stuck in a rate-limit wait) must not hold the
      // process forever: its turn stays in flight and another process finishes it.
      if ((await Promise.race([everything, deadline(cancelGraceMs)])) === 'deadline') {
        this.options.logger.warn({ running: this.running.size }, 'turns still running after the abort; leaving them to crash recovery');
      }
    }
    await this.options.coordinator.close();
  }

  private async runTurn(message: IncomingMessage, sink: ReplySink): Promise<TurnOutcome> {
    const { coordinator, logger, metrics } = this.options;
    const log = logger.child({ platform: message.platform });
    const outcome = await this.attempt(message, sink, log, async () => {
      if (this.closing) throw new EngineClosingError();
      const policy = await this.policyFor(message);
      if (policy === 'disabled') return { kind: 'ignored' } as const;
      if (!(await coordinator.claimEvent(message.eventId, this.options.eventTtlMs))) return { kind: 'duplicate' } as const;
      if (isBlank(message.text)) throw new EmptyMessageError();
      // While it waits for the thread the message exists nowhere else: recorded, it survives this process.
      const hold = await this.recordWaiting(message);
      return this.answerWhenThreadFree(message, sink, policy, hold, log);
    });
    metrics?.turns.inc({ platform: message.platform, outcome: outcome.kind });
    if (outcome.kind === 'answered') metrics?.turnDuration.observe((this.options.now() - message.receivedAt) / 1000);
    return outcome;
  }

  /**
   * Records a claimed message as waiting for its thread. One that cannot be recorded is refused, and
   * its event claim given back so that a platform retry can be taken.
   */
  private async recordWaiting(message: IncomingMessage): Promise<PendingHold> {
    try {
      return await this.options.coordinator.addPending(message.threadKey, waitingMessagePayload(message, this.options.maxMessageChars));
    } catch (error) {
      await this.options.coordinator.releaseEvent(message.eventId).catch(() => {});
      throw error;
    }
  }

  /**
   * Waits for the thread, then answers the recorded message. Until the message is stored in the
   * thread its record is all that keeps it, so every way out settles the record first: removed (what
   * the user is told is final), taken over by another process (which answers; nothing is said here),
   * kept because memory stayed unreachable (the user is told it will be answered), or left to another
   * process when this one shuts down.
   */
  private async answerWhenThreadFree(message: IncomingMessage, sink: ReplySink, policy: TurnPolicy, hold: PendingHold, log: Logger): Promise<TurnOutcome> {
    const { coordinator, metrics } = this.options;
    const queuedAt = this.options.now();
    // Alone, nobody could take the message over: it keeps waiting through the drain instead.
    const handsOver = coordinator.sharedAcrossProcesses;
    let announced: Promise<void> | undefined;
    // From here on a failure is the turn's own, and reaches the user as it is.
    let lockTaken = false;
    try {
      return await coordinator.withThreadLock(
        message.threadKey,
        async (lock) => {
          lockTaken = true;
          metrics?.queueWait.observe((this.options.now() - queuedAt) / 1000);
          // A turn begun now might be cancelled before it finishes, and its user told to ask again.
          if (this.closing && handsOver) return await this.handOver(message, sink, hold, announced, log);
          let stored = false;
          try {
            await this.answerAbandonedAhead(message, hold.sequence, lock, log);
            if (!(await hold.isOurs())) {
              // Our lease ran out while we waited (a long pause), and another process has answered the message.
              hold.abandon();
              log.warn({ messageId: message.messageId }, 'a waiting message was taken over by another process; not answering it twice');
              return { kind: 'duplicate' } as const;
            }
            return await this.answerInLock(message, sink, lock, log, policy, () => {
              stored = true;
              return hold.remove();
            });
          } catch (error) {
            if (stored) throw error;
            // Ended before the message was stored: the failure is final only once the record is gone.
            if ((await this.settleRecord(hold, log)) === 'kept') throw new MessageKeptError(error);
            throw error;
          } finally {
            // Stored, the thread keeps the message; a record left behind only makes recovery find it stored.
            if (stored) {
              await hold.remove().catch((error: unknown) => {
                hold.abandon();
                log.warn({ err: describeError(error) }, 'could not remove the record of a stored message');
              });
            }
          }
        },
        {
          onQueued: () => (announced = this.announceQueued(message, sink, hold, log)),
          waitTimeoutMs: this.options.turnTimeoutMs,
          signal: handsOver ? this.closeStarted.signal : this.closeController.signal,
        },
      );
    } catch (error) {
      if (lockTaken) throw error;
      if (this.closing && handsOver) return this.handOver(message, sink, hold, announced, log);
      const settled = await this.settleRecord(hold, log);
      // Our lease ran out while we waited (a long pause), and another process answers the message.
      if (settled === 'taken-over') return { kind: 'duplicate' } as const;
      if (settled === 'kept') throw new MessageKeptError(error);
      throw this.closing && error instanceof LockWaitTimeoutError ? new EngineClosingError() : error;
    }
  }

  /**
   * Removes the record of a message whose turn ended before storing it, riding out an unreachable
   * memory for up to `answerSaveGraceMs`. When it cannot be removed it is `kept`: no longer renewed,
   * it lapses, and recovery answers the message then.
   */
  private async settleRecord(hold: PendingHold, log: Logger): Promise<'removed' | 'taken-over' | 'kept'> {
    let removed = false;
    try {
      await this.rideOutMemoryOutage(async () => void (removed = await hold.remove()), log);
    } catch (error) {
      hold.abandon();
      log.error({ err: describeError(error) }, 'could not remove the record of a waiting message; recovery will answer it');
      return 'kept';
    }
    return removed ? 'removed' : 'taken-over';
  }

  /**
   * Leaves a waiting message to another process as this one shuts down, saying nothing final: its
   * record stays, no longer renewed, and once its lease runs out the next sweep (or the next turn in
   * the thread) answers it where its reply shows.
   */
  private async handOver(message: IncomingMessage, sink: ReplySink, hold: PendingHold, announced: Promise<void> | undefined, log: Logger): Promise<TurnOutcome> {
    // Where the reply shows goes into the record first: a Discord /ask, say, is finished in its own reply.
    await (announced ?? this.announceQueued(message, sink, hold, log));
    hold.abandon();
    log.info({ messageId: message.messageId }, 'shutting down: a waiting message is left to another process');
    return { kind: 'handed-over' };
  }

  /** Tells the user the message waits, and records where that shows: the answer belongs there, whoever writes it. */
  private async announceQueued(message: IncomingMessage, sink: ReplySink, hold: PendingHold, log: Logger): Promise<void> {
    await this.emit(sink, { type: 'turn-queued' }, log);
    const replyHandle = sink.replyHandle?.();
    if (!replyHandle) return;
    await hold.update(waitingMessagePayload(message, this.options.maxMessageChars, replyHandle)).catch((error: unknown) => {
      log.warn({ err: describeError(error) }, 'could not record where a waiting message shows');
    });
  }

  /**
   * A turn that got the lock first answers the messages that arrived before it and were left by a
   * stopped process, so the thread keeps its order. Only with this platform's recovery sinks (given
   * by the adapter's sweep); without them a sweep that has them answers those messages later.
   */
  private async answerAbandonedAhead(message: IncomingMessage, sequence: number, lock: ThreadLock, log: Logger): Promise<void> {
    const sinkFor = this.recoverySinks.get(message.platform);
    if (!sinkFor) return;
    try {
      await this.answerAbandoned(message.threadKey, message.platform, sinkFor, lock, log.child({ recovery: true }), sequence);
    } catch (error) {
      // Those not yet answered stay recorded and lapse to the next sweep; the user's own message must
      // not fail because of someone else's.
      log.warn({ err: describeError(error) }, 'could not answer messages abandoned ahead of this one');
    }
  }

  /** Runs the turn and turns every failure into one plain line for the user (details go to the log). */
  private async attempt(message: IncomingMessage, sink: ReplySink, log: Logger, work: () => Promise<TurnOutcome>): Promise<TurnOutcome> {
    try {
      return await work();
    } catch (error) {
      const code = errorCodeOf(error);
      const userMessage = userMessageOf(error);
      this.options.metrics?.countError(error);
      log.error({ code, err: describeError(error) }, 'turn failed');
      await this.emit(sink, { type: 'turn-failed', code, userMessage }, log);
      return { kind: 'failed', code, userMessage };
    }
  }

  /**
   * Human handoff. A request for a person notifies the channel's escalation contacts with a case
   * summary; once one of them writes in the thread the bot keeps every message but stays quiet until
   * it is addressed directly. Returns the outcome when the turn ends here (state already saved).
   */
  private async applyHandoff(
    message: IncomingMessage,
    state: ThreadState,
    policy: TurnPolicy,
    sink: ReplySink,
    lock: ThreadLock,
    log: Logger,
  ): Promise<TurnOutcome | undefined> {
    const contacts = policy.escalationContacts ?? [];
    const now = this.options.now();
    const save = async (next: ThreadState) => {
      await lock.assertHeld();
      await this.options.store.save({ ...next, updatedAt: now });
    };
    if (state.handoff && contacts.includes(message.author.id)) {
      await save({ ...state, handoff: { ...state.handoff, humanJoinedAt: state.handoff.humanJoinedAt ?? now } });
      log.info({ contact: message.author.id }, 'a person answered in a handed-off thread; the bot stays quiet here');
      return { kind: 'ignored' };
    }
    if ((state.handoff?.humanJoinedAt || message.addressedToOthers) && !message.addressedToBot) {
      await save(state);
      return { kind: 'ignored' };
    }
    if (!message.requestsPerson && !asksForPerson(message.text)) return undefined;

    const answerId = newAnswerId();
    if (contacts.length === 0) {
      const answer = textAnswer(answerId, 'Nobody is set up to take over conversations in this channel yet, so I will keep helping as best I can. An operator can add escalation contacts in the settings file.', 'chat');
      await save(withAssistantMessage(state, message.messageId, answer, now));
      await this.emit(sink, { type: 'answer-completed', answer }, log);
      return { kind: 'answered', answer };
    }
    const text = 'I have asked a person to take over this conversation; they will reply in this thread. Mention me if you want me back.';
    const summary = caseSummary(state);
    const handedOff = withAssistantMessage(state, message.messageId, textAnswer(answerId, text, 'chat'), now);
    await save({ ...handedOff, handoff: { requestedAt: now, requestedBy: message.author.id, contacts } });
    await this.emit(sink, { type: 'handoff-requested', contacts, summary, text }, log);
    log.info({ contacts: contacts.length }, 'thread handed to a person');
    return { kind: 'handed-off', contacts };
  }

  private defaultPolicy(): TurnPolicy {
    return { answerer: this.options.answerer, compactor: this.options.compactor, budget: this.options.budget };
  }

  private async policyFor(message: IncomingMessage): Promise<TurnPolicy | 'disabled'> {
    return this.options.policyFor ? this.options.policyFor(message) : this.defaultPolicy();
  }

  /** A message being recovered was taken when it arrived: a channel switched off since still gets its reply finished, with the defaults. */
  private async recoveryPolicyFor(message: IncomingMessage): Promise<TurnPolicy> {
    const policy = await this.policyFor(message);
    return policy === 'disabled' ? this.defaultPolicy() : policy;
  }

  /** `onStored` runs once the user's message is saved in the thread (from then on the thread state keeps it). */
  private async answerInLock(message: IncomingMessage, sink: ReplySink, lock: ThreadLock, log: Logger, policy: TurnPolicy, onStored?: () => Promise<unknown>): Promise<TurnOutcome> {
    const { store } = this.options;
    const { compactor, answerer } = policy;
    const notices: string[] = [];
    const loaded = await this.loadFinishingOrphan(message, lock, log);
    if (loaded.quarantinedAs) {
      notices.push('I could not read the earlier history of this thread, so I set it aside for an operator and started fresh.');
    }
    let state = loaded.state ?? emptyThreadState(message.threadKey, this.options.now());

    const { text, truncated } = boundMessage(message.text.trim(), this.options.maxMessageChars);
    if (truncated) notices.push(`Your message was longer than ${this.options.maxMessageChars} characters; I read only the first ${this.options.maxMessageChars}.`);
    const userMessage: StoredMessage = {
      id: message.messageId,
      role: 'user',
      content: text,
      createdAt: message.receivedAt,
      authorId: message.author.id,
      ...(message.author.name ? { authorName: message.author.name } : {}),
    };
    // A re-delivered message (e.g. after a crash between saving and answering) is answered, not stored twice.
    if (!state.messages.some((stored) => stored.id === userMessage.id && stored.role === 'user')) {
      state = { ...state, messages: [...state.messages, userMessage], updatedAt: this.options.now() };
    }
    const stored = async () => {
      try {
        await onStored?.();
      } catch (error) {
        // Harmless: recovery finds the message stored and drops the record.
        log.warn({ err: describeError(error) }, 'could not remove the record of a waiting message');
      }
    };
    const handedOver = await this.applyHandoff(message, state, policy, sink, lock, log);
    if (handedOver) {
      await stored();
      // Nothing of this turn is in flight; the waiting record was what listed the thread for recovery.
      if (!state.inFlight) await this.options.coordinator.clearInFlight(message.threadKey).catch((error: unknown) => log.warn({ err: describeError(error) }, 'could not clear the in-flight mark of a finished turn'));
      return handedOver;
    }
    if (state.handoff?.humanJoinedAt) state = { ...state, handoff: undefined }; // addressed again: the bot is back
    state = { ...state, inFlight: inFlightRecord(message, this.processId, this.options.now(), state.inFlight?.messageId === message.messageId ? state.inFlight.replyHandle : undefined) };
    // Persist before any model call: whatever happens next, what the user wrote is kept. A write that
    // failed on a connection may still have been applied, and recovery would then answer a message the
    // user was told to send again; riding out a short outage settles which it was.
    const opened = state;
    await this.rideOutMemoryOutage(async () => {
      await lock.assertHeld();
      await this.options.coordinator.markInFlight(message.threadKey);
      await store.save(opened);
    }, log);
    await stored();
    const tracker = trackReplyHandle(sink, () => state, async (next) => {
      state = next;
      try {
        // Never write over the thread once another turn may own it.
        await lock.assertHeld();
        await store.save(next);
      } catch (error) {
        log.warn({ err: describeError(error) }, 'could not record the reply handle');
      }
    });
    const turnSink = tracker.sink;

    const signal = AbortSignal.any([AbortSignal.timeout(this.options.turnTimeoutMs), lock.signal, this.closeController.signal]);
    try {
      const budget: TokenBudget = { ...policy.budget, reservedTokens: answerer.reservedTokens };
      const fitted = await compactor.fit(state, budget, signal);
      if (fitted.kind !== 'none') this.options.metrics?.compactions.inc({ kind: fitted.kind });
      if (fitted.notice) notices.push(fitted.notice);
      await this.emit(turnSink, { type: 'status-changed', status: 'thinking', text: 'Thinking…' }, log);
      const answer = await answerer.answer({
        message: { ...message, text },
        history: fitted.messages,
        budget,
        signal,
        ...(policy.persona ? { persona: policy.persona } : {}),
        progress: (event) => this.emit(turnSink, event, log),
      });
      // Model tokens are counted by the providers, per call (summaries included); adding the answer's usage here would count them twice.
      const completed: Answer = { ...answer, notices: [...notices, ...answer.notices] };
      await tracker.settle();
      let next = withAssistantMessage(fitted.state, userMessage.id, completed, this.options.now());
      // Only one call's figure next to what that call added can correct the counts; `usage` sums every call of the answer.
      if (answer.promptTokens) next = compactor.correctFromUsage(next, fitted, answer.promptTokens);
      // Stored with the answer still in flight, posted, then marked done: a process that dies while a
      // slow platform takes the post leaves the answer for the next one to post (see recoverOrphanedTurns).
      next = { ...next, inFlight: state.inFlight ? { ...state.inFlight, answer: completed } : undefined };
      const finished = next;
      await this.rideOutMemoryOutage(async () => {
        await lock.assertHeld();
        await store.save(finished);
      }, log, (error) => new AnswerDeferredError(error));
      await this.emit(turnSink, { type: 'answer-completed', answer: completed }, log);
      await this.finishInFlight(next, lock, log);
      log.info({ answerId: completed.id, mode: completed.mode, sources: completed.sources.length, compaction: fitted.kind }, 'turn answered');
      return { kind: 'answered', answer: completed };
    } catch (error) {
      // "Cancelled" says nothing to the user; why the turn was cancelled (timeout, shutdown, lost lock) does.
      const failure = signal.aborted && (!(error instanceof BotError) || isCancellation(error)) ? abortReason(signal, this.options.turnTimeoutMs) : error;
      await tracker.settle();
      // The model refused a request our counts said would fit: counts it confirmed earlier are wrong
      // (another model, an odd report), and keeping them would refuse every later turn the same way.
      // A deferred answer stays in flight on purpose: recovery answers the saved question.
      if (!(failure instanceof AnswerDeferredError)) await this.markFailed(isContextOverflow(failure) ? withoutConfirmedCounts(state) : state, userMessage.id, lock, log);
      throw failure;
    }
  }

  /**
   * Loads the thread for `message`'s turn. An in-flight record of another message found there belongs
   * to a turn that is provably not running (this turn holds the lock): its answer could not be saved
   * (AnswerDeferredError) or its process stopped. That turn is finished first, in its own reply, so
   * its record is not written over and the thread keeps its order.
   */
  private async loadFinishingOrphan(message: IncomingMessage, lock: ThreadLock, log: Logger): Promise<LoadedThread> {
    const { store } = this.options;
    const loaded = await store.load(message.threadKey);
    const orphan = loaded.state?.inFlight;
    if (!loaded.state || !orphan || orphan.messageId === message.messageId) return loaded;
    const recoveryLog = log.child({ recovery: true });
    const sinkFor = this.recoverySinks.get(orphan.platform);
    if (sinkFor) {
      await this.finishOrphan(message.threadKey, loaded.state, orphan, sinkFor, lock, recoveryLog);
    } else {
      // No recovery sweep of that platform ran in this process, so nothing here can post its reply.
      recoveryLog.error({ messageId: orphan.messageId, platform: orphan.platform }, 'a turn left in flight cannot be finished here; its message is marked unanswered');
      await this.markFailed(loaded.state, orphan.messageId, lock, recoveryLog);
    }
    const reloaded = await store.load(message.threadKey);
    const left = reloaded.state?.inFlight;
    if (left && left.messageId !== message.messageId) {
      // Still unanswered (its answer deferred again, say): the record is all that keeps that message.
      if (!left.answer) throw new EarlierTurnUnfinishedError(message.threadKey, left.messageId);
      // Answered, posted and in the history: only clearing the record failed.
      recoveryLog.warn({ messageId: left.messageId }, 'could not clear the in-flight record of a turn finished ahead of this one; writing over it');
    }
    return reloaded;
  }

  /**
   * Runs `save` (idempotent) until the conversation memory takes it, for up to `answerSaveGraceMs` (or
   * until the engine closes). Only unreachable-memory failures are retried; a lost lock or anything
   * else is final at once. Gives up with `giveUp(lastError)` (by default the error itself).
   */
  private async rideOutMemoryOutage(save: () => Promise<void>, log: Logger, giveUp: (error: unknown) => unknown = (error) => error): Promise<void> {
    // Real time, not `now`: this waits for a real server.
    const deadline = Date.now() + this.options.answerSaveGraceMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await save();
        if (attempt > 1) log.info({ attempts: attempt }, 'conversation memory is back; the write went through');
        return;
      } catch (error) {
        if (!MEMORY_UNREACHABLE.has(errorCodeOf(error))) throw error;
        const delayMs = Math.min(250 * 2 ** (attempt - 1), 2_000);
        if (this.closing || Date.now() + delayMs > deadline) throw giveUp(error);
        if (attempt === 1) log.warn({ err: describeError(error) }, 'conversation memory unreachable during a write; retrying');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** Clears the in-flight record of a turn whose answer is stored and posted. */
  private async finishInFlight(state: ThreadState, lock: ThreadLock, log: Logger): Promise<void> {
    try {
      // Ridden out like the turn's other writes: a record left behind has a later sweep post the answer again.
      await this.rideOutMemoryOutage(async () => {
        await lock.assertHeld();
        await this.options.store.save({ ...state, inFlight: undefined });
        await this.options.coordinator.clearInFlight(state.threadKey);
      }, log);
    } catch (error) {
      // The answer is stored and posted; a leftover record only makes a later sweep post it once more at worst.
      log.warn({ err: describeError(error) }, 'could not clear the in-flight record of an answered turn');
    }
  }

  /** Records that the user's message got no answer, so it is never silently dropped. */
  private async markFailed(state: ThreadState, userMessageId: string, lock: ThreadLock, log: Logger): Promise<void> {
    try {
      // A turn that lost its lock must not write: the thread (this message included) now belongs to another turn.
      await lock.assertHeld();
      await this.options.store.save(withUnansweredMessage(state, userMessageId, this.options.now()));
      await this.options.coordinator.clearInFlight(state.threadKey);
    } catch (error) {
      log.error({ err: describeError(error) }, 'could not mark the unanswered message as failed');
    }
  }

  /** A sink that fails (platform down) must not fail the turn: the answer is already stored. */
  private async emit(sink: ReplySink, event: ReplyEvent, log: Logger): Promise<void> {
    try {
      await sink.emit(event);
    } catch (error) {
      log.warn({ event: event.type, err: describeError(error) }, 'reply sink failed');
    }
  }
}

/** Error codes of the thread store and coordinator when Redis does not answer (see src/redis/connection.ts, src/history/thread-store.ts). */
const MEMORY_UNREACHABLE: ReadonlySet<string> = new Set(['redis_unavailable', 'store_unavailable']);

function abortReason(signal: AbortSignal, timeoutMs: number): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof BotError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return new TurnTimeoutError(timeoutMs);
  return reason;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** A fresh answer id. */
export function newAnswerId(): string {
  return randomUUID();
}
