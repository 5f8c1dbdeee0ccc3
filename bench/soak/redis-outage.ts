/**
 * "Redis restarted mid-soak": a Redis of the soak's own with append-only persistence (as production
 * runs it, so the restart keeps every acknowledged write), stopped and started again on the same port
 * and data while the bots are busy. The harness asks it whether an event went out during the outage,
 * and waits on it before a user sends again the message they were told could not be taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, redisServerBinary, waitUntilReachable } from '../../test/support/redis-server.js';

export interface RestartableRedis {
  url: string;
  /** SIGTERM (Redis writes its append-only file and exits) and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same port and data directory, and wait until it answers. */
  start(): Promise<void>;
  /** Stop for good and remove the data. */
  close(): Promise<void>;
}

/** Starts `redis-server` on a free port with append-only persistence in a fresh directory. */
export async function startRestartableRedis(): Promise<RestartableRedis> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('SOAK_REDIS_RESTART needs redis-server installed (apt-get install -y redis-server); or run with SOAK_REDIS_RESTART=0 and REDIS_URL.');
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'soak-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    // fsync once a second, as most deployments do; a SIGTERM shutdown flushes the rest, so nothing is lost here.
    child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'no'], {
      stdio: 'ignore',
    });
    await waitUntilReachable(url, 10_000);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  // A harness that dies must not leave its Redis behind.
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    url,
    stop,
    start,
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export interface RedisOutageOptions {
  redis: RestartableRedis;
  downMs: number;
  /** Whether every bot process reports ready (its `/readyz` includes Redis). */
  botsReady: () => Promise<boolean>;
  /** Runs just before Redis is stopped and just after it answers again (command counts restart at zero). */
  beforeStop?: () => Promise<void>;
  afterStart?: () => Promise<void>;
  log: (line: string) => void;
}

/** Times of the outage, in seconds from `origin`. */
export interface OutageFigures {
  stoppedAtSeconds: number;
  startedAtSeconds: number;
  /** When every bot process reported ready again. */
  botsReadyAtSeconds: number;
  downSeconds: number;
}

/** One planned Redis outage: `begin()` stops Redis, waits, starts it again and waits for the bots. */
export class RedisOutage {
  private state: 'planned' | 'stopping' | 'down' | 'recovering' | 'over' = 'planned';
  private finished: Promise<void> | undefined;
  private times: { stopped: number; started: number; botsReady: number } | undefined;

  constructor(private readonly options: RedisOutageOptions) {}

  /** Redis was told to stop and is not back, or back but not yet reconnected by every bot: events sent now may not be taken. */
  get underway(): boolean {
    return this.state === 'down' || this.state === 'recovering';
  }

  /** Starts the outage once; later calls do nothing. */
  begin(): void {
    if (this.state !== 'planned') return;
    this.state = 'stopping';
    this.finished = this.run();
  }

  /** Resolves once nothing is down or recovering any more (at once when no outage is under way). */
  async over(): Promise<void> {
    await this.finished;
  }

  figures(origin: number): OutageFigures | undefined {
    if (!this.times) return undefined;
    const seconds = (at: number) => Math.round((at - origin) / 100) / 10;
    return {
      stoppedAtSeconds: seconds(this.times.stopped),
      startedAtSeconds: seconds(this.times.started),
      botsReadyAtSeconds: seconds(this.times.botsReady),
      downSeconds: Math.round((this.times.started - this.times.stopped) / 100) / 10,
    };
  }

  private async run(): Promise<void> {
    const { redis, log } = this.options;
    await this.options.beforeStop?.();
    log('stopping Redis (the outage)');
    // Redis serves commands for up to a cron tick after SIGTERM; the outage starts when it has exited.
    await redis.stop();
    this.state = 'down';
    const stopped = performance.now();
    await delay(this.options.downMs);
    await redis.start();
    const started = performance.now();
    this.state = 'recovering';
    await this.options.afterStart?.();
    while (!(await this.options.botsReady())) await delay(100);
    this.times = { stopped, started, botsReady: performance.now() };
    this.state = 'over';
    log(`Redis back after ${Math.round((started - stopped) / 100) / 10} s; both processes ready again`);
  }
}
