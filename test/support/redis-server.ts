import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@keyv/redis';

/** A Redis for tests: our own `redis-server` on a free loopback port, stopped when the run ends. */
export interface TestRedis {
  url: string;
  /** Stops the server (SIGTERM); only for servers this process started. */
  stop(): Promise<void>;
  /** Starts the same server again on the same port (for outage tests). */
  restart?(): Promise<void>;
  /** Pauses the server with SIGSTOP / resumes it: a Redis that accepts connections but never answers. */
  pause?(): void;
  resume?(): void;
}

export function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts `redis-server` on a free port with persistence off. */
export async function startRedisServer(binary: string): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: 'ignore',
    });
    await waitUntilReachable(`redis://127.0.0.1:${port}`, 10_000);
  };
  await launch();
  const stopChild = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: stopChild,
    restart: async () => {
      await stopChild();
      await launch();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

export async function waitUntilReachable(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (await canConnect(url).catch((error: unknown) => ((lastError = error), false))) return;
    await delay(50);
  }
  throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

export async function canConnect(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) await client.close().catch(() => {});
  }
}

export const NO_REDIS_MESSAGE =
  'These tests need Redis. Install it (`apt-get install -y redis-server`, then the tests start their own on a free port) or set REDIS_URL to a server they may write `test:*` keys to.';
