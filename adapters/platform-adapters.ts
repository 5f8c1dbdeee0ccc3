import type { Config } from '../src/config/config.js';
import type { MessageScope } from '../src/engine/types.js';
import type { HttpServer } from '../src/http/http-server.js';
import type { PlatformDependencies } from './platforms.js';
import { createDiscordAdapter } from './discord/index.js';
import { createSlackAdapter, SLACK_UPDATE_BUDGET } from './slack/index.js';

export interface PlatformAdapter {
  start(): Promise<void>;
  /**
   * Stops taking events; running turns are finished by the engine's own shutdown. An adapter that
   * must keep answering while it drains (Discord cannot redeliver) does so for at most `deadlineMs`.
   */
  stop(deadlineMs?: number): Promise<void>;
}

/** The Slack and Discord adapters the configuration enables. */
export async function createPlatformAdapters(config: Config, dependencies: PlatformDependencies & { http: HttpServer }): Promise<PlatformAdapter[]> {
  const { engine, http, logger, metrics, settings, rateBudgets } = dependencies;
  // Read per message, so a changed settings file applies to the next message without a restart.
  const settingsFor = (scope: MessageScope) => settings.settingsFor(scope);
  const adapters: PlatformAdapter[] = [];
  if (config.SLACK_BOT_TOKEN) {
    adapters.push(
      createSlackAdapter({
        botToken: config.SLACK_BOT_TOKEN,
        ...(config.SLACK_SIGNING_SECRET ? { signingSecret: config.SLACK_SIGNING_SECRET } : {}),
        ...(config.SLACK_APP_TOKEN ? { appToken: config.SLACK_APP_TOKEN } : {}),
        ...(config.SLACK_API_URL ? { apiUrl: config.SLACK_API_URL } : {}),
        requireMention: config.REQUIRE_MENTION,
        answerBots: config.ANSWER_BOTS,
        recoverySweepMs: config.RECOVERY_SWEEP_MS,
        ...(rateBudgets ? { updateBudget: rateBudgets.tokenBuckets('slack:chat.update', SLACK_UPDATE_BUDGET) } : {}),
        settingsFor,
        engine,
        http,
        logger: logger.child({ platform: 'slack' }),
        metrics,
      }),
    );
  }
  if (config.DISCORD_TOKEN && config.DISCORD_APPLICATION_ID) {
    adapters.push(
      createDiscordAdapter({
        token: config.DISCORD_TOKEN,
        applicationId: config.DISCORD_APPLICATION_ID,
        ...(config.DISCORD_PUBLIC_KEY ? { publicKey: config.DISCORD_PUBLIC_KEY } : {}),
        ...(config.DISCORD_API_URL ? { apiUrl: config.DISCORD_API_URL } : {}),
        gateway: config.DISCORD_GATEWAY,
        recoverySweepMs: config.RECOVERY_SWEEP_MS,
        settingsFor,
        engine,
        http,
        logger: logger.child({ platform: 'discord' }),
        metrics,
      }),
    );
  }
  return adapters;
}
