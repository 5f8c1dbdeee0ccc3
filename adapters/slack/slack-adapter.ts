import type { IncomingMessage as HttpRequest, ServerResponse } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver, webApi, type AllMiddlewareArgs } from '@slack/bolt';
import type { ConversationEngine, MessageScope, TurnOutcome } from '../../src/engine/types.js';
import type { ChannelSettings } from '../../src/settings/index.js';
import type { HttpServer } from '../../src/http/http-server.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { errorCodeOf } from '../../src/errors.js';
import { ACTION_IDS } from './answer-renderer.js';
import { boltLogger } from './bolt-logger.js';
import { CapabilityCache } from './capability-cache.js';
import { SlackConfigError } from './errors.js';
import { threadRootOf, toIncomingMessage } from './incoming-message.js';
import {
  blockActionsSchema,
  handleFeedbackClick,
  handleHandoffClick,
  handleStartOverClick,
  type BlockActions,
} from './interactions.js';
import { SlackReplySink, type SlackReplySinkOptions, type StreamingMode } from './reply-sink.js';
import { RateLimitRegistry, SlackCaller } from './slack-caller.js';
import { decideEvent, slackMessageEventSchema } from './slack-event.js';
import { isResetCommand, startOver } from './thread-controls.js';
import { slackRecoverySinkFactory } from './turn-recovery.js';
import { processUpdateBudget, type UpdateBudget } from './update-budget.js';
import { UserNameCache } from './user-names.js';

export interface SlackAdapterOptions {
  /** Bot token (`xoxb-…`). */
  botToken: string;
  /** HTTP Events API mode: requests to `POST /slack/events` are verified with it. */
  signingSecret?: string;
  /** Socket Mode (`xapp-…`, scope `connections:write`); takes precedence over HTTP mode. */
  appToken?: string;
  /** Web API base (GovSlack, proxies, tests); default `https://slack.com/api/`. */
  apiUrl?: string;
  /** Thread follow-ups need a fresh mention (where `settingsFor` is not given). */
  requireMention: boolean;
  /** Answer other bots' messages, never our own (where `settingsFor` is not given). */
  answerBots: boolean;
  /**
   * Per-channel settings (the settings file): `enabled`, `mentionOnly` and `answerBots` decide for
   * each channel instead of `requireMention` / `answerBots`. A disabled channel gets nothing, not even a placeholder.
   */
  settingsFor?: (scope: MessageScope) => ChannelSettings;
  /** How often to look for turns a crashed process left unfinished (default 60 s; 0: only at start). */
  recoverySweepMs?: number;
  engine: ConversationEngine;
  /** The process's HTTP server; required in HTTP mode (the events route is registered on it). */
  http?: HttpServer;
  logger: Logger;
  metrics?: Metrics;
  /** Both given: `auth.test` is skipped (tests, or operators who pin them). */
  botUserId?: string;
  botId?: string;
  /** `native` (default): Slack's streaming methods where allowed; `update`: placeholder + `chat.update`. */
  streaming?: StreamingMode;
  /** Minimum time between two preview updates of one answer (default 1,500 ms). */
  previewIntervalMs?: number;
  /** `chat.update` budget per workspace and minute shared by all answers (default 45, under Slack's Tier 3). */
  updatesPerMinute?: number;
  /**
   * The per-workspace `chat.update` budget itself, e.g. one every replica shares through Redis (built in
   * composition with `SLACK_UPDATE_BUDGET`). Default: this process's own, of `updatesPerMinute`.
   */
  updateBudget?: UpdateBudget;
  /** Path of the events endpoint in HTTP mode (default `/slack/events`). */
  eventsPath?: string;
  /** How long one Web API request may take before its answer counts as lost (default 15 s). */
  apiTimeoutMs?: number;
  /** Socket Mode heartbeat tuning (the client's defaults suit production). */
  socketMode?: { clientPingTimeoutMs?: number; serverPingTimeoutMs?: number };
  /** Told what became of every delivered event, with timings (bench, tests, operators' hooks). */
  onEventProcessed?: (report: SlackEventReport) => void;
}

/** What became of one delivered event. Times are milliseconds since the adapter received it. */
export interface SlackEventReport {
  /** `app_mention`, `message`, or the action id of a click. */
  eventType: string;
  /** The message ts, for events about a message. */
  ts?: string;
  result: 'answered' | 'failed' | 'duplicate' | 'ignored' | 'reset' | 'feedback' | 'handed-off' | 'handed-over' | 'error';
  /** Why an event was ignored, or the failure code. */
  reason?: string;
  firstVisibleMs?: number;
  completedMs: number;
}

/** A running Slack adapter. */
export interface SlackAdapter {
  readonly mode: 'socket' | 'http';
  start(): Promise<void>;
  /**
   * Stops taking events (HTTP mode answers 503 so Slack redelivers to another replica; Socket Mode
   * disconnects). With `deadlineMs`, also waits that long for answers in progress; by default it returns
   * at once and the engine's own shutdown finishes them.
   */
  stop(deadlineMs?: number): Promise<void>;
}

type Middleware = AllMiddlewareArgs & { body: unknown; event?: unknown; payload?: unknown };

/**
 * Creates the Slack adapter on Bolt: Socket Mode when `appToken` is given, else the HTTP Events API
 * on the shared HTTP server. Events become `IncomingMessage`s for the engine; replies render through
 * `SlackReplySink`.
 *
 * @example
 * const slack = createSlackAdapter({ botToken, signingSecret, requireMention: false, answerBots: false, engine, http, logger });
 * await slack.start();
 */
export function createSlackAdapter(options: SlackAdapterOptions): SlackAdapter {
  if (!options.botToken) throw new SlackConfigError('botToken', 'is required');
  if (!options.appToken && !options.signingSecret) throw new SlackConfigError('signingSecret', 'or appToken is required (HTTP or Socket Mode)');
  if (!options.appToken && !options.http) throw new SlackConfigError('http', 'is required in HTTP mode');
  return new BoltSlackAdapter(options);
}

class BoltSlackAdapter implements SlackAdapter {
  readonly mode: 'socket' | 'http';
  private readonly app: App;
  private readonly receiver: SocketModeReceiver | HTTPReceiver;
  private readonly logger: Logger;
  private readonly rateLimits = new RateLimitRegistry();
  private readonly capabilities = new CapabilityCache();
  private readonly updateBudget: UpdateBudget;
  private readonly userNames = new UserNameCache();
  private readonly running = new Set<Promise<unknown>>();
  private readonly clientOptions: webApi.WebClientOptions;
  /** Per bot token: a client that never repeats a request on its own, for calls that create messages. */
  private readonly onceClients = new Map<string, webApi.WebClient>();
  private state: 'created' | 'started' | 'stopped' = 'created';
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(private readonly options: SlackAdapterOptions) {
    this.logger = options.logger.child({ component: 'slack' });
    this.mode = options.appToken ? 'socket' : 'http';
    this.updateBudget = options.updateBudget ?? processUpdateBudget(options.updatesPerMinute);
    const logger = boltLogger(options.logger);
    const clientOptions: webApi.WebClientOptions = (this.clientOptions = {
      ...(options.apiUrl ? { slackApiUrl: options.apiUrl } : {}),
      logger,
      // Rate limits are handled per call by SlackCaller; the client must not pause all its calls.
      rejectRateLimitedCalls: true,
      timeout: options.apiTimeoutMs ?? 15_000,
      // Safe for edits, deletes and reads only: posts go through a client without retries (see callerFor).
      retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 },
    });
    const receiver = (this.receiver =
      this.mode === 'socket'
        ? new SocketModeReceiver({
            appToken: options.appToken!,
            logger,
            clientPingTimeout: options.socketMode?.clientPingTimeoutMs,
            serverPingTimeout: options.socketMode?.serverPingTimeoutMs,
            installerOptions: { clientOptions },
          })
        : new HTTPReceiver({
            signingSecret: options.signingSecret!,
            endpoints: options.eventsPath ?? '/slack/events',
            logger,
            // A long-running server must answer Slack within 3 s, before the (slow) answer exists.
            processBeforeResponse: false,
          }));
    this.app = new App({
      token: options.botToken,
      receiver,
      logger,
      clientOptions,
      botUserId: options.botUserId,
      botId: options.botId,
      // auth.test runs in start(), where its failure can be reported, not in a constructor promise.
      deferInitialization: true,
      // decideEvent drops our own messages too (and the edits of them that Bolt's ignoreSelf misses),
      // and reports every skipped event, so one filter decides.
      ignoreSelf: false,
    });
    this.app.error(async (error) => {
      this.options.metrics?.countError(error);
      this.logger.error({ err: error }, 'slack listener failed');
    });
    this.app.event('app_mention', (args) => this.track(() => this.reported(args as unknown as Middleware)));
    this.app.message((args) => this.track(() => this.reported(args as unknown as Middleware)));
    this.app.action(ACTION_IDS.helpful, (args) => this.onAction(args as unknown as Middleware & { ack: () => Promise<void> }, 'helpful'));
    this.app.action(ACTION_IDS.notHelpful, (args) => this.onAction(args as unknown as Middleware & { ack: () => Promise<void> }, 'not-helpful'));
    this.app.action(ACTION_IDS.startOver, (args) => this.onAction(args as unknown as Middleware & { ack: () => Promise<void> }, 'start-over'));
    this.app.action(ACTION_IDS.talkToPerson, (args) => this.onAction(args as unknown as Middleware & { ack: () => Promise<void> }, 'handoff'));
    if (this.mode === 'http') {
      options.http!.route('POST', options.eventsPath ?? '/slack/events', (request, response) => this.onHttpRequest(receiver as HTTPReceiver, request, response));
    }
  }

  async start(): Promise<void> {
    await this.app.init();
    if (this.mode === 'socket') await this.app.start();
    this.state = 'started';
    this.logger.info({ mode: this.mode }, 'slack adapter started');
    this.sweepOrphanedTurns();
    const every = this.options.recoverySweepMs ?? 60_000;
    if (every > 0) this.sweepTimer ??= setInterval(() => this.sweepOrphanedTurns(), every).unref();
  }

  async stop(deadlineMs = 0): Promise<void> {
    if (this.state === 'stopped') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopped';
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    // SocketModeReceiver.stop() does not wait for the close handshake; waiting here means a process
    // that exits after stop() leaves no half-closed socket (and no 30-second handshake timer) behind.
    if (wasStarted && this.receiver instanceof SocketModeReceiver) await this.receiver.client.disconnect();
    const everything = Promise.allSettled([...this.running]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
    await Promise.race([everything, deadline]);
    clearTimeout(timer);
  }

  private onHttpRequest(receiver: HTTPReceiver, request: HttpRequest, response: ServerResponse): void {
    if (this.state !== 'started') {
      // Not ready (or shutting down): Slack retries, and another replica (or this one, later) answers.
      response.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n');
      return;
    }
    receiver.requestListener(request, response);
  }

  /**
   * Finishes turns that a process which stopped mid-answer left in flight, in the messages it had
   * posted. Exactly one replica picks each up (the engine holds the thread lock for it).
   */
  private sweepOrphanedTurns(): void {
    // A sweep waits up to a second per busy thread; the next one starts only after it.
    if (this.state !== 'started' || this.sweeping) return;
    this.sweeping = true;
    const sinkFor = slackRecoverySinkFactory({
      callerFor: (workspaceId) => this.callerFor(this.app.client, workspaceId),
      capabilities: this.capabilities,
      updateBudget: this.updateBudget,
      previewIntervalMs: this.options.previewIntervalMs ?? 1_500,
      logger: this.logger,
    });
    void this.track(async () => {
      try {
        const recovered = await this.options.engine.recoverOrphanedTurns('slack', sinkFor);
        if (recovered > 0) this.logger.warn({ recovered }, 'finished slack turns a stopped process left unanswered');
      } catch (error) {
        this.logger.warn({ code: errorCodeOf(error) }, 'slack recovery sweep failed');
      } finally {
        this.sweeping = false;
      }
    });
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.running.add(running);
    return running.finally(() => this.running.delete(running));
  }

  /** Handles a message event and tells `onEventProcessed` what became of it. */
  private async reported(args: Middleware): Promise<void> {
    const receivedAt = performance.now();
    const event = args.event as { type?: unknown; ts?: unknown } | undefined;
    const base = { eventType: String(event?.type ?? 'unknown'), ...(typeof event?.ts === 'string' ? { ts: event.ts } : {}) };
    let firstVisibleMs: number | undefined;
    const onFirstVisible = () => (firstVisibleMs ??= performance.now() - receivedAt);
    let report: Pick<SlackEventReport, 'result' | 'reason'>;
    try {
      report = await this.onMessageEvent(args, onFirstVisible);
    } catch (error) {
      report = { result: 'error', reason: errorCodeOf(error) };
      throw error;
    } finally {
      this.options.onEventProcessed?.({ ...base, ...report!, firstVisibleMs, completedMs: performance.now() - receivedAt });
    }
  }

  private async onMessageEvent(args: Middleware, onFirstVisible: () => void): Promise<Pick<SlackEventReport, 'result' | 'reason'>> {
    const parsed = slackMessageEventSchema.safeParse(args.event);
    if (!parsed.success) {
      this.logger.debug({ problem: parsed.error.issues[0]?.message }, 'slack event ignored: unexpected shape');
      return { result: 'ignored', reason: 'unexpected-shape' };
    }
    const event = parsed.data;
    const { context, client } = args;
    const botUserId = context.botUserId ?? this.options.botUserId;
    if (!botUserId) {
      this.logger.error('slack event ignored: the bot user id is unknown (auth.test failed?)');
      return { result: 'ignored', reason: 'unknown-bot-user' };
    }
    const workspaceId = context.teamId ?? teamOf(args.body) ?? event.team ?? 'unknown';
    const log = this.logger.child({ channel: event.channel, ts: event.ts, eventType: event.type, retryNum: context.retryNum });
    const channel = this.options.settingsFor?.({ workspaceId, channelId: event.channel });
    if (channel && !channel.enabled) {
      log.debug({ reason: 'channel-disabled' }, 'slack event ignored');
      return { result: 'ignored', reason: 'channel-disabled' };
    }
    const policy = channel ? { requireMention: channel.mentionOnly, answerBots: channel.answerBots } : this.options;
    const decision = decideEvent(event, { botUserId, botId: context.botId ?? this.options.botId }, policy);
    if (decision.action === 'ignore') {
      log.debug({ reason: decision.reason }, 'slack event ignored');
      return { result: 'ignored', reason: decision.reason };
    }
    const caller = this.callerFor(client, workspaceId);
    const addressedToBot = decision.action === 'answer';
    const message = {
      ...(await toIncomingMessage(event, workspaceId, botUserId, (userId) => this.userNames.resolve(caller, userId), addressedToBot)),
      ...(decision.action === 'record-if-known-thread' ? { addressedToOthers: true } : {}),
    };
    if (decision.action !== 'answer' && !(await this.options.engine.hasThread(message.threadKey))) {
      log.debug({ reason: 'unknown-thread' }, 'slack event ignored');
      return { result: 'ignored', reason: 'unknown-thread' };
    }
    const threadTs = threadRootOf(event);
    const directMessage = event.channel_type === 'im';
    if (isResetCommand(message.text)) {
      const claimId = `slack-reset:${message.eventId}`;
      const done = await startOver({ engine: this.options.engine, caller, channelId: event.channel, threadTs, threadKey: message.threadKey, directMessage, claimId });
      return { result: done ? 'reset' : 'duplicate' };
    }
    const sink = this.replySink({
      caller,
      channelId: event.channel,
      threadTs,
      recipient: event.user ? { userId: event.user, teamId: event.user_team ?? event.team ?? workspaceId } : undefined,
      directMessage,
      logger: log,
      onFirstVisible,
    });
    const outcome = await this.options.engine.handle(message, sink);
    log.info({ outcome: outcome.kind, trigger: decision.action === 'answer' ? decision.trigger : 'thread-follow-up' }, 'slack turn done');
    return reportOf(outcome);
  }

  /** A reply sink for one turn with the process-wide streaming choices, budgets and capability memory. */
  private replySink(turn: Pick<SlackReplySinkOptions, 'caller' | 'channelId' | 'threadTs' | 'recipient' | 'directMessage' | 'logger' | 'onFirstVisible'>): SlackReplySink {
    return new SlackReplySink({
      ...turn,
      streaming: this.options.streaming ?? 'native',
      capabilities: this.capabilities,
      updateBudget: this.updateBudget,
      previewIntervalMs: this.options.previewIntervalMs ?? 1_500,
    });
  }

  private async onAction(args: Middleware & { ack: () => Promise<void> }, kind: 'helpful' | 'not-helpful' | 'start-over' | 'handoff'): Promise<void> {
    // Slack wants the click acknowledged within 3 s; storing and thanking happen after.
    await args.ack();
    const parsed = blockActionsSchema.safeParse(args.body);
    if (!parsed.success) {
      this.logger.warn({ problem: parsed.error.issues[0]?.message }, 'slack action ignored: unexpected shape');
      return;
    }
    const payload: BlockActions = parsed.data;
    const workspaceId = payload.team?.id ?? payload.user.team_id ?? 'unknown';
    const context = { engine: this.options.engine, caller: this.callerFor(args.client, workspaceId), logger: this.logger };
    const receivedAt = performance.now();
    const report = (result: SlackEventReport['result'], reason?: string) =>
      this.options.onEventProcessed?.({ eventType: payload.actions[0]!.action_id, ts: payload.message.ts, result, ...(reason ? { reason } : {}), completedMs: performance.now() - receivedAt });
    try {
      if (kind === 'handoff') {
        const log = this.logger.child({ channel: payload.channel.id, eventType: 'handoff-click' });
        const outcome = await this.track(() =>
          handleHandoffClick(payload, {
            ...context,
            logger: log,
            ...(this.options.settingsFor ? { settingsFor: this.options.settingsFor } : {}),
            sinkFor: (turn) => this.replySink({ ...turn, caller: context.caller, logger: log }),
          }),
        );
        const { result, reason } = reportOf(outcome);
        report(result, reason);
      } else if (kind === 'start-over') {
        await this.track(() => handleStartOverClick(payload, context));
        report('reset');
      } else {
        await this.track(() => handleFeedbackClick(payload, kind, context));
        report('feedback');
      }
    } catch (error) {
      report('error', errorCodeOf(error));
      throw error;
    }
  }

  private callerFor(client: webApi.WebClient, workspaceId: string): SlackCaller {
    return new SlackCaller({ client, onceClient: this.onceClientFor(client), workspaceId, rateLimits: this.rateLimits, logger: this.logger, metrics: this.options.metrics });
  }

  /**
   * The client's twin without automatic retries: a post whose answer times out or comes back 5xx may
   * already be in the thread, and Slack has no idempotency key, so `postInThreadOnce` decides instead.
   */
  private onceClientFor(client: webApi.WebClient): webApi.WebClient {
    const token = client.token ?? this.options.botToken;
    // Bolt gives each workspace's client a teamId (sent as team_id by org-wide installs); the twin keeps it.
    const teamId = (client as unknown as { teamId?: unknown }).teamId;
    const key = `${token} ${typeof teamId === 'string' ? teamId : ''}`;
    let once = this.onceClients.get(key);
    if (!once) {
      once = new webApi.WebClient(token, { ...this.clientOptions, ...(typeof teamId === 'string' ? { teamId } : {}), retryConfig: { retries: 0 } });
      this.onceClients.set(key, once);
    }
    return once;
  }
}

/** What an engine outcome (or a click that ran no turn) means for `onEventProcessed`. */
function reportOf(outcome: TurnOutcome | { kind: 'channel-disabled' | 'already-requested' }): Pick<SlackEventReport, 'result' | 'reason'> {
  switch (outcome.kind) {
    case 'channel-disabled':
      return { result: 'ignored', reason: 'channel-disabled' };
    case 'already-requested':
      return { result: 'duplicate' };
    case 'failed':
      return { result: 'failed', reason: outcome.code };
    case 'ignored':
      // The engine keeps quiet in disabled channels and in threads a person has taken over.
      return { result: 'ignored', reason: 'engine-quiet' };
    default:
      return { result: outcome.kind };
  }
}

function teamOf(body: unknown): string | undefined {
  const team = (body as { team_id?: unknown } | undefined)?.team_id;
  return typeof team === 'string' ? team : undefined;
}
