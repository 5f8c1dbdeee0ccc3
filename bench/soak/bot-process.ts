/**
 * One bot process of the soak: `src/main.ts` in a child process configured only through
 * environment variables, exactly as an operator would run a replica. Its log goes to a file
 * (LOG_LEVEL=warn) so a failed run can be read afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BotProcess {
  name: string;
  /** Base URL of its HTTP server (interactions, /metrics, /healthz). */
  url: string;
  /** The Prometheus text of `/metrics`. */
  scrape(): Promise<string>;
  /** SIGTERM, then waits for the graceful shutdown; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Whether it exited before `stop` was asked. */
  readonly exitedEarly: boolean;
}

export interface BotProcessOptions {
  name: string;
  port: number;
  /** Variables on top of PATH/HOME (nothing else of the harness's environment leaks in). */
  env: Record<string, string>;
  logFile: string;
  startTimeoutMs?: number;
}

export async function startBotProcess(options: BotProcessOptions): Promise<BotProcess> {
  const log = createWriteStream(options.logFile);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPOSITORY_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...options.env, PORT: String(options.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let stopping = false;
  let exitedEarly = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (!stopping) exitedEarly = true;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exitedEarly) throw new Error(`${options.name} exited during start-up; see ${options.logFile}`);
    const ready = await fetch(`${url}/readyz`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} was not ready in time; see ${options.logFile}`);
    }
    await delay(100);
  }
  return {
    name: options.name,
    url,
    scrape: async () => (await fetch(`${url}/metrics`)).text(),
    async stop() {
      stopping = true;
      child.kill('SIGTERM');
      const code = await Promise.race([exited, delay(20_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return exited;
      }
      log.end();
      return code;
    },
    get exitedEarly() {
      return exitedEarly;
    },
  };
}

/** One sample of a Prometheus text exposition: name, labels and value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the Prometheus text format (comments skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of every sample named `name` whose labels include `where`. */
export function metricSum(samples: MetricSample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(where).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}
