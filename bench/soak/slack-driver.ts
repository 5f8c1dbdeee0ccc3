/**
 * Drives Slack turns at the bot processes the way the Events API does: an `app_mention` envelope
 * POSTed and signed with the signing secret, the first message of a thread at the channel's top level
 * and the later ones as replies in its thread. Slack's own repeats are part of it: the `message` twin
 * Slack sends for the same mention, retries (`X-Slack-Retry-Num`) of an envelope, and retries of an
 * envelope that was not acknowledged. Each turn is followed by what the bots do at the fake Slack Web
 * API: the first status or message in its thread, the answer (the message with the feedback buttons,
 * which the fake model marks with its turn) or a failure line.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { FakeSlackApi } from '../../test/fakes/slack/fake-slack-api.js';
import type { ApiResult } from '../../test/fakes/slack/message-store.js';
import { deliverEvent } from '../../test/fakes/slack/slack-events.js';
import { questionEnvelope } from '../../test/support/processes/slack-workspace.js';
import type { SoakConversation, SoakDriver, TurnSpec } from './conversation.js';
import { answeredTagOf } from './settings.js';
import { isDeferredLine, isOutageLine, newTurnRecord, outcomeOf, type TurnRecord } from './turn-record.js';

export interface SlackDriverOptions {
  fake: FakeSlackApi;
  /** Events API endpoints of the bot processes. */
  endpoints: string[];
  signingSecret: string;
  teamId: string;
  channel: string;
  turnTimeoutMs: number;
}

interface Pending {
  record: TurnRecord;
  settle: () => void;
}

/** Slack retries an unacknowledged event three times. */
const MAX_RETRIES = 3;

export class SlackSoakDriver implements SoakDriver {
  readonly platform = 'slack' as const;
  /** Answers that carried a turn tag the harness never sent (must stay 0). */
  unattributedAnswers = 0;
  private readonly byTag = new Map<string, Pending>();
  /** The turn running in each thread (by root ts): status updates and failure lines carry no tag. */
  private readonly currentByRoot = new Map<string, Pending>();
  /** The thread of every message the bots posted: `chat.update` names a message by its ts only. */
  private readonly rootOfMessage = new Map<string, string>();
  private deliveries = 0;
  private duplicates = 0;
  private lastTsMicros = 0;

  constructor(private readonly options: SlackDriverOptions) {
    // The fake has no call hook; its store carries out every call that reaches Slack's state, so the
    // harness watches there, with the result (the ts of a new message) in hand.
    const store = options.fake.store;
    const apply = store.apply.bind(store);
    store.apply = (method, params) => {
      const result = apply(method, params);
      this.observe(method, params, result, performance.now());
      return result;
    };
  }

  conversation(): SoakConversation {
    let root: string | undefined;
    return {
      platform: this.platform,
      ask: async (spec) => {
        const ts = this.nextTs();
        root ??= ts;
        return this.runTurn(spec, ts, root);
      },
      threadKey: () => (root ? `slack:${this.options.teamId}:${this.options.channel}:${root}` : undefined),
    };
  }

  /**
   * Whether the thread on Slack shows exactly the replies its turns got, in order: each answered turn's
   * answer once, and one failure line per turn that got one. Undefined when it does.
   */
  visibleThreadProblem(threadKey: string, records: TurnRecord[]): string | undefined {
    const root = threadKey.split(':').at(-1) ?? '';
    const replies = this.options.fake.store.threadReplies(this.options.channel, root);
    const shownAnswers = replies.filter((message) => hasButtons(message.blocks)).map((message) => answeredTagOf(contentOf(message.text, message.blocks)) ?? '?');
    const expectedAnswers = records.filter((record) => outcomeOf(record) === 'answered').map((record) => record.tag);
    if (shownAnswers.join(' ') !== expectedAnswers.join(' ')) return `answers shown [${shownAnswers.join(' ')}], expected [${expectedAnswers.join(' ')}]`;
    const shownLines = replies.filter((message) => message.text.startsWith(':warning:')).length;
    const expectedLines = records.reduce((sum, record) => sum + record.outageLines + record.failureLines, 0);
    if (shownLines !== expectedLines) return `${shownLines} failure lines shown, expected ${expectedLines}`;
    return undefined;
  }

  private async runTurn(spec: TurnSpec, ts: string, root: string): Promise<TurnRecord> {
    const { endpoints, teamId, channel } = this.options;
    const question = { text: spec.question, ts, ...(ts === root ? {} : { threadTs: root }) };
    const mention = questionEnvelope({ as: 'app_mention', ...question });
    const first = this.deliveries++ % endpoints.length;
    const other = (first + 1) % endpoints.length;
    const duplicateKind = spec.duplicate ? (this.duplicates++ % 2 === 0 ? 'message-twin' : 'retry') : undefined;
    const record = newTurnRecord({
      platform: this.platform,
      thread: spec.thread,
      turn: spec.turn,
      attempt: spec.attempt,
      tag: spec.tag,
      question: spec.question,
      messageId: `slack:${teamId}:${channel}:${ts}`,
      deliveredTo: duplicateKind ? [first, other] : [first],
      duplicateKind,
      sentAt: performance.now(),
      sentDuringOutage: spec.sentDuringOutage,
    });
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const pending = { record, settle };
    this.byTag.set(spec.tag, pending);
    this.currentByRoot.set(root, pending);

    // A mention in a channel the app also reads arrives twice: as `app_mention` and as `message`.
    const twin = duplicateKind === 'message-twin' ? this.deliver(other, questionEnvelope({ as: 'message', ...question })) : Promise.resolve(undefined);
    const acknowledgedAt = await this.deliverUntilAcknowledged(first, mention);
    // Slack retries when it thinks the first delivery went unanswered; the first one was processed all the same.
    if (duplicateKind === 'retry') await this.deliver(other, mention, 1);
    record.acknowledgedAt = acknowledgedAt ?? (await twin);
    await twin;
    if (record.acknowledgedAt !== undefined) {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.turnTimeoutMs).unref());
      await Promise.race([settled, timeout]);
    }
    return record;
  }

  /** Delivers an envelope; when it is not acknowledged, retries it at the next process as Slack would (headers and all). */
  private async deliverUntilAcknowledged(endpoint: number, envelope: Record<string, unknown>): Promise<number | undefined> {
    for (let retry = 0; retry <= MAX_RETRIES; retry += 1) {
      const acknowledgedAt = await this.deliver((endpoint + retry) % this.options.endpoints.length, envelope, retry);
      if (acknowledgedAt !== undefined) return acknowledgedAt;
      // Slack waits about a minute before its first retry; the soak only needs the order of things.
      await delay(1_000);
    }
    return undefined;
  }

  /** POSTs one signed delivery; resolves with when it was acknowledged (HTTP 200), or undefined. */
  private async deliver(endpoint: number, envelope: Record<string, unknown>, retryNum = 0): Promise<number | undefined> {
    try {
      const response = await deliverEvent(
        this.options.endpoints[endpoint] as string,
        this.options.signingSecret,
        envelope,
        retryNum > 0 ? { retry: { num: retryNum, reason: 'http_timeout' } } : {},
      );
      return response.status === 200 ? performance.now() : undefined;
    } catch {
      return undefined;
    }
  }

  /** Attributes one call the fake carried out to the turn it belongs to. */
  private observe(method: string, params: Record<string, unknown>, result: ApiResult, at: number): void {
    if (!result.ok) return;
    let root: string | undefined;
    switch (method) {
      case 'assistant.threads.setStatus':
        // Clearing the status is tidying up, not progress.
        if (!params.status) return;
        root = stringParam(params.thread_ts);
        break;
      case 'chat.postMessage':
      case 'chat.startStream':
        root = stringParam(params.thread_ts);
        if (root && typeof result.ts === 'string') this.rootOfMessage.set(result.ts, root);
        break;
      case 'chat.update':
      case 'chat.appendStream':
      case 'chat.stopStream':
        root = this.rootOfMessage.get(stringParam(params.ts) ?? '');
        break;
      default:
        return;
    }
    if (!root) return;
    const content = contentOf(stringParam(params.text) ?? stringParam(params.markdown_text) ?? '', params.blocks);
    const answeredTag = hasButtons(params.blocks) ? (answeredTagOf(content) ?? '?') : undefined;
    const pending = answeredTag ? this.byTag.get(answeredTag) : this.currentByRoot.get(root);
    if (!pending) {
      if (answeredTag) this.unattributedAnswers += 1;
      return;
    }
    const record = pending.record;
    record.edits.push([at, at]);
    record.firstUpdateAt ??= at;
    if (answeredTag) {
      record.finalAnswers += 1;
      record.answerTags.push(answeredTag);
      record.finalAt ??= at;
      pending.settle();
    } else if (isDeferredLine(content)) {
      record.deferredLines += 1;
    } else if (content.startsWith(':warning:')) {
      if (isOutageLine(content)) record.outageLines += 1;
      else record.failureLines += 1;
      record.finalAt ??= at;
      pending.settle();
    }
  }

  /** A Slack message ts for a message sent now, unique within the run. */
  private nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A message with an actions block: the final answer with its feedback buttons. */
function hasButtons(blocks: unknown): boolean {
  return Array.isArray(blocks) && blocks.some((block) => (block as { type?: unknown } | null)?.type === 'actions');
}

/** What a message says: its text, then whatever its blocks say. */
function contentOf(text: string, blocks: unknown): string {
  return blocks === undefined ? text : `${text}\n${JSON.stringify(blocks)}`;
}
