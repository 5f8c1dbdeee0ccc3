import { randomUUID } from 'node:crypto';
import type { Answer } from '../../../src/engine/answer.js';
import type { Answerer, AnswerRequest } from '../../../src/engine/answerer.js';
import type { HistoryCompactor } from '../../../src/compaction/types.js';
import { HttpServer } from '../../../src/http/http-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createSlackAdapter, type SlackAdapter, type SlackAdapterOptions, type SlackEventReport } from '../../../adapters/slack/index.js';
import { createTestEngine, type TestEngine } from '../../support/engine-fixture.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';

export const SLACK_IDS = {
  botToken: 'xoxb-7000000000001-7000000000002-TESTbottokenTESTbotto',
  appToken: 'xapp-1-A0THREADLN1-7000000000003-TESTapptokenTESTapptokenTEST',
  signingSecret: 'test-signing-secret-7f3a9c2e1b4d',
  teamId: 'T0TEAM0001',
  botUserId: 'U0BOTUSER1',
  botId: 'B0BOTID001',
  channel: 'C0SUPPORT1',
  directChannel: 'D0DIRECT01',
  asker: 'U0ASKER001',
  mentionTs: '1763719200.000100',
} as const;

export interface SlackHarnessOptions {
  answerer: Answerer;
  mode?: 'http' | 'socket';
  /** Share this fake between several app instances (replica tests). */
  fake?: FakeSlackApi;
  redisUrl?: string;
  keyPrefix?: string;
  compactor?: HistoryCompactor;
  adapter?: Partial<SlackAdapterOptions>;
  /** Pass the bot ids so Bolt skips auth.test (default true). */
  pinIdentity?: boolean;
  /** Escalation contacts for every channel (human handoff). */
  escalationContacts?: string[];
  /** Run on this engine instead of a fresh one; the caller closes it. */
  engine?: TestEngine;
}

/** One running app instance: the real Bolt adapter on a real engine, talking to the fake Slack. */
export interface SlackHarness {
  fake: FakeSlackApi;
  engine: TestEngine;
  adapter: SlackAdapter;
  /** `POST` target of the HTTP receiver (HTTP mode). */
  eventsUrl: string;
  reports: SlackEventReport[];
  /** Resolves when at least `count` events have been fully processed. */
  waitForReports(count: number, timeoutMs?: number): Promise<SlackEventReport[]>;
  /** Stops the adapter (waiting up to `deadlineMs` for running turns, default 5 s) and what the harness owns. */
  close(deadlineMs?: number): Promise<void>;
}

export async function startSlackHarness(options: SlackHarnessOptions): Promise<SlackHarness> {
  const ownsFake = !options.fake;
  const fake =
    options.fake ??
    (await FakeSlackApi.start({
      botToken: SLACK_IDS.botToken,
      appToken: SLACK_IDS.appToken,
      teamId: SLACK_IDS.teamId,
      botUserId: SLACK_IDS.botUserId,
      botId: SLACK_IDS.botId,
      users: { U0COLLEAG1: 'Dana', U0ASKER001: 'Ana' },
    }));
  const ownsEngine = !options.engine;
  const engine =
    options.engine ??
    (await createTestEngine({
      answerer: options.answerer,
      redisUrl: options.redisUrl,
      keyPrefix: options.keyPrefix,
      compactor: options.compactor,
      ...(options.escalationContacts ? { escalationContacts: options.escalationContacts } : {}),
    }));
  const http = new HttpServer();
  const reports: SlackEventReport[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const pinIdentity = options.pinIdentity ?? true;
  const adapter = createSlackAdapter({
    botToken: SLACK_IDS.botToken,
    ...(options.mode === 'socket' ? { appToken: SLACK_IDS.appToken } : { signingSecret: SLACK_IDS.signingSecret }),
    apiUrl: fake.apiUrl,
    requireMention: false,
    answerBots: false,
    engine: engine.engine,
    http,
    logger: silentLogger(),
    ...(pinIdentity ? { botUserId: SLACK_IDS.botUserId, botId: SLACK_IDS.botId } : {}),
    previewIntervalMs: 10,
    onEventProcessed: (report) => {
      reports.push(report);
      for (const waiter of [...waiters]) {
        if (reports.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    },
    ...options.adapter,
  });
  const port = await http.listen(0, '127.0.0.1');
  await adapter.start();
  return {
    fake,
    engine,
    adapter,
    eventsUrl: `http://127.0.0.1:${port}/slack/events`,
    reports,
    async waitForReports(count, timeoutMs = 10_000) {
      if (reports.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`only ${reports.length} of ${count} events processed: ${JSON.stringify(reports)}`)), timeoutMs);
          waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
        });
      }
      return reports;
    },
    async close(deadlineMs = 5_000) {
      await adapter.stop(deadlineMs);
      await http.close();
      if (ownsEngine) await engine.close();
      if (ownsFake) await fake.close();
    },
  };
}

const PREVIEW_METHODS = new Set(['chat.startStream', 'chat.appendStream', 'chat.postMessage', 'chat.update']);

/**
 * An answerer that writes its answer in `deltas` and, after each one, waits until the fake Slack has
 * seen the preview call it causes: streaming is then observable without any sleeps.
 */
export function pacedAnswerer(fake: () => FakeSlackApi, deltas: string[], final: Omit<Answer, 'id' | 'mode' | 'notices'> = { parts: [{ type: 'text', text: deltas.join('') }], sources: [] }): Answerer & { requests: AnswerRequest[] } {
  const requests: AnswerRequest[] = [];
  return {
    reservedTokens: 0,
    requests,
    async answer(request) {
      requests.push(request);
      for (const delta of deltas) {
        const before = performance.now();
        await request.progress({ type: 'text-delta', text: delta });
        await fake().waitForCall((call) => PREVIEW_METHODS.has(call.method) && call.at >= before);
      }
      return { id: randomUUID(), mode: 'generated', notices: [], ...final };
    },
  };
}
