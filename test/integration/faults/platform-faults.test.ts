import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { messagePayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';
import { requireRedisUrl } from '../../support/redis.js';
import type { InterposedRequest } from './support/interposing-proxy.js';
import { createFaultBed, type FaultBed } from './support/fault-bed.js';

const user = { id: nextSnowflake(), username: 'ada' };

/** Fails the first `times` requests that `matches` with `status`, then lets everything through. */
function failFirst(times: number, status: number, matches: (request: InterposedRequest) => boolean) {
  let remaining = times;
  return (request: InterposedRequest) => {
    if (remaining === 0 || !matches(request)) return undefined;
    remaining -= 1;
    return { status, body: { message: status === 502 ? '502: Bad Gateway' : 'Service Unavailable', code: 0 } };
  };
}

const carriesAnswer = (request: InterposedRequest) => ((request.body as { components?: unknown[] } | undefined)?.components?.length ?? 0) > 0;

describe('a whole turn when Discord answers 429 and 5xx', () => {
  let bed: FaultBed | undefined;
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('waits out a 429 on the status edit and retries 502s on the answer edit: the answer shows once, complete', async () => {
    bed = await createFaultBed({
      redisUrl: requireRedisUrl(),
      failDiscord: failFirst(2, 502, (request) => request.method === 'PATCH' && decodeURIComponent(request.path).endsWith('/messages/@original') && carriesAnswer(request)),
    });
    bed.discord.fake.rateLimit('PATCH', /\/messages\/@original$/, 1, 1);
    const turn = await bed.ask('How do I configure Redis for several replicas?');

    expect(turn.reply.content).toMatch(/Redis/);
    expect(turn.reply.components.length).toBeGreaterThan(0);
    const answerEdits = bed.proxy.exchanges.filter((exchange) => exchange.method === 'PATCH' && carriesAnswer(exchange));
    expect(answerEdits.map((exchange) => exchange.status)).toEqual([502, 502, 200]);
    expect(bed.discord.fake.requests.filter((request) => request.method === 'PATCH' && request.status === 429)).toHaveLength(1);
    const state = await bed.stored(turn.threadId);
    expect(state?.messages.map((message) => [message.role, message.status])).toEqual([
      ['user', 'answered'],
      ['assistant', undefined],
    ]);
  });

  it('keeps sending the answer through a burst of 502s longer than the REST client retries, and it shows once', async () => {
    bed = await createFaultBed({
      redisUrl: requireRedisUrl(),
      failDiscord: failFirst(6, 502, (request) => request.method === 'PATCH' && decodeURIComponent(request.path).endsWith('/messages/@original') && carriesAnswer(request)),
    });
    const turn = await bed.ask('How do I configure Redis for several replicas?');

    expect(turn.reply.content).toMatch(/Redis/);
    expect(turn.reply.components.length).toBeGreaterThan(0);
    const answerEdits = bed.proxy.exchanges.filter((exchange) => exchange.method === 'PATCH' && carriesAnswer(exchange));
    expect(answerEdits.map((exchange) => exchange.status)).toEqual([502, 502, 502, 502, 502, 502, 200]);
  });

  it('posts a thread follow-up answer once after 503s and a 429 on the post', async () => {
    let threadId = '';
    const postsInThread = (request: InterposedRequest) => request.method === 'POST' && threadId !== '' && request.path.endsWith(`/channels/${threadId}/messages`);
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), failDiscord: failFirst(2, 503, postsInThread) });
    const first = await bed.ask('How do I configure Redis for several replicas?');
    threadId = first.threadId;
    bed.discord.fake.rateLimit('POST', new RegExp(`/channels/${threadId}/messages$`), 1, 1);

    const followUp = messagePayload({ guildId: bed.discord.guildId, channelId: threadId, channelType: 11, author: user, content: 'And which key prefix should I use?' });
    bed.process.injector.messageCreate(followUp);
    const fake = bed.discord.fake;
    await waitFor('the follow-up answer', () => fake.channelMessages(threadId).some((message) => message.components.length > 0), 15_000);
    // The proxy records an exchange once its response is through, a moment after the fake applied it.
    await waitFor('the proxy to see the accepted post', () => bed?.proxy.exchanges.some((exchange) => postsInThread(exchange) && exchange.status === 200) === true);

    const posted = fake.channelMessages(threadId);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.content).not.toMatch(/^⚠️/);
    expect(bed.proxy.exchanges.filter((exchange) => postsInThread(exchange)).map((exchange) => exchange.status)).toEqual([503, 503, 429, 200]);
    const state = await bed.stored(threadId);
    expect(state?.messages.map((message) => [message.role, message.role === 'user' ? message.content : 'answer', message.status])).toEqual([
      ['user', 'How do I configure Redis for several replicas?', 'answered'],
      ['assistant', 'answer', undefined],
      ['user', 'And which key prefix should I use?', 'answered'],
      ['assistant', 'answer', undefined],
    ]);
  });
});
