export interface UntilOptions {
  timeoutMs: number;
  hasExited: () => boolean;
  /** The failure once the process has exited without the awaited output. */
  exitedError: () => Error;
  timedOutError: () => Error;
}

/** Waits on the output of a child process as it grows. */
export interface OutputWaiter {
  /** Call on every write and on exit: re-checks whatever is being waited for. */
  changed(): void;
  /** Resolves with the first result of `read` that is not undefined; fails once the process exited or time ran out. */
  until<T>(read: () => T | undefined, options: UntilOptions): Promise<T>;
}

export function createOutputWaiter(): OutputWaiter {
  const listeners = new Set<() => void>();
  return {
    changed() {
      for (const listener of [...listeners]) listener();
    },
    until: (read, options) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = read();
          if (found !== undefined) return finish(() => resolve(found));
          if (options.hasExited()) return finish(() => reject(options.exitedError()));
        };
        const timer = setTimeout(() => finish(() => reject(options.timedOutError())), options.timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      }),
  };
}
