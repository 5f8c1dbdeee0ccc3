/**
 * Drives `/ask` turns at the bot processes the way Discord's HTTP interactions do (Ed25519-signed
 * POSTs), acknowledges them at the fake Discord as Discord would on receiving the HTTP response,
 * and follows each turn by what the bots send to the platform (seen through the interposing proxy):
 * its first visible update and its final answer (the edit that carries the feedback buttons).
 */
import { sign, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FakeDiscordServer } from '../../test/fakes/discord/fake-discord-server.js';
import { slashCommandPayload } from '../../test/fakes/discord/payloads.js';
import type { InterposedExchange } from '../../test/integration/faults/support/interposing-proxy.js';
import type { Interval } from './timed-clova.js';

/** What happened to one turn, in `performance.now()` milliseconds. */
export interface TurnRecord {
  thread: number;
  turn: number;
  tag: string;
  question: string;
  interactionId: string;
  /** The fake interaction token (the reply's address at the fake Discord). */
  token: string;
  /** Which process(es) the interaction was delivered to. */
  deliveredTo: number[];
  sentAt: number;
  /** The deferral (type 5) came back in the HTTP response. */
  acknowledgedAt?: number;
  /** Interaction response types the processes answered (a second delivery gets type 4, "already handled"). */
  responseTypes: number[];
  firstUpdateAt?: number;
  finalAt?: number;
  /** Edits that carried a final answer (buttons); more than one is a duplicate answer. */
  finalAnswers: number;
  /** Edits that carried a failure line. */
  failureLines: number;
  /** Every edit of this turn's reply: when it reached the platform and when its response was back. */
  edits: Array<[number, number]>;
  modelCalls: Interval[];
}

export interface DiscordDriverOptions {
  fake: FakeDiscordServer;
  /** Interaction endpoints of the bot processes. */
  endpoints: string[];
  privateKey: KeyObject;
  applicationId: string;
  guildId: string;
  channelId: string;
  user: { id: string; username: string };
  /** Added by the proxy before the platform sees a request. */
  platformLatencyMs: number;
  turnTimeoutMs: number;
}

interface Pending {
  record: TurnRecord;
  settle: () => void;
}

export class DiscordSoakDriver {
  private readonly pending = new Map<string, Pending>();
  private deliveries = 0;

  constructor(private readonly options: DiscordDriverOptions) {}

  /** Proxy callback: attributes each edit of an interaction's reply to its turn. */
  observe = (exchange: InterposedExchange): void => {
    // Route parameters arrive percent-encoded (`%40original`).
    const match = /\/webhooks\/\d+\/([^/]+)\/messages\/@original$/.exec(decodeURIComponent(exchange.path));
    if (!match || exchange.method !== 'PATCH' || exchange.status >= 300) return;
    const pending = this.pending.get(match[1] as string);
    if (!pending) return;
    const record = pending.record;
    const at = exchange.arrivedAt + this.options.platformLatencyMs;
    record.edits.push([at, exchange.finishedAt + this.options.platformLatencyMs]);
    record.firstUpdateAt ??= at;
    const body = exchange.body as { content?: string; components?: unknown[] } | undefined;
    if ((body?.components?.length ?? 0) > 0) {
      record.finalAnswers += 1;
      record.finalAt ??= at;
      pending.settle();
    } else if (body?.content?.startsWith('⚠️')) {
      record.failureLines += 1;
      record.finalAt ??= at;
      pending.settle();
    }
  };

  /**
   * Runs one turn to its final answer (or the turn timeout). `threadChannelId` is the Discord thread
   * the conversation lives in; the first turn has none and opens it.
   */
  async runTurn(spec: { thread: number; turn: number; tag: string; question: string; threadChannelId?: string; duplicate: boolean }): Promise<TurnRecord> {
    const { fake, applicationId, guildId, channelId, user } = this.options;
    const channel = spec.threadChannelId ? { id: spec.threadChannelId, type: 11, parentId: channelId } : { id: channelId, type: 0 };
    const ask = slashCommandPayload({ applicationId, guildId, channel, user, name: 'ask', question: spec.question });
    fake.registerInteraction({ id: ask.id, token: ask.token, channelId: channel.id, guildId });
    const first = this.deliveries++ % this.options.endpoints.length;
    const deliveredTo = spec.duplicate ? this.options.endpoints.map((_, index) => (first + index) % this.options.endpoints.length) : [first];
    const record: TurnRecord = {
      thread: spec.thread,
      turn: spec.turn,
      tag: spec.tag,
      question: spec.question,
      interactionId: ask.id,
      token: ask.token,
      deliveredTo,
      sentAt: performance.now(),
      responseTypes: [],
      finalAnswers: 0,
      failureLines: 0,
      edits: [],
      modelCalls: [],
    };
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.pending.set(ask.token, { record, settle });
    const body = JSON.stringify(ask);
    const responses = await Promise.all(deliveredTo.map((index) => this.deliver(this.options.endpoints[index] as string, body)));
    for (const response of responses) {
      if (!response) continue;
      record.responseTypes.push(response.type);
      // Discord takes the first acknowledgement; a second one would be refused, so it is not applied.
      if (response.type === 5 && record.acknowledgedAt === undefined) {
        record.acknowledgedAt = response.at;
        fake.acknowledgeFromHttpResponse(ask.token, response);
      }
    }
    if (record.acknowledgedAt !== undefined) {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.turnTimeoutMs).unref());
      await Promise.race([settled, timeout]);
    }
    // The entry stays: an answer posted twice, however late, is still counted on this record.
    return record;
  }

  /** The Discord thread the first turn's reply opened (the fake names a thread after its starter message). */
  threadOpenedBy(record: TurnRecord): string | undefined {
    const id = this.options.fake.originalResponse(record.token)?.id;
    return id && this.options.fake.threads.has(id) ? id : undefined;
  }

  private async deliver(endpoint: string, body: string): Promise<{ type: number; at: number } | undefined> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign(null, Buffer.from(timestamp + body), this.options.privateKey).toString('hex');
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
        body,
      });
      const at = performance.now();
      if (!response.ok) return undefined;
      const parsed = (await response.json()) as { type: number };
      return { type: parsed.type, at };
    } catch {
      return undefined;
    }
  }
}
