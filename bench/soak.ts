/**
 * Soak: two real bot processes (`src/main.ts`, configured by environment variables only) sharing
 * one real Redis, answering SOAK_THREADS threads of SOAK_TURNS turns each on Discord (`/ask` HTTP
 * interactions, Ed25519-signed), Slack (Events API, signed with the signing secret) or both (every
 * other thread on Slack), against a fake CLOVA Studio (RAG Reasoning + reranker, fixed latency per
 * call) and the fake platform APIs behind proxies that see every call. Turns within a thread go one
 * after the other, alternating between the processes; threads run concurrently up to SOAK_CONCURRENCY;
 * every SOAK_DUPLICATE_EVERY-th event is delivered to both processes. With SOAK_REDIS_RESTART (the
 * default) Redis is stopped and started again once half the turns were sent: whoever is told their
 * message could not be taken sends it again, as the line asks. Bounded by SOAK_DEADLINE_SECONDS.
 * Prints JSON figures (see bench/README.md for each one) and exits non-zero when a turn was lost or
 * answered twice, a stored thread is inconsistent, or a user got a failure other than the outage line.
 *
 * Run: npx tsx bench/soak.ts              (default size)
 *      SOAK_THREADS=1000 SOAK_TURNS=20 SOAK_DEADLINE_SECONDS=1500 npx tsx bench/soak.ts   (the full run)
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../test/support/redis-server.js';
import { redisForBench, summarise, round } from './support/redis-for-bench.js';
import { readSoakSettings, soakQuestion, soakTag } from './soak/settings.js';
import { startTimedClova } from './soak/timed-clova.js';
import { startBotProcess, parseMetrics, metricSum, type BotProcess, type MetricSample } from './soak/bot-process.js';
import type { SoakConversation, SoakDriver } from './soak/conversation.js';
import { startPlatformBed, type PlatformBed } from './soak/platform-beds.js';
import { addCalls, callsBetween, commandCalls, connectRedis, verifyHistories, type ExpectedThread } from './soak/redis-checks.js';
import { RedisOutage, startRestartableRedis } from './soak/redis-outage.js';
import { isDuplicated, outcomeOf, type SoakPlatform, type TurnRecord } from './soak/turn-record.js';
import { stageBreakdown } from './soak/turn-stages.js';

/** Times a user sends again a message they were told could not be taken. */
const MAX_RESENDS = 3;

const settings = readSoakSettings();
const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const platforms: SoakPlatform[] = settings.SOAK_PLATFORM === 'both' ? ['discord', 'slack'] : [settings.SOAK_PLATFORM];

const restartable = settings.SOAK_REDIS_RESTART ? await startRestartableRedis() : undefined;
const redis = restartable ?? (await redisForBench());
const keyPrefix = `soak-${randomUUID().slice(0, 8)}`;
const clova = await startTimedClova(settings.SOAK_MODEL_LATENCY_MS);
const beds: PlatformBed[] = [];
const redisClient = await connectRedis(redis.url);

const bots: BotProcess[] = [];
try {
  for (const platform of platforms) {
    beds.push(await startPlatformBed(platform, { platformLatencyMs: settings.SOAK_PLATFORM_LATENCY_MS, turnTimeoutMs: settings.SOAK_TURN_TIMEOUT_SECONDS * 1000 }));
  }
  const ports = [await freePort(), await freePort()];
  log(`starting two bot processes for ${platforms.join(' and ')} (logs in ${tmpdir()}/soak-bot-*.log)`);
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
            ...Object.assign({}, ...beds.map((bed) => bed.env)),
          },
        }),
      ),
    )),
  );
  const drivers: SoakDriver[] = beds.map((bed) => bed.driver(bots.map((bot) => bot.url)));

  const metricsAtStart = await Promise.all(bots.map(async (bot) => parseMetrics(await bot.scrape())));
  const commandsAtStart = await commandCalls(redisClient);
  let commandsBeforeOutage: Map<string, number> | undefined;
  let commandsAfterOutage = new Map<string, number>();
  const outage = restartable
    ? new RedisOutage({
        redis: restartable,
        downMs: settings.SOAK_REDIS_DOWN_SECONDS * 1000,
        botsReady: async () => (await Promise.all(bots.map((bot) => fetch(`${bot.url}/readyz`).then((response) => response.ok, () => false)))).every(Boolean),
        // INFO commandstats starts again from zero with the server: count what came before separately.
        beforeStop: async () => void (commandsBeforeOutage = await commandCalls(redisClient)),
        afterStart: async () => void (commandsAfterOutage = await commandCalls(redisClient)),
        log,
      })
    : undefined;
  const requestsAtStart = new Map(beds.map((bed) => [bed.platform, bed.requests]));
  const records: TurnRecord[] = [];
  const threads: Array<{ driver: SoakDriver; conversation: SoakConversation; records: TurnRecord[] }> = [];
  const plannedTurns = settings.SOAK_THREADS * settings.SOAK_TURNS;
  const outageAfterEvents = Math.max(1, Math.floor(plannedTurns / 2));
  const started = performance.now();
  const harnessCpuAtStart = process.cpuUsage();
  const deadline = started + settings.SOAK_DEADLINE_SECONDS * 1000;
  let stoppedByDeadline = false;
  let nextThread = 0;
  let eventsSent = 0;
  const progress = setInterval(() => log(`${records.length} events in ${round((performance.now() - started) / 1000, 0)} s`), 10_000);

  const runThread = async (thread: number) => {
    const driver = drivers[thread % drivers.length] as SoakDriver;
    const conversation = driver.conversation();
    const own: TurnRecord[] = [];
    threads.push({ driver, conversation, records: own });
    turns: for (let turn = 0; turn < settings.SOAK_TURNS; turn += 1) {
      for (let attempt = 0; ; attempt += 1) {
        if (performance.now() > deadline) {
          stoppedByDeadline = true;
          break turns;
        }
        const tag = soakTag(thread, turn, attempt);
        eventsSent += 1;
        if (eventsSent >= outageAfterEvents) outage?.begin();
        const record = await conversation.ask({
          thread,
          turn,
          attempt,
          tag,
          question: soakQuestion(tag, thread, turn),
          duplicate: eventsSent % settings.SOAK_DUPLICATE_EVERY === 0,
          sentDuringOutage: outage?.underway ?? false,
        });
        record.modelCalls = clova.takeCalls(tag);
        records.push(record);
        own.push(record);
        const outcome = outcomeOf(record);
        if (outcome === 'answered') break;
        if (outcome !== 'told-not-taken' || attempt >= MAX_RESENDS) break turns;
        // "Please send it again in a minute": the user does, once the bot can take it (a second, here).
        await outage?.over();
        await delay(1_000);
      }
      if (turn === 0 && !conversation.threadKey()) break;
    }
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
  // An outage planned for a run cut short by the deadline still has to finish before anything is read.
  await outage?.over();
  // A second answer to the same event would arrive after the first; give it time to show.
  await delay(2_000);
  const commandsAtEnd = await commandCalls(redisClient);
  const metricsAtEnd = await Promise.all(bots.map(async (bot) => parseMetrics(await bot.scrape())));

  const expected: ExpectedThread[] = [];
  const visibleProblems: string[] = [];
  let visibleChecked = 0;
  let visibleInconsistent = 0;
  for (const { driver, conversation, records: own } of threads) {
    const threadKey = conversation.threadKey();
    if (!threadKey) continue;
    expected.push({
      threadKey,
      turns: own.filter((record) => outcomeOf(record) === 'answered').map((record) => ({ messageId: record.messageId, text: record.question, tag: record.tag })),
      unanswered: own.filter((record) => outcomeOf(record) !== 'answered').map((record) => ({ messageId: record.messageId, tag: record.tag })),
    });
    if (!driver.visibleThreadProblem) continue;
    visibleChecked += 1;
    const problem = driver.visibleThreadProblem(threadKey, own);
    if (!problem) continue;
    visibleInconsistent += 1;
    if (visibleProblems.length < 10) visibleProblems.push(`${threadKey}: ${problem}`);
  }
  if (settings.SOAK_RECORDS_FILE) {
    writeFileSync(settings.SOAK_RECORDS_FILE, records.map((record) => JSON.stringify({ ...record, outcome: outcomeOf(record), modelCalls: record.modelCalls.length })).join('\n') + '\n');
  }
  log(`verifying ${expected.length} stored threads`);
  const history = await verifyHistories(redisClient, keyPrefix, expected);

  const answered = records.filter((record) => outcomeOf(record) === 'answered');
  const redisCommands =
    commandsBeforeOutage === undefined
      ? callsBetween(commandsAtStart, commandsAtEnd)
      : addCalls(callsBetween(commandsAtStart, commandsBeforeOutage), callsBetween(commandsAfterOutage, commandsAtEnd));
  const counts = outcomeCounts(records);
  const visibleThreads = { threadsChecked: visibleChecked, threadsConsistent: visibleChecked - visibleInconsistent, problems: visibleProblems };
  const report = {
    benchmark: 'soak',
    platforms: platforms.map((platform) =>
      platform === 'discord' ? 'discord: HTTP interactions, Ed25519-signed, alternating between the processes' : 'slack: Events API over HTTP, signed, alternating between the processes',
    ),
    settings,
    plannedTurns,
    eventsSent: records.length,
    completedTurns: answered.length,
    stoppedByDeadline,
    elapsedSeconds: round(elapsedSeconds, 1),
    turnsPerSecond: round(answered.length / elapsedSeconds, 1),
    // Latencies of first sends; what sending again after the outage took is under redisRestart.
    ...latencyFigures(records.filter((record) => record.attempt === 0)),
    byPlatform: Object.fromEntries(
      beds.map((bed) => {
        const own = records.filter((record) => record.platform === bed.platform);
        const answeredHere = own.filter((record) => outcomeOf(record) === 'answered').length;
        const requests = bed.requests - (requestsAtStart.get(bed.platform) ?? 0);
        return [
          bed.platform,
          {
            completedTurns: answeredHere,
            outcomes: outcomeCounts(own),
            apiRequestsPerTurn: round(requests / Math.max(1, answeredHere), 2),
            apiRequestsPerSecondPerProcess: round(requests / elapsedSeconds / bots.length, 1),
            duplicateDeliveries: duplicateFigures(bed.platform, own, metricsAtStart, metricsAtEnd),
            ...latencyFigures(own.filter((record) => record.attempt === 0)),
          },
        ];
      }),
    ),
    engineTurnSecondsFromMetrics: bots.map((bot, index) => ({
      process: bot.name,
      meanSeconds: round(
        (metricSum(metricsAtEnd[index] ?? [], 'threadline_turn_seconds_sum') - metricSum(metricsAtStart[index] ?? [], 'threadline_turn_seconds_sum')) /
          Math.max(1, metricSum(metricsAtEnd[index] ?? [], 'threadline_turn_seconds_count') - metricSum(metricsAtStart[index] ?? [], 'threadline_turn_seconds_count')),
        4,
      ),
    })),
    redisCommandsPerTurn: perTurn(redisCommands, answered.length),
    processes: bots.map((bot, index) => processFigures(bot, metricsAtStart[index] ?? [], metricsAtEnd[index] ?? [], elapsedSeconds)),
    // The harness (fake CLOVA, fake platforms, proxies, signing) shares the machine with the bots and Redis.
    harnessCpuShareOfOneCore: round((harnessCpu.user + harnessCpu.system) / 1e6 / elapsedSeconds, 2),
    machine: { cores: availableParallelism(), loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) },
    outcomes: counts,
    redisRestart: outage ? outageFigures(outage, started, records) : 'off (SOAK_REDIS_RESTART=0)',
    lost: counts.lost,
    duplicated: counts.duplicated,
    failed: counts.failed,
    answersToTheWrongTurn: records.filter((record) => record.answerTags.some((tag) => tag !== record.tag)).length,
    unattributedAnswers: drivers.reduce((sum, driver) => sum + (driver.unattributedAnswers ?? 0), 0),
    storedHistory: history,
    visibleThreads,
    untaggedModelCalls: clova.untagged,
  };
  // A message not yet stored when Redis went away is rightly refused; one whose model call had started was stored,
  // so refusing it then drops an answer in progress (and recovery may answer it after the user sent it again).
  const droppedMidAnswer = records.filter((record) => record.outageLines > 0 && record.modelCalls.length > 0).length;
  const problems = [
    report.lost > 0 && `${report.lost} events got neither an answer nor a failure line`,
    droppedMidAnswer > 0 && `${droppedMidAnswer} events were told their message could not be taken after the model had been asked (an answer in progress was dropped)`,
    report.duplicated > 0 && `${report.duplicated} events were answered twice (or answered after a failure line)`,
    report.failed > 0 && `${report.failed} events got a failure line other than "could not take your message"`,
    report.answersToTheWrongTurn > 0 && `${report.answersToTheWrongTurn} replies carried another turn's answer`,
    report.unattributedAnswers > 0 && `${report.unattributedAnswers} answers belonged to no turn the harness sent`,
    history.problems.length > 0 && `${history.threadsChecked - history.threadsConsistent} stored threads are inconsistent`,
    visibleInconsistent > 0 && `${visibleInconsistent} threads show other replies than their turns got`,
  ].filter((problem): problem is string => typeof problem === 'string');
  console.log(JSON.stringify({ ...report, verdict: { passed: problems.length === 0, problems } }, null, 2));
  if (problems.length > 0) process.exitCode = 1;
} finally {
  for (const bot of bots) {
    const code = await bot.stop();
    if (code !== 0) log(`${bot.name} exited with ${code}`);
  }
  await redisClient.close().catch(() => {});
  for (const bed of beds) await bed.close();
  await clova.close();
  if (restartable) await restartable.close();
  else await redis.stop();
}

/** Redis commands per answered turn: all of them, and the most frequent ones by name. */
function perTurn(calls: Map<string, number>, turns: number) {
  const total = [...calls.values()].reduce((sum, count) => sum + count, 0);
  const busiest = [...calls].filter(([command]) => command !== 'info').sort((left, right) => right[1] - left[1]).slice(0, 8);
  return { total: round(total / Math.max(1, turns), 1), byCommand: Object.fromEntries(busiest.map(([command, count]) => [command, round(count / Math.max(1, turns), 1)])) };
}

/** What the Redis restart did to the events around it. */
function outageFigures(outage: RedisOutage, origin: number, records: TurnRecord[]) {
  // Counted by what the user was told, even where an answer followed later (that is counted as duplicated).
  const toldNotTaken = records.filter((record) => record.outageLines > 0);
  const resentAndAnswered = records.filter((record) => record.attempt > 0 && outcomeOf(record) === 'answered');
  return {
    ...outage.figures(origin),
    eventsSentDuringOutage: records.filter((record) => record.sentDuringOutage).length,
    toldNotTaken: {
      sentDuringOutage: toldNotTaken.filter((record) => record.sentDuringOutage).length,
      inFlightWhenRedisStopped: toldNotTaken.filter((record) => !record.sentDuringOutage).length,
    },
    answeredAfterSendingAgain: resentAndAnswered.length,
    // Ready while Redis was away longer than the engine waits (answerSaveGraceMs), answered later by crash recovery.
    toldAnswerWillFollow: records.filter((record) => record.deferredLines > 0).length,
    sentAgainToFinalMs: summarise(defined(resentAndAnswered.map((record) => minus(record.finalAt, record.sentAt)))),
  };
}

/** Latency figures of the answered turns among `records`. */
function latencyFigures(records: TurnRecord[]) {
  const answered = records.filter((record) => outcomeOf(record) === 'answered');
  const perTurn = stageBreakdown(records);
  return {
    eventToAcknowledgementMs: summarise(defined(records.map((record) => minus(record.acknowledgedAt, record.sentAt)))),
    eventToFirstUpdateMs: summarise(defined(answered.map((record) => minus(record.firstUpdateAt, record.sentAt)))),
    eventToFinalMs: summarise(defined(answered.map((record) => minus(record.finalAt, record.sentAt)))),
    modelTimePerTurnMs: summarise(perTurn.modelMs),
    engineOverheadPerTurnMs: summarise(perTurn.overheadMs),
    stagesPerTurnMs: perTurn.stages,
    slowestStage: perTurn.slowestStage,
  };
}

function outcomeCounts(records: TurnRecord[]) {
  const count = (outcome: ReturnType<typeof outcomeOf>) => records.filter((record) => outcomeOf(record) === outcome).length;
  return {
    answered: count('answered'),
    toldNotTaken: count('told-not-taken'),
    failed: count('failed'),
    lost: count('lost'),
    duplicated: records.filter(isDuplicated).length,
    // Dedupe lives in Redis: during the outage two deliveries of one event can each be told it was not taken.
    toldNotTakenTwice: records.filter((record) => record.outageLines > 1).length,
  };
}

/** Events delivered to both processes, and how many second deliveries the processes turned away. */
function duplicateFigures(platform: SoakPlatform, records: TurnRecord[], start: MetricSample[][], end: MetricSample[][]) {
  const sent = records.filter((record) => record.deliveredTo.length > 1);
  if (platform === 'discord') {
    // The second process answers "already being handled" (type 4) in its HTTP response.
    return { sent: sent.length, refusedAsAlreadyHandled: sent.filter((record) => record.refusedAsAlreadyHandled > 0).length };
  }
  // Slack acknowledges every delivery before looking at it; the engine's verdict shows in the metrics.
  const duplicates = (samples: MetricSample[][]) => samples.reduce((sum, process) => sum + metricSum(process, 'threadline_turns_total', { platform: 'slack', outcome: 'duplicate' }), 0);
  return {
    sent: sent.length,
    asMessageTwin: sent.filter((record) => record.duplicateKind === 'message-twin').length,
    asRetry: sent.filter((record) => record.duplicateKind === 'retry').length,
    refusedAsDuplicate: duplicates(end) - duplicates(start),
  };
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
    rateLimitWaits: { discord: metricSum(end, 'threadline_rate_limit_waits_total', { upstream: 'discord' }), slack: metricSum(end, 'threadline_rate_limit_waits_total', { upstream: 'slack' }) },
    errors,
  };
}

function minus(later: number | undefined, earlier: number): number | undefined {
  return later === undefined ? undefined : later - earlier;
}

function defined(values: Array<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined);
}
