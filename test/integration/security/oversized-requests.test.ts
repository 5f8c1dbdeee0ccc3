import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../../support/close-after-each.js';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { sendInteraction, signInteraction, startInteractionsEndpoint } from '../../support/discord-http-interactions.js';
import { envelopeFrom, slackSignature } from '../../fakes/slack/slack-events.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { SLACK_IDS, startSlackHarness } from '../slack/slack-harness.js';

/**
 * POSTs `size` bytes in chunks and reports the status, tolerating a server that answers and closes
 * the connection before the whole body was sent (which is what refusing early looks like).
 */
function postLarge(url: string, headers: Record<string, string>, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    // A connection of its own (no keep-alive agent), so the refused request leaves nothing open behind it.
    const outgoing = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { ...headers, 'content-length': String(size), connection: 'close' }, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
      // The server will not read the rest; stop sending it.
      outgoing.destroy();
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED'].includes(error.code ?? '') ? undefined : reject(error)));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < size && !outgoing.destroyed) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!outgoing.write(piece)) return void outgoing.once('drain', pump);
      }
      if (!outgoing.destroyed) outgoing.end();
    };
    pump();
  });
}

describe('oversized requests to the public endpoints', () => {
  const closeLater = closeAfterEach();

  it('Slack: a 6 MB body is refused without being processed, and the endpoint keeps working', async () => {
    const answerer = scriptedAnswerer([{ text: 'Still here.' }]);
    const slack = closeLater(await startSlackHarness({ answerer }));
    const status = await postLarge(slack.eventsUrl, { 'content-type': 'application/json', ...slackSignature(SLACK_IDS.signingSecret, 'x') }, 6 * 1024 * 1024);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);

    const body = JSON.stringify(envelopeFrom('app-mention'));
    const response = await fetch(slack.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...slackSignature(SLACK_IDS.signingSecret, body) }, body });
    expect(response.status).toBe(200);
    await slack.waitForReports(1);
    expect(slack.reports).toHaveLength(1);
    expect(answerer.requests).toHaveLength(1);
  });

  it('Discord: a 2 MB body is refused with 413 before any signature work, and the endpoint keeps working', async () => {
    const { bed: discord, url: endpoint, privateKey } = closeLater(await startInteractionsEndpoint(scriptedAnswerer([{ text: 'unused' }])));

    const status = await postLarge(endpoint, { 'content-type': 'application/json', 'x-signature-ed25519': '0'.repeat(128), 'x-signature-timestamp': '1' }, 2 * 1024 * 1024);
    expect(status).toBe(413);

    const ping = { id: nextSnowflake(), application_id: discord.applicationId, type: 1, token: 't', version: 1 };
    expect((await sendInteraction(endpoint, signInteraction(ping, privateKey))).json).toEqual({ type: 1 });
    expect(discord.fake.requests).toEqual([]);
  });
});
