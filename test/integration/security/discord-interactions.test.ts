import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createDiscordTestBed, waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

/** A request as Discord signs it (Ed25519 over timestamp + body), kept so the very same bytes can be sent again. */
interface SignedInteraction {
  body: string;
  headers: Record<string, string>;
}

function signInteraction(payload: unknown, privateKey: KeyObject): SignedInteraction {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + body), privateKey).toString('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp } };
}

async function send(url: string, request: SignedInteraction): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, body: await response.text() };
}

describe('discord interactions endpoint under attack', () => {
  let bed: DiscordTestBed;
  let testEngine: TestEngine;
  let endpoint: string;
  let privateKey: KeyObject;
  const answerer = scriptedAnswerer([{ text: 'The API is up.', delayMs: 30 }]);
  const user = { id: nextSnowflake(), username: 'eve' };

  beforeEach(async () => {
    answerer.requests.length = 0;
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey;
    const publicKey = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
    testEngine = await createTestEngine({ answerer });
    bed = await createDiscordTestBed();
    const process = await bed.startProcess(testEngine.engine, { publicKey });
    endpoint = `http://127.0.0.1:${await process.http.listen(0, '127.0.0.1')}/discord/interactions`;
  });
  afterEach(async () => {
    await bed.close();
    await testEngine.close();
  });

  it('answers a replayed signed /ask once, however often the same bytes arrive', async () => {
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'Is the API down?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    const captured = signInteraction(ask, privateKey);

    const first = await send(endpoint, captured);
    expect(first.status).toBe(200);
    bed.fake.acknowledgeFromHttpResponse(ask.token, JSON.parse(first.body) as { type: number });
    const replays = await Promise.all([send(endpoint, captured), send(endpoint, captured)]);
    await waitFor('the answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    const late = await send(endpoint, captured);

    // A replay is authentic, so it is not refused; it is recognised and never starts a second turn.
    for (const replay of [...replays, late]) {
      expect(replay.status).toBe(200);
      expect(JSON.parse(replay.body)).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    }
    expect(answerer.requests).toHaveLength(1);
    expect(bed.fake.threads.size).toBe(1);
    expect(bed.fake.originalResponse(ask.token)?.content).toBe('The API is up.');
  });

  it('refuses a valid signature presented with another timestamp (the timestamp is part of what is signed)', async () => {
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'Is the API down?' });
    const genuine = signInteraction(ask, privateKey);
    const timestamp = Number(genuine.headers['x-signature-timestamp']);
    for (const moved of [timestamp + 1, timestamp - 3600]) {
      expect((await send(endpoint, { ...genuine, headers: { ...genuine.headers, 'x-signature-timestamp': String(moved) } })).status).toBe(401);
    }
    expect(bed.fake.requests).toEqual([]);
    expect(answerer.requests).toEqual([]);
  });
});
