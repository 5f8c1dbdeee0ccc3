import type { KeyObject } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { createInteractionKeys, sendInteraction, signInteraction, startInteractionsEndpoint, type InteractionsEndpoint } from '../../support/discord-http-interactions.js';
import { waitFor, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import { slashCommandPayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const user = { id: nextSnowflake(), username: 'margaret' };

/** Sends `payload` signed like Discord does; `tamper` alters the body after signing, as a forger would. */
async function deliver(url: string, payload: unknown, privateKey: KeyObject, options: { tamper?: boolean } = {}) {
  const signed = signInteraction(payload, privateKey);
  const { status, json } = await sendInteraction(url, options.tamper ? { ...signed, body: signed.body.replace('"type":', '"type" :') } : signed);
  return { status, json: json as { type: number; data?: Record<string, unknown> } | undefined };
}

describe('discord HTTP interactions endpoint', () => {
  let served: InteractionsEndpoint;
  let bed: DiscordTestBed;
  let endpoint: string;
  let privateKey: KeyObject;
  const answerer = scriptedAnswerer([{ text: 'Use the status page.', citations: [{ after: 'page.', source: 1 }], sources: [{ docId: 's', title: 'Status page', url: 'https://status.example.com', snippet: '' }] }]);

  beforeEach(async () => {
    served = await startInteractionsEndpoint(answerer);
    ({ bed, url: endpoint, privateKey } = served);
  });
  afterEach(() => served.close());

  it('answers a signed PING with PONG', async () => {
    expect(await deliver(endpoint, { id: nextSnowflake(), application_id: bed.applicationId, type: 1, token: 't', version: 1 }, privateKey)).toEqual({ status: 200, json: { type: 1 } });
  });

  it('refuses a bad or missing signature with 401 and does nothing', async () => {
    const ping = { id: nextSnowflake(), application_id: bed.applicationId, type: 1, token: 't', version: 1 };
    expect((await deliver(endpoint, ping, privateKey, { tamper: true })).status).toBe(401);
    expect((await deliver(endpoint, ping, createInteractionKeys().privateKey)).status).toBe(401);
    const unsigned = await fetch(endpoint, { method: 'POST', body: JSON.stringify(ping) });
    expect(unsigned.status).toBe(401);
    expect(bed.fake.requests).toEqual([]);
  });

  it('defers /ask in the HTTP response, then edits the answer in over REST and opens a thread', async () => {
    const ask = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'ask', question: 'Is the API down?' });
    bed.fake.registerInteraction({ id: ask.id, token: ask.token, channelId: bed.channelId, guildId: bed.guildId });

    const response = await deliver(endpoint, ask, privateKey);
    expect(response).toEqual({ status: 200, json: { type: 5, data: {} } });
    bed.fake.acknowledgeFromHttpResponse(ask.token, response.json!);
    await waitFor('the final answer', () => (bed.fake.originalResponse(ask.token)?.components.length ?? 0) > 0);

    const original = bed.fake.originalResponse(ask.token)!;
    expect(original.content).toBe('Use the status page.[1]\n\n**Sources**\n[1] [Status page](<https://status.example.com/>)');
    expect(bed.fake.threads.get(original.id)?.name).toBe('Is the API down?');
    // Acknowledged in the HTTP response: no callback request; edits used the interaction token only.
    expect(bed.fake.requests.some((request) => request.path.endsWith('/callback'))).toBe(false);
    expect(bed.fake.requests.filter((request) => request.path.startsWith('/webhooks/')).every((request) => request.auth === 'none')).toBe(true);
  });

  it('answers /help directly in the HTTP response, visible only to the asker', async () => {
    const help = slashCommandPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channel: { id: bed.channelId, type: 0 }, user, name: 'help' });
    const response = await deliver(endpoint, help, privateKey);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(String(response.json?.data?.content)).toContain('/ask question:<text>');
  });
});
