import type { ThreadState } from '../history/thread-state.js';
import type { ReplySink } from './types.js';

/**
 * Sinks may post after `emit` has returned (a preview or a native stream started by a timer), so
 * the handle is also sampled this often while the turn runs: a model that stalls right after the
 * first post must not leave that post unknown to the process that takes over.
 */
const HANDLE_POLL_MS = 250;

/** The wrapped sink, and `settle` to stop recording before the turn's final save. */
export interface ReplyHandleTracker {
  sink: ReplySink;
  /** Stops sampling and waits for a handle save in progress, so it cannot land after the final state. */
  settle(): Promise<void>;
}

/**
 * Wraps the adapter's sink so that, as soon as the reply exists on the platform (a placeholder was
 * posted), its handle is saved with the in-flight record: a process that takes over after a crash
 * can then finish that very message instead of leaving "Thinking…" forever.
 */
export function trackReplyHandle(sink: ReplySink, current: () => ThreadState, saveWithHandle: (state: ThreadState) => Promise<void>): ReplyHandleTracker {
  if (!sink.replyHandle) return { sink, settle: async () => {} };
  let saved = JSON.stringify(current().inFlight?.replyHandle ?? null);
  let settled = false;
  let pending: Promise<void> = Promise.resolve();
  const record = async () => {
    if (settled) return;
    const handle = sink.replyHandle?.();
    const serialised = JSON.stringify(handle ?? null);
    const state = current();
    if (!handle || serialised === saved || !state.inFlight) return;
    saved = serialised;
    await saveWithHandle({ ...state, inFlight: { ...state.inFlight, replyHandle: handle } });
  };
  // One save at a time, in order: a later handle must never be overwritten by an earlier one. A failed
  // save is the caller's to report (saveWithHandle); it must not stop later ones.
  const enqueue = () => (pending = pending.then(record).catch(() => {}));
  const timer = setInterval(() => void enqueue(), HANDLE_POLL_MS);
  timer.unref();
  return {
    sink: {
      emit: async (event) => {
        await sink.emit(event);
        // The final events are emitted after the turn's last save; recording a handle then would write
        // the in-flight state back over the finished one.
        if (event.type === 'answer-completed' || event.type === 'turn-failed') return;
        await enqueue();
      },
      replyHandle: () => sink.replyHandle?.(),
    },
    settle: async () => {
      settled = true;
      clearInterval(timer);
      await pending;
    },
  };
}
