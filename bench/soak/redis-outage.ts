/**
 * "Redis restarted mid-soak": a Redis of the soak's own with append-only persistence (as production
 * runs it, so the restart keeps every acknowledged write), stopped and started again on the same port
 * and data while the bots are busy. The harness asks it whether an event went out during the outage,
 * and waits on it before a user sends again the message they were told could not be taken.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { startPersistentRedis, type PersistentRedis } from '../../test/support/persistent-redis.js';

/** The soak's Redis: fsync once a second, as most deployments do; a SIGTERM shutdown flushes the rest, so nothing acknowledged is lost. */
export function startRestartableRedis(): Promise<PersistentRedis> {
  return startPersistentRedis({ appendfsync: 'everysec', neededBy: 'SOAK_REDIS_RESTART (or run with SOAK_REDIS_RESTART=0 and REDIS_URL)' });
}

export interface RedisOutageOptions {
  redis: PersistentRedis;
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
