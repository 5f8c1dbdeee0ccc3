import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../redis-server.js';
import { createOutputWaiter } from './output-waiter.js';
import { afterEach } from 'vitest';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Longest a bot may take from spawn to answering `/healthz` (tsx compiles on the fly; 2 cores). */
const START_TIMEOUT_MS = 60_000;
/**
 * Bound for one test that spawns bot processes: a few seconds on an idle machine, but three processes
 * compiling TypeScript at once on two cores shared with other work can take half a minute just to start.
 */
export const PROCESS_TEST_TIMEOUT_MS = 150_000;
/** How long a test waits for something a bot process does (a post, a log line): generous, as it only bounds a failure. */
export const PROCESS_WAIT_MS = 30_000;

/** How a bot process ended. */
export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One parsed JSON log line from the bot's stderr. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A real bot process (`node --import tsx src/main.ts`), its output captured line by line. */
export interface BotProcess {
  readonly name: string;
  readonly pid: number;
  /** `http://127.0.0.1:{PORT}`: health, metrics and the platforms' HTTP endpoints. */
  readonly baseUrl: string;
  /** Every stderr line so far, raw (what an operator's log collector would receive). */
  readonly stderrLines: string[];
  readonly stdout: () => string;
  /** The stderr lines that are JSON log records. */
  logs(): LogLine[];
  /** Resolves with the first log record matching `predicate`; fails naming `what` if the process exits or time runs out. */
  waitForLog(what: string, predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Like `waitForLog`, until `count` records match. */
  waitForLogs(what: string, predicate: (line: LogLine) => boolean, count: number, timeoutMs?: number): Promise<LogLine[]>;
  signal(signal: NodeJS.Signals): void;
  /** Settles when the process has exited. */
  readonly exited: Promise<BotExit>;
  readonly hasExited: () => boolean;
}

export interface StartBotOptions {
  name: string;
  /** The process environment (nothing is inherited but PATH and HOME, so a developer's .env or keys never leak in). */
  env: Record<string, string>;
  /** Defaults to a free loopback port. */
  port?: number;
}

const running = new Set<BotProcess>();
// Should the test worker itself go away (a crash, a hard timeout), its bots go with it.
process.once('exit', () => {
  for (const bot of running) bot.signal('SIGKILL');
});

/**
 * Spawns the bot the way `npm start` does, on its own PORT, and resolves once `/healthz` answers.
 * Every process started here is tracked so `stopAllBotProcesses` can kill it even after a failed assertion.
 */
export async function startBotProcess(options: StartBotOptions): Promise<BotProcess> {
  const port = options.port ?? (await freePort());
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPOSITORY_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env, PORT: String(port) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderrLines: string[] = [];
  let partial = '';
  let stdout = '';
  const output = createOutputWaiter();
  child.stderr.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    stderrLines.push(...lines.filter((line) => line.length > 0));
    output.changed();
  });
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  let exitedAlready = false;
  const exited = new Promise<BotExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedAlready = true;
      if (partial) stderrLines.push(partial);
      partial = '';
      resolve({ code, signal });
      output.changed();
    });
  });
  const logs = () => stderrLines.flatMap((line) => parseLogLine(line));
  const bot: BotProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    baseUrl: `http://127.0.0.1:${port}`,
    stderrLines,
    stdout: () => stdout,
    logs,
    waitForLogs: (what, predicate, count, timeoutMs = PROCESS_WAIT_MS) =>
      output.until(
        () => {
          const found = logs().filter(predicate);
          return found.length >= count ? found : undefined;
        },
        {
          timeoutMs,
          hasExited: () => exitedAlready,
          exitedError: () => new Error(`${options.name} exited before logging ${what}`),
          timedOutError: () => new Error(`${options.name} did not log ${what} within ${timeoutMs} ms`),
        },
      ),
    waitForLog: (what, predicate, timeoutMs) => bot.waitForLogs(what, predicate, 1, timeoutMs).then((found) => found[0]!),
    signal: (signal) => {
      if (!exitedAlready) child.kill(signal);
    },
    exited,
    hasExited: () => exitedAlready,
  };
  running.add(bot);
  void exited.then(() => running.delete(bot));
  child.stdin.end();
  try {
    await untilHealthy(bot);
  } catch (error) {
    bot.signal('SIGKILL');
    await exited;
    throw error;
  }
  return bot;
}

/** Kills (SIGKILL) every bot process still running and waits for each to exit: for afterEach/afterAll. */
export async function stopAllBotProcesses(): Promise<void> {
  const left = [...running];
  for (const bot of left) bot.signal('SIGKILL');
  await Promise.all(left.map((bot) => bot.exited));
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`, reported as a failure by the caller's assertions). */
export async function terminate(bot: BotProcess, timeoutMs = 20_000): Promise<BotExit> {
  bot.signal('SIGTERM');
  const timer = setTimeout(() => bot.signal('SIGKILL'), timeoutMs);
  try {
    return await bot.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function untilHealthy(bot: BotProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (bot.hasExited()) break;
    const status = await fetch(`${bot.baseUrl}/healthz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await delay(50);
  }
  const tail = bot.stderrLines.slice(-10).join('\n');
  throw new Error(`${bot.name} did not become healthy (${bot.hasExited() ? 'it exited' : 'timed out'}); last log lines:\n${tail}`);
}

function parseLogLine(line: string): LogLine[] {
  if (!line.startsWith('{')) return [];
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === 'object' ? [parsed as LogLine] : [];
  } catch {
    return [];
  }
}

/** What the engine logs when it finishes a turn that a stopped process left in flight. */
export const RECOVERED_TURN_LOG = 'finishing a turn left in flight by a process that stopped or could not save its answer';
/** What the engine logs when it answers a message that was waiting for its thread when its process stopped. */
export const RECOVERED_WAITING_MESSAGE_LOG = 'answering a message whose process stopped while it waited for its thread';

/**
 * Registers the after-each clean-up every process test needs: kill the bots it started, then run
 * the clean-ups it pushed (fakes, Redis keys), newest first. Returns the list to push them on.
 */
export function cleanUpAfterEachTest(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await stopAllBotProcesses();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
