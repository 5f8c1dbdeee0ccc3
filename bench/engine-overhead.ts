/**
 * Engine overhead per turn on real Redis, model time excluded (the answerer returns at once):
 * dedupe claim, thread lock, load, persist the user message, compaction, persist the answer, release.
 * Prints JSON: per-turn median/p99 (ms) and turns/s at 1, 100 and 1,000 concurrent threads, with the
 * raw Redis round trip (PING) measured in the same run for scale.
 */
import { performance } from 'node:perf_hooks';
import { createClient } from '@keyv/redis';
import { createTestEngine, incomingMessage, scriptedAnswerer } from '../test/support/engine-fixture.js';
import { createCompactor, createTokenEstimator } from '../src/compaction/index.js';
import { silentLogger } from '../src/observability/logger.js';
import type { ReplySink } from '../src/engine/types.js';
import { redisForBench, summarise, round } from './support/redis-for-bench.js';

const SCENARIOS = [
  { threads: 1, turnsPerThread: 300 },
  { threads: 100, turnsPerThread: 5 },
  { threads: 1000, turnsPerThread: 3 },
];

const discardingSink: ReplySink = { emit: async () => {} };

async function redisRoundTrip(url: string): Promise<ReturnType<typeof summarise>> {
  const client = createClient({ url });
  await client.connect();
  const samples: number[] = [];
  for (let index = 0; index < 2_000; index += 1) {
    const started = performance.now();
    await client.ping();
    samples.push(performance.now() - started);
  }
  await client.close();
  return summarise(samples.slice(200));
}

async function runScenario(url: string, threads: number, turnsPerThread: number) {
  const answerer = scriptedAnswerer([{ text: 'An answer of ordinary length, about as long as a short support reply would be.' }]);
  const compactor = createCompactor({ strategy: 'sliding', estimator: createTokenEstimator(), logger: silentLogger() });
  const fixture = await createTestEngine({ answerer, redisUrl: url, compactor });
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: threads }, async (_, thread) => {
      for (let turn = 0; turn < turnsPerThread; turn += 1) {
        const message = incomingMessage(`bench:T:${thread}`, `Question ${turn} about thread ${thread}: how do I rotate the API key?`);
        const turnStarted = performance.now();
        const outcome = await fixture.engine.handle(message, discardingSink);
        latencies.push(performance.now() - turnStarted);
        if (outcome.kind !== 'answered') throw new Error(`turn not answered: ${JSON.stringify(outcome)}`);
      }
    }),
  );
  const elapsedSeconds = (performance.now() - started) / 1000;
  await fixture.close();
  return { threads, turns: latencies.length, perTurnMs: summarise(latencies), turnsPerSecond: round(latencies.length / elapsedSeconds, 1) };
}

const redis = await redisForBench();
try {
  const before = await redisRoundTrip(redis.url);
  const scenarios = [];
  for (const scenario of SCENARIOS) scenarios.push(await runScenario(redis.url, scenario.threads, scenario.turnsPerThread));
  const after = await redisRoundTrip(redis.url);
  console.log(JSON.stringify({ benchmark: 'engine-overhead', redisPingMs: { before, after }, scenarios }, null, 2));
} finally {
  await redis.stop();
}
