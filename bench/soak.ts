/**
 * Soak: two real bot processes (`src/main.ts`, configured by environment variables only) sharing
 * one real Redis, answering Discord `/ask` interactions over HTTP for SOAK_THREADS threads of
 * SOAK_TURNS turns each, against a fake CLOVA Studio (RAG Reasoning + reranker, fixed latency per
 * call) and a fake Discord REST behind a proxy that watches every edit. Turns within a thread go
 * one after the other, alternating between the processes; threads run concurrently up to
 * SOAK_CONCURRENCY; every SOAK_DUPLICATE_EVERY-th interaction is delivered to both processes.
 * Bounded by SOAK_DEADLINE_SECONDS. Prints JSON figures; see bench/README.md for each one.
 *
 * Run: npx tsx bench/soak.ts              (default size)
 *      SOAK_THREADS=1000 SOAK_TURNS=20 SOAK_DEADLINE_SECONDS=900 npx tsx bench/soak.ts   (the full run)
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakeDiscordServer } from '../test/fakes/discord/fake-discord-server.js';
import { BOT_TOKEN } from '../test/fakes/discord/discord-test-bed.js';
import { nextSnowflake } from '../test/fakes/discord/snowflakes.js';
import { freePort } from '../test/support/redis-server.js';
import { startInterposingProxy, type InterposedExchange } from '../test/integration/faults/support/interposing-proxy.js';
import { redisForBench, summarise, round } from './support/redis-for-bench.js';
import { readSoakSettings, soakQuestion } from './soak/settings.js';
import { startTimedClova } from './soak/timed-clova.js';
import { startBotProcess, parseMetrics, metricSum, type BotProcess, type MetricSample } from './soak/bot-process.js';
import { DiscordSoakDriver, type TurnRecord } from './soak/discord-driver.js';
import { connectRedis, commandsExecuted, verifyHistories, type ExpectedThread } from './soak/redis-checks.js';
import { stageBreakdown } from './soak/turn-stages.js';

const settings = readSoakSettings();
const log = (line: string) => process.stderr.write(`soak: ${line}\n`);

const redis = await redisForBench();
const keyPrefix = `soak-${randomUUID().slice(0, 8)}`;
const clova = await startTimedClova(settings.SOAK_MODEL_LATENCY_MS);
const applicationId = nextSnowflake();
const guildId = nextSnowflake();
const channelId = nextSnowflake();
const fake = new FakeDiscordServer(applicationId, BOT_TOKEN);
const fakeApiUrl = await fake.start();
// The fake records every request for tests; the proxy already shows the soak what it needs.
const forgetDiscordRequests = setInterval(() => fake.requests.splice(0), 1_000);
let observe: (exchange: InterposedExchange) => void = () => {};
let discordRequests = 0;
const proxy = await startInterposingProxy({
  target: new URL(fakeApiUrl).origin,
  latencyMs: settings.SOAK_PLATFORM_LATENCY_MS,
  onExchange: (exchange) => {
    discordRequests += 1;
    observe(exchange);
  },
});
const keys = generateKeyPairSync('ed25519');
const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
const redisClient = await connectRedis(redis.url);

const bots: BotProcess[] = [];
try {
  const ports = [await freePort(), await freePort()];
  log(`starting two bot processes (logs in ${tmpdir()}/soak-bot-*.log)`);
  bots.push(
    ...(await Promise.all(
      ports.map((port, index) =>
        startBotProcess({
          name: `bot-${index + 1}`,
          port,
          logFile: join(tmpdir(), `soak-bot-${index + 1}.log`),
          env: {
            LOG_LEVEL: 'warn',
            LLM_PROVIDER: 'clova',
            CLOVA_STUDIO_API_KEY: clova.apiKey,
            CLOVA_STUDIO_BASE_URL: clova.url,
            REDIS_URL: redis.url,
            REDIS_KEY_PREFIX: keyPrefix,
            DISCORD_TOKEN: BOT_TOKEN,
            DISCORD_APPLICATION_ID: applicationId,
            DISCORD_PUBLIC_KEY: publicKey,
            DISCORD_API_URL: `${proxy.url}/api`,
            DISCORD_GATEWAY: 'false',
          },
        }),
      ),
    )),
  );
  const driver = new DiscordSoakDriver({
    fake,
    endpoints: bots.map((bot) => `${bot.url}/discord/interactions`),
    privateKey: keys.privateKey,
    applicationId,
    guildId,
    channelId,
    user: { id: nextSnowflake(), username: 'soak' },
    platformLatencyMs: settings.SOAK_PLATFORM_LATENCY_MS,
    turnTimeoutMs: settings.SOAK_TURN_TIMEOUT_SECONDS * 1000,
  });
  observe = driver.observe;

  const metricsAtStart = await Promise.all(bots.map(async (bot) => parseMetrics(await bot.scrape())));
  const commandsAtStart = await commandsExecuted(redisClient);
  const discordRequestsAtStart = discordRequests;
  const records: TurnRecord[] = [];
  const expected: ExpectedThread[] = [];
  const started = performance.now();
  const harnessCpuAtStart = process.cpuUsage();
  const deadline = started + settings.SOAK_DEADLINE_SECONDS * 1000;
  let stoppedByDeadline = false;
  let nextThread = 0;
  let turnCounter = 0;
  const progress = setInterval(() => log(`${records.length} turns in ${round((performance.now() - started) / 1000, 0)} s`), 10_000);

  const runThread = async (thread: number) => {
    let threadChannelId: string | undefined;
    const answered: ExpectedThread['turns'] = [];
    for (let turn = 0; turn < settings.SOAK_TURNS; turn += 1) {
      if (performance.now() > deadline) {
        stoppedByDeadline = true;
        break;
      }
      const tag = `${thread}.${turn}`;
      const question = soakQuestion(thread, turn);
      turnCounter += 1;
      const duplicate = turnCounter % settings.SOAK_DUPLICATE_EVERY === 0;
      const record = await driver.runTurn({ thread, turn, tag, question, duplicate, ...(threadChannelId ? { threadChannelId } : {}) });
      record.modelCalls = clova.takeCalls(tag);
      records.push(record);
      if (record.finalAnswers === 0) break;
      answered.push({ messageId: record.interactionId, text: question });
      if (turn === 0) {
        threadChannelId = driver.threadOpenedBy(record);
        if (!threadChannelId) break;
      }
    }
    if (threadChannelId) expected.push({ threadKey: `discord:${guildId}:${threadChannelId}`, turns: answered });
  };
  await Promise.all(
    Array.from({ length: Math.min(settings.SOAK_CONCURRENCY, settings.SOAK_THREADS) }, async () => {
      while (nextThread < settings.SOAK_THREADS && performance.now() <= deadline) await runThread(nextThread++);
    }),
  );
  if (nextThread < settings.SOAK_THREADS) stoppedByDeadline = true;
  const elapsedSeconds = (performance.now() - started) / 1000;
  const harnessCpu = process.cpuUsage(harnessCpuAtStart);
  clearInterval(progress);
  // A second answer to the same interaction would arrive after the first; give it time to show.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const commandsAtEnd = await commandsExecuted(redisClient);
  const metricsAtEnd = await Promise.all(bots.map(async (bot) => parseMetrics(await bot.scrape())));
  log(`verifying ${expected.length} stored threads`);
  const history = await verifyHistories(redisClient, keyPrefix, expected);

  const answered = records.filter((record) => record.finalAnswers > 0);
  const perTurn = stageBreakdown(records);
  const duplicateDeliveries = records.filter((record) => record.deliveredTo.length > 1);
  const report = {
    benchmark: 'soak',
    platform: 'discord, HTTP interactions (signed, load-balanced across the two processes)',
    settings,
    plannedTurns: settings.SOAK_THREADS * settings.SOAK_TURNS,
    completedTurns: answered.length,
    stoppedByDeadline,
    elapsedSeconds: round(elapsedSeconds, 1),
    turnsPerSecond: round(answered.length / elapsedSeconds, 1),
    eventToAcknowledgementMs: summarise(defined(records.map((record) => minus(record.acknowledgedAt, record.sentAt)))),
    eventToFirstUpdateMs: summarise(defined(records.map((record) => minus(record.firstUpdateAt, record.sentAt)))),
    eventToFinalMs: summarise(defined(answered.map((record) => minus(record.finalAt, record.sentAt)))),
    modelTimePerTurnMs: summarise(perTurn.modelMs),
    engineOverheadPerTurnMs: summarise(perTurn.overheadMs),
    stagesPerTurnMs: perTurn.stages,
    slowestStage: perTurn.slowestStage,
    engineTurnSecondsFromMetrics: bots.map((bot, index) => ({
      process: bot.name,
      meanSeconds: round(
        (metricSum(metricsAtEnd[index] ?? [], 'threadline_turn_seconds_sum') - metricSum(metricsAtStart[index] ?? [], 'threadline_turn_seconds_sum')) /
          Math.max(1, metricSum(metricsAtEnd[index] ?? [], 'threadline_turn_seconds_count') - metricSum(metricsAtStart[index] ?? [], 'threadline_turn_seconds_count')),
        4,
      ),
    })),
    redisCommandsPerTurn: round((commandsAtEnd - commandsAtStart) / Math.max(1, answered.length), 1),
    discordRequestsPerTurn: round((discordRequests - discordRequestsAtStart) / Math.max(1, answered.length), 2),
    discordRequestsPerSecondPerProcess: round((discordRequests - discordRequestsAtStart) / elapsedSeconds / bots.length, 1),
    processes: bots.map((bot, index) => processFigures(bot, metricsAtStart[index] ?? [], metricsAtEnd[index] ?? [], elapsedSeconds)),
    // The harness (fake CLOVA, fake Discord, proxy, signing) shares the machine with the bots and Redis.
    harnessCpuShareOfOneCore: round((harnessCpu.user + harnessCpu.system) / 1e6 / elapsedSeconds, 2),
    machine: { cores: availableParallelism(), loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) },
    lost: records.filter((record) => record.finalAnswers === 0 && record.failureLines === 0).length,
    duplicated: records.filter((record) => record.finalAnswers > 1 || record.responseTypes.filter((type) => type === 5).length > 1).length,
    failed: records.filter((record) => record.failureLines > 0).length,
    duplicateDeliveries: {
      sent: duplicateDeliveries.length,
      refusedAsAlreadyHandled: duplicateDeliveries.filter((record) => record.responseTypes.includes(4)).length,
    },
    storedHistory: history,
    untaggedModelCalls: clova.untagged,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  clearInterval(forgetDiscordRequests);
  for (const bot of bots) {
    const code = await bot.stop();
    if (code !== 0) log(`${bot.name} exited with ${code}`);
  }
  await redisClient.close();
  await proxy.close();
  await fake.stop();
  await clova.close();
  await redis.stop();
}

function processFigures(bot: BotProcess, start: MetricSample[], end: MetricSample[], elapsedSeconds: number) {
  const megabytes = (samples: MetricSample[], name: string) => round(metricSum(samples, name) / 1024 / 1024, 1);
  const errors = Object.fromEntries(
    end.filter((sample) => sample.name === 'threadline_errors_total' && sample.value > 0).map((sample) => [sample.labels.code ?? '?', sample.value]),
  );
  const turns = metricSum(end, 'threadline_turns_total', { outcome: 'answered' }) - metricSum(start, 'threadline_turns_total', { outcome: 'answered' });
  const cpuSeconds = metricSum(end, 'threadline_process_cpu_seconds_total') - metricSum(start, 'threadline_process_cpu_seconds_total');
  return {
    process: bot.name,
    cpuMillisecondsPerTurn: round((cpuSeconds * 1000) / Math.max(1, turns), 2),
    cpuShareOfOneCore: round(cpuSeconds / elapsedSeconds, 2),
    rssStartMB: megabytes(start, 'threadline_process_resident_memory_bytes'),
    rssEndMB: megabytes(end, 'threadline_process_resident_memory_bytes'),
    heapUsedEndMB: megabytes(end, 'threadline_nodejs_heap_size_used_bytes'),
    turnsAnswered: turns,
    turnsFailed: metricSum(end, 'threadline_turns_total', { outcome: 'failed' }),
    discordRateLimitWaits: metricSum(end, 'threadline_rate_limit_waits_total', { upstream: 'discord' }),
    errors,
  };
}

function minus(later: number | undefined, earlier: number): number | undefined {
  return later === undefined ? undefined : later - earlier;
}

function defined(values: Array<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined);
}
