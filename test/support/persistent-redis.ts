/**
 * A Redis of the test's own, with append-only persistence as production runs it, so a restart
 * keeps the data (the shared test Redis runs without persistence and is used by other tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisServerBinary, waitUntilReachable } from './redis-server.js';

export interface PersistentRedis {
  url: string;
  /** Stops the server (SIGTERM: it writes its append-only file and exits). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing is answered, as with a hung server or a blackholed network. */
  pause(): void;
  /** Lets a frozen server run again (SIGCONT). */
  resume(): void;
  /** Stops it for good and removes its data directory. */
  close(): Promise<void>;
}

export interface PersistentRedisOptions {
  /** `always` (default) keeps every acknowledged write across a restart; `everysec` is what most deployments run. */
  appendfsync?: 'always' | 'everysec';
  /** Who needs it, for the error when redis-server is missing. */
  neededBy?: string;
}

export async function startPersistentRedis(options: PersistentRedisOptions = {}): Promise<PersistentRedis> {
  const binary = redisServerBinary();
  if (!binary) throw new Error(`${options.neededBy ?? 'This test restarts Redis, so it'} needs redis-server installed (apt-get install -y redis-server).`);
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'faults-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always', '--save', '', '--protected-mode', 'no'], { stdio: 'ignore' });
    await waitUntilReachable(url, 10_000);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    // A frozen server acts on SIGTERM only once it runs again.
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  // A run that dies must not leave its Redis behind.
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    url,
    stop,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
