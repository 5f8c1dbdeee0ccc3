import { RESTEvents, type Client } from 'discord.js';
import type { Logger } from 'pino';
import type { ConversationEngine, MessageScope } from '../../src/engine/types.js';
import type { ChannelSettings } from '../../src/settings/index.js';
import { errorCodeOf } from '../../src/errors.js';
import type { HttpServer } from '../../src/http/http-server.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { createDiscordClient } from './discord-client.js';
import { DiscordRest } from './discord-rest.js';
import { attachGatewayListener } from './gateway-listener.js';
import { InteractionHandler } from './interaction-handler.js';
import { registerInteractionsEndpoint } from './interactions-endpoint.js';
import { MessageHandler, type MessageReport } from './message-handler.js';
import { discordRecoverySinkFactory } from './turn-recovery.js';

/** Everything the Discord adapter needs; `createDiscordAdapter` documents each mode. */
export interface DiscordAdapterOptions {
  /** Bot token (DISCORD_TOKEN). */
  token: string;
  /** Application id (DISCORD_APPLICATION_ID); interaction webhooks are addressed by it. */
  applicationId: string;
  /** Public key (DISCORD_PUBLIC_KEY): registers the HTTP interactions endpoint on `http`. */
  publicKey?: string;
  /** REST base override (DISCORD_API_URL), e.g. `http://127.0.0.1:8080/api`. */
  apiUrl?: string;
  engine: ConversationEngine;
  http: HttpServer;
  logger: Logger;
  metrics?: Metrics;
  /**
   * Log in to the gateway on `start()` (default true): needed for thread follow-ups, mentions and DMs.
   * false runs a stateless replica that serves only HTTP interactions.
   */
  gateway?: boolean;
  /** How often streamed text is edited into the reply (default 1,000 ms). */
  editIntervalMs?: number;
  /** How often to look for turns a crashed process left unfinished (default 60 s; 0: only at start). */
  recoverySweepMs?: number;
  /**
   * Per-channel settings (the settings file), read for every message and interaction: `enabled`,
   * `mentionOnly` and `answerBots`. Channels are keyed by guild id (`dm` for direct messages) and the
   * channel id, a thread's parent for messages in threads.
   */
  settingsFor?: (scope: MessageScope) => ChannelSettings;
  /** Told what became of every gateway message (engine outcome, or `not-for-us`). */
  onMessageProcessed?: (report: MessageReport) => void;
  now?: () => number;
}

/** A running Discord front end. */
export interface DiscordAdapter {
  start(): Promise<void>;
  /**
   * Drains: keeps answering what still arrives (an interaction or a gateway message cannot be
   * redelivered to another replica), waits up to `deadlineMs` for everything running, then
   * disconnects. Interactions that reach the HTTP endpoint afterwards are told privately that the bot
   * is restarting. Turns still running then keep the REST client to finish (the engine's close waits for them).
   */
  stop(deadlineMs?: number): Promise<void>;
  /** The discord.js client (its REST client carries every outgoing call). */
  readonly client: Client;
}

/**
 * Creates the Discord adapter on discord.js v14. Gateway mode answers slash commands, thread
 * messages, mentions and DMs over one connection; with `publicKey`, slash commands and buttons are
 * also served from `POST /discord/interactions` (Discord then stops sending interactions over the gateway).
 *
 * @example
 * const discord = createDiscordAdapter({ token, applicationId, publicKey, engine, http, logger, metrics });
 * await discord.start();
 */
export function createDiscordAdapter(options: DiscordAdapterOptions): DiscordAdapter {
  const now = options.now ?? Date.now;
  const client = createDiscordClient({ apiUrl: options.apiUrl });
  client.rest.setToken(options.token);
  const rest = new DiscordRest(client.rest, options.applicationId);
  const logger = options.logger.child({ platform: 'discord' });
  const sinkSettings = { now, ...(options.editIntervalMs !== undefined ? { editIntervalMs: options.editIntervalMs } : {}) };
  // Bot users of current applications share the application's id; after login the gateway tells us for sure.
  const botUserId = () => client.user?.id ?? options.applicationId;
  const running = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    running.add(work);
    void work.finally(() => running.delete(work));
  };
  let phase: 'running' | 'draining' | 'stopped' = 'running';

  const settings = options.settingsFor ? { settingsFor: options.settingsFor } : {};
  const interactions = new InteractionHandler({
    engine: options.engine,
    rest,
    logger,
    metrics: options.metrics,
    sinkSettings,
    ...settings,
    accepting: () => phase !== 'stopped',
  });
  const messages = new MessageHandler({
    engine: options.engine,
    rest,
    botUserId,
    logger,
    metrics: options.metrics,
    sinkSettings,
    ...settings,
    ...(options.onMessageProcessed ? { onProcessed: options.onMessageProcessed } : {}),
  });
  client.rest.on(RESTEvents.RateLimited, (info) => {
    options.metrics?.rateLimitWaits.inc({ upstream: 'discord' });
    logger.warn({ route: info.route, retryAfterMs: info.retryAfter, global: info.global }, 'discord rate limit: waiting before retrying');
  });
  if (options.publicKey) {
    registerInteractionsEndpoint({ http: options.http, publicKey: options.publicKey, handler: interactions, logger, metrics: options.metrics, track, now });
  }

  const recoverySinks = discordRecoverySinkFactory({ rest, logger, metrics: options.metrics, sinkSettings });
  // One sweep at a time: a recovered turn can take longer than the sweep interval.
  let sweeping = false;
  const sweep = () => {
    if (sweeping) return;
    sweeping = true;
    track(
      options.engine
        .recoverOrphanedTurns('discord', recoverySinks)
        .then(
          (recovered) => recovered > 0 && logger.warn({ recovered }, 'finished discord turns a stopped process left unanswered'),
          (error: unknown) => logger.warn({ code: errorCodeOf(error) }, 'discord recovery sweep failed'),
        )
        .finally(() => (sweeping = false)),
    );
  };

  let detach: (() => void) | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  return {
    client,
    async start() {
      detach ??= attachGatewayListener({ client, interactions, messages, botUserId, logger, metrics: options.metrics, track, now });
      sweep();
      const every = options.recoverySweepMs ?? 60_000;
      if (every > 0 && !sweepTimer) sweepTimer = setInterval(sweep, every).unref();
      if (options.gateway === false) return;
      await client.login(options.token);
      logger.info({ botUserId: botUserId(), httpInteractions: Boolean(options.publicKey) }, 'discord gateway connected');
    },
    async stop(deadlineMs = 30_000) {
      if (phase !== 'running') return;
      phase = 'draining';
      clearInterval(sweepTimer);
      sweepTimer = undefined;
      const deadline = drainDeadline(deadlineMs);
      try {
        // The gateway stays connected meanwhile: what arrives now is answered, not lost.
        await untilIdle(running, deadline);
        await client.destroy();
        // Events that came in while the connection closed.
        await untilIdle(running, deadline);
      } finally {
        deadline.cancel();
        detach?.();
        detach = undefined;
        phase = 'stopped';
        // destroy() forgets the token; turns that outlive the drain still post their answers with it.
        client.rest.setToken(options.token);
      }
    },
  };
}

/** Resolves when nothing is running any more, including work that started while waiting, or at the deadline. */
async function untilIdle(running: Set<Promise<unknown>>, deadline: DrainDeadline): Promise<void> {
  while (running.size > 0 && !deadline.passed()) await Promise.race([Promise.allSettled([...running]), deadline.reached]);
}

interface DrainDeadline {
  reached: Promise<void>;
  passed: () => boolean;
  cancel: () => void;
}

function drainDeadline(deadlineMs: number): DrainDeadline {
  let passed = false;
  let timer: NodeJS.Timeout | undefined;
  const reached = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      passed = true;
      resolve();
    }, deadlineMs).unref();
  });
  return { reached, passed: () => passed, cancel: () => clearTimeout(timer) };
}
