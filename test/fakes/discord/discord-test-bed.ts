import { HttpServer } from '../../../src/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { ConversationEngine } from '../../../src/engine/types.js';
import { createDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from '../../../adapters/discord/index.js';
import { FakeDiscordServer } from './fake-discord-server.js';
import { GatewayInjector } from './gateway-injector.js';
import { guildPayload, threadPayload } from './payloads.js';
import { nextSnowflake } from './snowflakes.js';

export const BOT_TOKEN = 'fake-bot-token-0123456789abcdef';

/** One adapter process wired to the fake Discord (gateway events injected, not connected). */
export interface DiscordProcess {
  adapter: DiscordAdapter;
  injector: GatewayInjector;
  http: HttpServer;
  metrics: Metrics;
}

export interface DiscordTestBed {
  fake: FakeDiscordServer;
  applicationId: string;
  guildId: string;
  channelId: string;
  /** Starts an adapter process on `engine`; every process gets the guild and the threads the bot creates. */
  startProcess(engine: ConversationEngine, overrides?: Partial<DiscordAdapterOptions>): Promise<DiscordProcess>;
  close(): Promise<void>;
}

/** A fake Discord plus any number of adapter processes talking to it. */
export async function createDiscordTestBed(): Promise<DiscordTestBed> {
  const applicationId = nextSnowflake();
  const guildId = nextSnowflake();
  const channelId = nextSnowflake();
  const fake = new FakeDiscordServer(applicationId, BOT_TOKEN);
  const apiUrl = await fake.start();
  const processes: DiscordProcess[] = [];
  fake.onThreadCreated = (thread) => {
    for (const process of processes) {
      process.injector.threadCreate(threadPayload({ id: thread.id, parentId: thread.parentId, guildId, name: thread.name, ownerId: applicationId }));
    }
  };
  return {
    fake,
    applicationId,
    guildId,
    channelId,
    async startProcess(engine, overrides = {}) {
      const http = new HttpServer();
      const metrics = new Metrics();
      const adapter = createDiscordAdapter({
        token: BOT_TOKEN,
        applicationId,
        apiUrl,
        engine,
        http,
        logger: silentLogger(),
        metrics,
        gateway: false,
        editIntervalMs: 200,
        ...overrides,
      });
      await adapter.start();
      const injector = new GatewayInjector(adapter.client);
      injector.guildCreate(guildPayload(guildId, channelId));
      const started = { adapter, injector, http, metrics };
      processes.push(started);
      return started;
    },
    async close() {
      for (const process of processes) {
        await process.adapter.stop(5_000);
        await process.http.close();
      }
      await fake.stop();
    },
  };
}

/** Polls `condition` until it holds (or fails after `timeoutMs` with `what`). Never asserts on timing. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
