/**
 * Discord adapter latency against the fake Discord REST API with a zero-latency model: time from the
 * interaction reaching the adapter to its deferral (the 3-second budget) and to the final message
 * (the PATCH carrying the answer and its buttons). Gateway mode on the in-memory engine and on Redis
 * (the dedupe claim costs a round trip), and HTTP-interactions mode, side by side in one run.
 * Prints JSON (milliseconds): median, p99, mean per scenario. Interactions are sent back to back, so
 * the tail shows @discordjs/rest's own 50 requests/s global queue (each /ask makes four REST calls).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createTestEngine, scriptedAnswerer } from '../test/support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordProcess, type DiscordTestBed } from '../test/fakes/discord/discord-test-bed.js';
import { slashCommandPayload } from '../test/fakes/discord/payloads.js';
import { nextSnowflake } from '../test/fakes/discord/snowflakes.js';
import { redisForBench, summarise, round } from './support/redis-for-bench.js';

const ITERATIONS = 150;
const WARM_UP = 10;
const user = { id: nextSnowflake(), username: 'bench' };

interface Samples {
  deferral: number[];
  final: number[];
}

function answerText(): string {
  return 'Rotate the key under Settings → API keys, then update the secret in your deployment.';
}

/** The moment the fake received the final edit of this interaction's original response. */
function finalEditArrival(bed: DiscordTestBed, token: string): number | undefined {
  return bed.fake.requests.find(
    (request) => request.method === 'PATCH' && request.path.includes(`/${token}/messages/@original`) && ((request.body as { components?: unknown[] }).components?.length ?? 0) > 0,
  )?.arrivedAt;
}

async function gatewayScenario(redisUrl: string | undefined): Promise<Samples> {
  const fixture = await createTestEngine({ answerer: scriptedAnswerer([{ text: answerText(), sources: [] }]), ...(redisUrl ? { redisUrl } : {}) });
  const bed = await createDiscordTestBed();
  const process: DiscordProcess = await bed.startProcess(fixture.engine);
  const samples: Samples = { deferral: [], final: [] };
  try {
    for (let index = 0; index < ITERATIONS + WARM_UP; index += 1) {
      const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: `How do I rotate key ${index}?` });
      bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
      const received = performance.now();
      process.injector.interactionCreate(ask);
      await waitFor('final edit', () => finalEditArrival(bed, ask.token) !== undefined, 10_000);
      const deferred = bed.fake.requests.find((request) => request.path === `/interactions/${ask.id}/${ask.token}/callback`)?.arrivedAt ?? Number.NaN;
      if (index < WARM_UP) continue;
      samples.deferral.push(deferred - received);
      samples.final.push((finalEditArrival(bed, ask.token) ?? Number.NaN) - received);
    }
  } finally {
    await bed.close();
    await fixture.close();
  }
  return samples;
}

async function httpScenario(): Promise<Samples> {
  const fixture = await createTestEngine({ answerer: scriptedAnswerer([{ text: answerText(), sources: [] }]) });
  const pair = generateKeyPairSync('ed25519');
  const publicKey = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const bed = await createDiscordTestBed();
  const process = await bed.startProcess(fixture.engine, { publicKey });
  const port = await process.http.listen(0, '127.0.0.1');
  const samples: Samples = { deferral: [], final: [] };
  try {
    for (let index = 0; index < ITERATIONS + WARM_UP; index += 1) {
      const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: `How do I rotate key ${index}?` });
      bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
      const body = JSON.stringify(ask);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = sign(null, Buffer.from(timestamp + body), pair.privateKey).toString('hex');
      const received = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/discord/interactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
        body,
      });
      const acknowledgement = (await response.json()) as { type: number };
      const deferred = performance.now();
      bed.fake.acknowledgeFromHttpResponse(ask.token, acknowledgement);
      await waitFor('final edit', () => finalEditArrival(bed, ask.token) !== undefined, 10_000);
      if (index < WARM_UP) continue;
      samples.deferral.push(deferred - received);
      samples.final.push((finalEditArrival(bed, ask.token) ?? Number.NaN) - received);
    }
  } finally {
    await bed.close();
    await fixture.close();
  }
  return samples;
}

function report(samples: Samples) {
  return { toDeferralMs: summarise(samples.deferral), toFinalMessageMs: summarise(samples.final) };
}

async function main(): Promise<void> {
  const redis = await redisForBench();
  try {
    const memory = report(await gatewayScenario(undefined));
    const onRedis = report(await gatewayScenario(redis.url));
    const http = report(await httpScenario());
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'discord-latency',
          iterations: ITERATIONS,
          model: 'zero-latency scripted answerer',
          note: 'gateway: from INTERACTION_CREATE dispatch to the callback/final PATCH arriving at the fake; http: from sending the signed request (signature check included) to the HTTP response / final PATCH. Back-to-back /asks (4 REST calls each) exceed discord.js REST 50 req/s global budget, which queues a few calls to the next second: that is the p99 tail.',
          gatewayMemory: memory,
          gatewayRedis: onRedis,
          httpInteractionsMemory: http,
          redisOverMemoryFinalMedianRatio: round(onRedis.toFinalMessageMs.median / memory.toFinalMessageMs.median, 2),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await redis.stop();
  }
}

await main();
