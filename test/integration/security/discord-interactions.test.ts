import type { KeyObject } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { sendInteraction, signInteraction, startInteractionsEndpoint, type InteractionsEndpoint } from '../../support/discord-http-interactions.js';
import { waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

describe('discord interactions endpoint under attack', () => {
  let served: InteractionsEndpoint;
  let bed: DiscordTestBed;
  let endpoint: string;
  let privateKey: KeyObject;
  const answerer = scriptedAnswerer([{ text: 'The API is up.', delayMs: 30 }]);
  const user = { id: nextSnowflake(), username: 'eve' };

  beforeEach(async () => {
    answerer.requests.length = 0;
    served = await startInteractionsEndpoint(answerer);
    ({ bed, url: endpoint, privateKey } = served);
  });
  afterEach(() => served.close());

  it('answers a replayed signed /ask once, however often the same bytes arrive', async () => {
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'Is the API down?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });
    const captured = signInteraction(ask, privateKey);

    const first = await sendInteraction(endpoint, captured);
    expect(first.status).toBe(200);
    bed.fake.acknowledgeFromHttpResponse(ask.token, JSON.parse(first.text) as { type: number });
    const replays = await Promise.all([sendInteraction(endpoint, captured), sendInteraction(endpoint, captured)]);
    await waitFor('the answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);
    const late = await sendInteraction(endpoint, captured);

    // A replay is authentic, so it is not refused; it is recognised and never starts a second turn.
    for (const replay of [...replays, late]) {
      expect(replay.status).toBe(200);
      expect(JSON.parse(replay.text)).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
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
      expect((await sendInteraction(endpoint, { ...genuine, headers: { ...genuine.headers, 'x-signature-timestamp': String(moved) } })).status).toBe(401);
    }
    expect(bed.fake.requests).toEqual([]);
    expect(answerer.requests).toEqual([]);
  });
});
