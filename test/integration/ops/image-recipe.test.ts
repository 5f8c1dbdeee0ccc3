import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/config.js';
import { freePort } from '../../support/redis-server.js';
import { createBuildContext, isIgnored, parseDockerignore } from './build-context.js';
import { hostPath, parseDockerfile, replayDockerfile, type Stage } from './dockerfile-recipe.js';

const repository = resolve(import.meta.dirname, '../../..');
const packageJson = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

function devOnlyPackages(lockfile: string): string[] {
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev === true)
    .map(([path]) => path);
}

/** Only what a container has: no tokens, keys or npm_* settings of the test runner leak into the replay. */
const baseEnv: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
  ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
};

const workspace = mkdtempSync(join(tmpdir(), 'threadline-image-'));
// Two stages' node_modules: deleting them takes a while on a busy two-core machine.
afterAll(() => rm(workspace, { recursive: true, force: true }), 120_000);

describe('the image recipe', () => {
  // Docker is not available here, so CI replays the Dockerfile step by step on the host's Node (20; the
  // image runs the current LTS) in a clean copy of the tracked files, then starts the result like a container.
  let context: string;
  let stages: Stage[];
  const runLog: string[] = [];
  beforeAll(async () => {
    context = join(workspace, 'context');
    createBuildContext(repository, context);
    stages = await replayDockerfile({
      dockerfile: join(context, 'Dockerfile'),
      context,
      workspace,
      baseEnv,
      onRun: (stage, command) => runLog.push(`${stage}: ${command}`),
    });
  }, 300_000);

  it('builds from a fresh copy of the tracked files into a non-root image with production dependencies only', () => {
    expect(runLog).toEqual([
      'build: npm ci --no-audit --no-fund',
      'build: npm run build',
      'build: npm prune --omit=dev --no-audit --no-fund',
    ]);
    const image = stages.at(-1)!;
    expect(image.image).toMatch(/^node:(\d*[02468])-slim$/);
    expect(image.user).toBe('node');
    expect(image.command?.join(' ')).toBe(packageJson.scripts['start:prod']);
    expect(image.exposedPorts).toEqual([image.env.PORT]);
    // Dev-only per the lockfile (a dev dependency that a production package also needs, like @types/node, stays).
    const devOnly = devOnlyPackages(join(context, 'package-lock.json'));
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((path) => existsSync(hostPath(image, path)))).toEqual([]);
    expect(existsSync(hostPath(image, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(hostPath(image, 'src/main.ts'))).toBe(false);
    expect(existsSync(hostPath(image, 'test'))).toBe(false);
  });

  it('starts without platform tokens, answers /healthz and the HEALTHCHECK, and exits 0 on SIGTERM', async () => {
    const image = stages.at(-1)!;
    const port = await freePort();
    const env = { PATH: baseEnv.PATH!, ...image.env, PORT: String(port) };
    // stdin open, as `docker run -i` or compose's `stdin_open: true` give it; the closed case is the skipped test below.
    const app = startCommand(image, env, 'pipe');
    try {
      const health = await healthzWithin(app, port, 90_000);
      expect(health).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await exitCodeOf(runHealthcheck(image, env))).toBe(0);
    } finally {
      app.process.kill('SIGTERM');
    }
    expect(await exitCodeWithin(app, 60_000), app.output()).toBe(0);
    // With the process gone, the same HEALTHCHECK must report the container unhealthy.
    expect(await exitCodeOf(runHealthcheck(image, env))).toBe(1);
  }, 180_000);

  // With no platform token the bot runs the console chat; when stdin ends (a detached container has none)
  // a process that was asked for HTTP (PORT) must keep serving until SIGTERM.
  it('keeps serving /healthz with stdin closed, as a detached container without platform tokens does', async () => {
    const image = stages.at(-1)!;
    const port = await freePort();
    const app = startCommand(image, { PATH: baseEnv.PATH!, ...image.env, PORT: String(port) }, 'ignore');
    try {
      expect(await healthzWithin(app, port, 90_000)).toEqual({ status: 200, body: { status: 'ok' } });
    } finally {
      app.process.kill('SIGTERM');
    }
    expect(await exitCodeWithin(app, 60_000), app.output()).toBe(0);
  }, 180_000);

  it('keeps the build context small and the start command where the Dockerfile expects it', () => {
    const rules = parseDockerignore(readFileSync(join(repository, '.dockerignore'), 'utf8'));
    for (const excluded of ['node_modules/zod/package.json', 'dist/src/main.js', '.env', '.env.production', '.git/config', 'npm-debug.log']) {
      expect(isIgnored(excluded, rules), excluded).toBe(true);
    }
    for (const included of ['package.json', 'package-lock.json', '.npmrc', 'src/main.ts', 'src/knowledge/guide/README.md', 'adapters/slack/index.ts']) {
      expect(isIgnored(included, rules), included).toBe(false);
    }
    const keywords = parseDockerfile(readFileSync(join(repository, 'Dockerfile'), 'utf8')).map((instruction) => instruction.keyword);
    expect(keywords.filter((keyword) => keyword === 'FROM')).toHaveLength(2);
    expect(keywords).toContain('HEALTHCHECK');
  });

  it('wires compose to the same image, port and a healthy Redis', () => {
    const compose = parse(readFileSync(join(repository, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { build?: string; environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown }>;
    };
    const bot = compose.services.bot!;
    expect(bot.build).toBe('.');
    expect(bot.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(bot.ports?.[0]).toMatch(new RegExp(`:${bot.environment?.PORT}$`));
    expect(bot.depends_on?.redis?.condition).toBe('service_healthy');
    expect(compose.services.redis?.healthcheck).toBeDefined();
  });
});

interface RunningApp {
  process: ChildProcess;
  output(): string;
}

/** Starts the image's CMD in the final stage's WORKDIR; `stdin` is `ignore` for a detached container, `pipe` for `docker run -i`. */
function startCommand(image: Stage, env: Record<string, string>, stdin: 'ignore' | 'pipe'): RunningApp {
  const [program, ...args] = image.command!;
  const child = spawn(program!, args, { cwd: hostPath(image, image.workdir), env, stdio: [stdin, 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { process: child, output: () => output };
}

function runHealthcheck(image: Stage, env: Record<string, string>): ChildProcess {
  const [program, ...args] = image.healthcheck!.command;
  return spawn(program!, args, { cwd: hostPath(image, image.workdir), env, stdio: 'ignore' });
}

function exitCodeOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Waits for the exit a SIGTERM asked for, as `docker stop` does: past its grace period the process is killed and the test fails. */
async function exitCodeWithin(app: RunningApp, graceMs: number): Promise<number | null> {
  const stopTimer = new AbortController();
  const timer = delay(graceMs, 'grace-period-over' as const, { signal: stopTimer.signal }).catch(() => 'exited' as const);
  const outcome = await Promise.race([exitCodeOf(app.process), timer]);
  stopTimer.abort();
  if (outcome !== 'grace-period-over' && outcome !== 'exited') return outcome;
  app.process.kill('SIGKILL');
  throw new Error(`the app was still running ${graceMs} ms after SIGTERM:\n${app.output()}`);
}

/** Probes like an orchestrator until the app answers, fails if it exits first or the deadline passes. */
async function healthzWithin(app: RunningApp, port: number, deadlineMs: number): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (app.process.exitCode !== null) {
      throw new Error(
        `the app exited with ${app.process.exitCode} before answering /healthz (no platform tokens here; with PORT set it must keep serving):\n${app.output()}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return { status: response.status, body: await response.json() };
    } catch {
      await delay(200);
    }
  }
  throw new Error(`no answer on /healthz within ${deadlineMs} ms:\n${app.output()}`);
}

describe('compose shutdown', () => {
  it('gives the bot\'s shutdown deadline a few seconds before Docker kills it', () => {
    const compose = parse(readFileSync(join(repository, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { stop_grace_period?: string; environment?: Record<string, string> }>;
    };
    const bot = compose.services.bot!;
    // Docker's default grace period is 10 s; compose.yaml must say so when it wants longer.
    const grace = /^(\d+)s$/.exec(bot.stop_grace_period ?? '10s');
    expect(grace, 'stop_grace_period in whole seconds, e.g. 30s').not.toBeNull();
    const deadlineMs = loadConfig({ ...bot.environment }).SHUTDOWN_DEADLINE_MS;
    expect(Number(grace![1]) * 1000 - deadlineMs).toBeGreaterThanOrEqual(3_000);
  });
});
