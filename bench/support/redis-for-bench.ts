import { redisServerBinary, startRedisServer, canConnect, type TestRedis } from '../../test/support/redis-server.js';

/** A Redis for a benchmark: our own server on a free port when the binary exists, else REDIS_URL. */
export async function redisForBench(): Promise<TestRedis> {
  const binary = redisServerBinary();
  if (binary) return startRedisServer(binary);
  const url = process.env.REDIS_URL;
  if (url && (await canConnect(url))) return { url, stop: async () => {} };
  throw new Error('Benchmarks need Redis: install redis-server (apt-get install -y redis-server) or set REDIS_URL.');
}

/** Median, p95, p99 and mean of a list of numbers. */
export function summarise(values: number[]): { median: number; p95: number; p99: number; mean: number; count: number } {
  const sorted = [...values].sort((left, right) => left - right);
  const at = (quantile: number) => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? Number.NaN;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return { median: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), mean: round(mean), count: sorted.length };
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
