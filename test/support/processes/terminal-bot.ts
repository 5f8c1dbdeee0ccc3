import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PROCESS_WAIT_MS, type BotExit } from './bot-process.js';
import { createOutputWaiter } from './output-waiter.js';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** A terminal size to start with: a pseudo-terminal opened by `script` has zero columns until told otherwise. */
const COLUMNS = 100;
const ROWS = 40;

/** The bot's console chat (`npm start` with no platform configured) on a pseudo-terminal, as a person runs it. */
export interface TerminalBot {
  /** Everything the terminal received so far, escape sequences included. */
  readonly raw: () => string;
  /** What a person reads: `raw` without escape sequences and carriage returns. */
  readonly screenText: () => string;
  /** Types `line` and presses Enter. */
  type(line: string): void;
  /** Resolves once `screenText` satisfies `predicate`; fails naming `what` if the bot exits or time runs out. */
  waitForScreen(what: string, predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<BotExit>;
  kill(): void;
}

/**
 * Starts `src/main.ts` under util-linux `script`, which gives it a real pseudo-terminal: stdin and
 * stdout are TTYs, so the console runs in its interactive mode (prompts, live streamed text) exactly
 * as for a person. No native pty module needed; `script` ships with every Linux distribution.
 */
export function startTerminalBot(env: Record<string, string>): TerminalBot {
  if (spawnSync('script', ['--version']).status !== 0) {
    throw new Error('This test runs the console on a pseudo-terminal through util-linux `script`: install util-linux (`apt-get install -y util-linux`).');
  }
  const command = `stty cols ${COLUMNS} rows ${ROWS} && exec ${shellQuote(process.execPath)} --import tsx src/main.ts`;
  // -q: no "Script started" banner; -e: exit with the bot's code; -f: flush every write; /dev/null: keep no typescript file.
  const child: ChildProcessWithoutNullStreams = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: REPOSITORY_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SHELL: '/bin/sh', TERM: 'xterm-256color', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  const output = createOutputWaiter();
  // The bot's stdout and stderr share the terminal; script's own stderr only carries its failures.
  child.stdout.on('data', (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    output.changed();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    output.changed();
  });
  let hasExited = false;
  const exited = new Promise<BotExit>((resolve) => {
    child.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
      output.changed();
    });
  });
  const screenText = () => withoutEscapes(raw);
  return {
    raw: () => raw,
    screenText,
    type(line) {
      // Enter on a terminal in raw mode (readline's) is a carriage return.
      child.stdin.write(`${line}\r`);
    },
    waitForScreen: (what, predicate, timeoutMs = PROCESS_WAIT_MS) =>
      output.until(
        () => {
          const text = screenText();
          return predicate(text) ? text : undefined;
        },
        {
          timeoutMs,
          hasExited: () => hasExited,
          exitedError: () => new Error(`the bot exited before showing ${what}; the terminal showed:\n${screenText()}`),
          timedOutError: () => new Error(`the bot did not show ${what} within ${timeoutMs} ms; the terminal showed:\n${screenText()}`),
        },
      ),
    exited,
    kill() {
      // Closing the pseudo-terminal hangs up the bot inside it too.
      if (!hasExited) child.kill('SIGKILL');
    },
  };
}

/** Removes CSI/OSC escape sequences and carriage returns, leaving the characters a person reads. */
export function withoutEscapes(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-_]/g, '').replace(/\r/g, '');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
