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
import { answeredTagOf } from './settings.js';
import type { SoakConversation, SoakDriver, TurnSpec } from './conversation.js';
import { isDeferredLine, isOutageLine, newTurnRecord, outcomeOf, type TurnRecord } from './turn-record.js';

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

interface InteractionResponse {
  type: number;
  content?: string;
  at: number;
}

export class DiscordSoakDriver implements SoakDriver {
  readonly platform = 'discord' as const;
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
      record.answerTags.push(answeredTagOf(body?.content ?? '') ?? '?');
      record.finalAt ??= at;
      pending.settle();
    } else if (body?.content !== undefined && isDeferredLine(body.content)) {
      record.deferredLines += 1;
    } else if (body?.content?.startsWith('⚠️')) {
      if (isOutageLine(body.content)) record.outageLines += 1;
      else record.failureLines += 1;
      record.finalAt ??= at;
      pending.settle();
    }
  };

  conversation(): SoakConversation {
    let threadChannelId: string | undefined;
    return {
      platform: this.platform,
      ask: async (spec) => {
        const { record, token } = await this.runTurn(spec, threadChannelId);
        if (!threadChannelId && outcomeOf(record) === 'answered') threadChannelId = this.threadOpenedBy(token);
        return record;
      },
      threadKey: () => (threadChannelId ? `discord:${this.options.guildId}:${threadChannelId}` : undefined),
    };
  }

  /**
   * Runs one turn to its final answer, a failure line or the turn timeout. `threadChannelId` is the
   * Discord thread the conversation lives in; without one the `/ask` goes to the channel and opens it.
   */
  private async runTurn(spec: TurnSpec, threadChannelId: string | undefined): Promise<{ record: TurnRecord; token: string }> {
    const { fake, applicationId, guildId, channelId, user } = this.options;
    const channel = threadChannelId ? { id: threadChannelId, type: 11, parentId: channelId } : { id: channelId, type: 0 };
    const ask = slashCommandPayload({ applicationId, guildId, channel, user, name: 'ask', question: spec.question });
    fake.registerInteraction({ id: ask.id, token: ask.token, channelId: channel.id, guildId });
    const first = this.deliveries++ % this.options.endpoints.length;
    const deliveredTo = spec.duplicate ? this.options.endpoints.map((_, index) => (first + index) % this.options.endpoints.length) : [first];
    const record = newTurnRecord({
      platform: this.platform,
      thread: spec.thread,
      turn: spec.turn,
      attempt: spec.attempt,
      tag: spec.tag,
      question: spec.question,
      messageId: ask.id,
      deliveredTo,
      duplicateKind: spec.duplicate ? 'same-interaction' : undefined,
      sentAt: performance.now(),
      sentDuringOutage: spec.sentDuringOutage,
    });
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.pending.set(ask.token, { record, settle });
    const body = JSON.stringify(ask);
    const responses = await Promise.all(deliveredTo.map((index) => this.deliver(this.options.endpoints[index] as string, body)));
    let acknowledged = false;
    for (const response of responses) {
      if (!response) continue;
      record.responseTypes.push(response.type);
      const outageLine = response.type === 4 && response.content !== undefined && isOutageLine(response.content);
      if (response.type === 4 && !outageLine) record.refusedAsAlreadyHandled += 1;
      // Discord takes the first acknowledgement; a second one would be refused, so it is not applied.
      if (acknowledged) continue;
      if (response.type === 5) {
        acknowledged = true;
        record.acknowledgedAt = response.at;
        fake.acknowledgeFromHttpResponse(ask.token, response);
      } else if (outageLine) {
        // Refused before the deferral (the event could not be claimed): the user sees this line at once.
        acknowledged = true;
        record.acknowledgedAt = response.at;
        record.outageLines += 1;
        record.finalAt = response.at;
      }
    }
    if (record.acknowledgedAt !== undefined && record.outageLines === 0) {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.turnTimeoutMs).unref());
      await Promise.race([settled, timeout]);
    }
    // The entry stays: an answer posted twice, however late, is still counted on this record.
    return { record, token: ask.token };
  }

  /** The Discord thread the first turn's reply opened (the fake names a thread after its starter message). */
  private threadOpenedBy(token: string): string | undefined {
    const id = this.options.fake.originalResponse(token)?.id;
    return id && this.options.fake.threads.has(id) ? id : undefined;
  }

  private async deliver(endpoint: string, body: string): Promise<InteractionResponse | undefined> {
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
      const parsed = (await response.json()) as { type: number; data?: { content?: string } };
      return { type: parsed.type, ...(parsed.data?.content !== undefined ? { content: parsed.data.content } : {}), at };
    } catch {
      return undefined;
    }
  }
}
