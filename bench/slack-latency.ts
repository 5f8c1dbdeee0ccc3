/**
 * Slack adapter latency against the fake Slack Web API with a zero-latency model: from the moment an
 * `app_mention` is sent to (a) Slack's acknowledgement, (b) the first visible update (assistant status,
 * placeholder or stream start) and (c) the final message carrying the answer and its buttons.
 * Scenarios side by side in one run: HTTP Events API with the status API (the default path), HTTP with
 * the status API refused (placeholder + chat.update), HTTP on a Redis-backed engine, and Socket Mode.
 * Prints JSON (milliseconds): median, p99, mean per scenario.
 *
 * Run: npx tsx bench/slack-latency.ts
 */
import { performance } from 'node:perf_hooks';
import { HttpServer } from '../src/http/http-server.js';
import { silentLogger } from '../src/observability/logger.js';
import { createSlackAdapter, type SlackAdapter, type SlackEventReport } from '../adapters/slack/index.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../test/support/engine-fixture.js';
import { FakeSlackApi, type RecordedCall } from '../test/fakes/slack/fake-slack-api.js';
import { deliverEvent, envelopeFrom } from '../test/fakes/slack/slack-events.js';
import { redisForBench, summarise, round } from './support/redis-for-bench.js';

const ITERATIONS = 200;
const WARM_UP = 20;
const IDS = {
  botToken: 'xoxb-bench-0000000000-bench-token',
  appToken: 'xapp-1-bench-0000000000-bench-app-token',
  signingSecret: 'bench-signing-secret-0a1b2c3d',
  teamId: 'T0TEAM0001',
  botUserId: 'U0BOTUSER1',
  botId: 'B0BOTID001',
};
const FIRST_VISIBLE = new Set(['assistant.threads.setStatus', 'chat.postMessage', 'chat.startStream']);

interface Scenario {
  name: string;
  mode: 'http' | 'socket';
  statusApi: boolean;
  redis: boolean;
}

interface Samples {
  ack: number[];
  firstVisible: number[];
  final: number[];
}

const SCENARIOS: Scenario[] = [
  { name: 'http, status API', mode: 'http', statusApi: true, redis: false },
  { name: 'http, placeholder + chat.update', mode: 'http', statusApi: false, redis: false },
  { name: 'http, status API, engine on Redis', mode: 'http', statusApi: true, redis: true },
  { name: 'socket mode, status API', mode: 'socket', statusApi: true, redis: false },
];

function hasButtons(call: RecordedCall): boolean {
  return Array.isArray(call.params.blocks) && (call.params.blocks as Array<{ type?: string }>).some((block) => block.type === 'actions');
}

async function runScenario(scenario: Scenario, redisUrl: string | undefined): Promise<Samples> {
  const fake = await FakeSlackApi.start({ ...IDS });
  if (!scenario.statusApi) fake.disableMethod('assistant.threads.setStatus', 'method_not_supported_for_channel_type');
  const answerer = scriptedAnswerer([
    {
      text: 'Open Settings → Security and choose Reset password. The link in the email expires after 10 minutes.',
      deltas: ['Open Settings → Security ', 'and choose Reset password.'],
      sources: [{ docId: 'kb-17', title: 'Reset your password', url: 'https://kb.example.com/reset', snippet: '' }],
      citations: [{ after: 'Reset password.', source: 1 }],
    },
  ]);
  const engine: TestEngine = await createTestEngine({ answerer, redisUrl });
  const http = new HttpServer();
  let onReport: ((report: SlackEventReport) => void) | undefined;
  const adapter: SlackAdapter = createSlackAdapter({
    botToken: IDS.botToken,
    ...(scenario.mode === 'socket' ? { appToken: IDS.appToken } : { signingSecret: IDS.signingSecret }),
    apiUrl: fake.apiUrl,
    requireMention: false,
    answerBots: false,
    engine: engine.engine,
    http,
    logger: silentLogger(),
    botUserId: IDS.botUserId,
    botId: IDS.botId,
    onEventProcessed: (report) => onReport?.(report),
  });
  const port = await http.listen(0, '127.0.0.1');
  await adapter.start();
  if (scenario.mode === 'socket') await fake.socketMode.waitForConnection();
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;

  const samples: Samples = { ack: [], firstVisible: [], final: [] };
  for (let iteration = 0; iteration < WARM_UP + ITERATIONS; iteration += 1) {
    const ts = `${1763800000 + iteration}.000100`;
    const envelope = envelopeFrom('app-mention', { ts, eventId: `Ev0BENCH${iteration}` });
    const callsBefore = fake.calls.length;
    const processed = new Promise<SlackEventReport>((resolve) => (onReport = resolve));
    const sentAt = performance.now();
    if (scenario.mode === 'socket') await fake.socketMode.sendEvent(envelope);
    else await deliverEvent(eventsUrl, IDS.signingSecret, envelope);
    const ackAt = performance.now();
    const report = await processed;
    if (report.result !== 'answered') throw new Error(`event not answered: ${JSON.stringify(report)}`);
    const calls = fake.calls.slice(callsBefore);
    const first = calls.find((call) => FIRST_VISIBLE.has(call.method));
    const final = calls.filter(hasButtons).at(-1);
    if (!first || !final) throw new Error(`missing Slack calls: ${calls.map((call) => call.method).join(', ')}`);
    if (iteration < WARM_UP) continue;
    samples.ack.push(ackAt - sentAt);
    samples.firstVisible.push(first.at - sentAt);
    samples.final.push(final.at - sentAt);
  }

  await adapter.stop();
  await http.close();
  await engine.close();
  await fake.close();
  return samples;
}

const redis = await redisForBench();
try {
  const results: Record<string, unknown> = {};
  for (const scenario of SCENARIOS) {
    const samples = await runScenario(scenario, scenario.redis ? redis.url : undefined);
    results[scenario.name] = {
      ackMs: summarise(samples.ack),
      firstVisibleMs: summarise(samples.firstVisible),
      finalMessageMs: summarise(samples.final),
    };
  }
  const baseline = results['http, status API'] as { finalMessageMs: { median: number } };
  const placeholder = results['http, placeholder + chat.update'] as { finalMessageMs: { median: number } };
  console.log(
    JSON.stringify(
      {
        bench: 'slack-latency',
        iterations: ITERATIONS,
        model: 'zero-latency scripted answerer',
        scenarios: results,
        placeholderToStatusFinalRatio: round(placeholder.finalMessageMs.median / baseline.finalMessageMs.median, 2),
      },
      null,
      2,
    ),
  );
} finally {
  await redis.stop();
}
