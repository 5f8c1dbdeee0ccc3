import { AsyncLocalStorage } from 'node:async_hooks';

/** What identifies one turn in every log line written while it runs, whichever module writes it. */
export interface TurnContext {
  eventId: string;
  threadKey: string;
  platform: string;
}

const storage = new AsyncLocalStorage<TurnContext>();

/** Runs `work` with `context` attached to every log line it causes (provider calls included). */
export function runInTurnContext<T>(context: TurnContext, work: () => Promise<T>): Promise<T> {
  return storage.run(context, work);
}

/** The running turn's context, if any. */
export function currentTurnContext(): TurnContext | undefined {
  return storage.getStore();
}
