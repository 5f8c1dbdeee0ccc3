import { randomUUID } from 'node:crypto';
import { createConversationEngine } from '../../src/engine/engine.js';
import { createStateBackends, type StateBackends } from '../../src/engine/state-backends.js';
import type { Answerer, AnswerRequest } from '../../src/engine/answerer.js';
import type { Answer, AnswerPart, AnswerSource } from '../../src/engine/answer.js';
import type { ConversationEngine, IncomingMessage, ReplyEvent, ReplySink } from '../../src/engine/types.js';
import type { CompactionResult, HistoryCompactor } from '../../src/compaction/types.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { uniquePrefix } from './redis.js';

export interface TestEngineOptions {
  answerer: Answerer;
  /** Omit (with `redisClusterNodes`) for the in-memory backends. */
  redisUrl?: string;
  /** Root nodes of a Redis Cluster, instead of `redisUrl`. */
  redisClusterNodes?: readonly string[];
  /** How long creating the engine waits for an unreachable Redis (default 3 s). */
  connectWaitMs?: number;
  keyPrefix?: string;
  compactor?: HistoryCompactor;
  lockTtlMs?: number;
  /** How long a queued turn keeps its place (and its waiting message its lease) without a heartbeat. */
  waiterTtlMs?: number;
  turnTimeoutMs?: number;
  /** How long a turn's writes ride out an unreachable memory (the engine's default is 15 s). */
  answerSaveGraceMs?: number;
  maxMessageChars?: number;
  logger?: Logger;
  metrics?: Metrics;
  /** Escalation contacts for every channel (human handoff tests). */
  escalationContacts?: string[];
}

export interface TestEngine {
  engine: ConversationEngine;
  backends: StateBackends;
  keyPrefix: string;
  metrics: Metrics;
  close(): Promise<void>;
}

/** An engine on memory or real Redis, the way `main.ts` builds one, with a given answerer. */
export async function createTestEngine(options: TestEngineOptions): Promise<TestEngine> {
  const keyPrefix = options.keyPrefix ?? uniquePrefix('engine');
  const logger = options.logger ?? silentLogger();
  const metrics = options.metrics ?? new Metrics();
  const backends = await createStateBackends({
    redisUrl: options.redisUrl,
    redisClusterNodes: options.redisClusterNodes,
    connectWaitMs: options.connectWaitMs,
    keyPrefix,
    threadTtlMs: 3600_000,
    logger,
    lockTtlMs: options.lockTtlMs,
    waiterTtlMs: options.waiterTtlMs,
  });
  const compactor = options.compactor ?? sendEverythingCompactor();
  const budget = { windowTokens: 128_000, maxOutputTokens: 1024 };
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer: options.answerer,
    compactor,
    budget,
    ...(options.escalationContacts
      ? { policyFor: async () => ({ answerer: options.answerer, compactor, budget, escalationContacts: options.escalationContacts }) }
      : {}),
    logger,
    metrics,
    turnTimeoutMs: options.turnTimeoutMs ?? 15_000,
    ...(options.answerSaveGraceMs !== undefined ? { answerSaveGraceMs: options.answerSaveGraceMs } : {}),
    maxMessageChars: options.maxMessageChars ?? 8_000,
  });
  return {
    engine,
    backends,
    keyPrefix,
    metrics,
    close: async () => {
      await engine.close(5_000);
      await backends.close();
    },
  };
}

/** A compactor double that sends the whole stored history (for tests that are not about compaction). */
export function sendEverythingCompactor(): HistoryCompactor {
  return {
    async fit(state): Promise<CompactionResult> {
      const messages: ChatMessage[] = state.messages.map((stored) => ({ role: stored.role, content: stored.content }));
      return { messages, state, kind: 'none' };
    },
    correctFromUsage: (state) => state,
  };
}

export type ScriptStep =
  | { text: string; sources?: AnswerSource[]; citations?: Array<{ after: string; source: number }>; delayMs?: number; deltas?: string[] }
  | { error: Error; delayMs?: number };

/**
 * An answerer driven by a script (one step per call, the last step repeating, or a function of the
 * request) that records every request it was given — so tests can assert what history reached it.
 */
export function scriptedAnswerer(script: ScriptStep[] | ((request: AnswerRequest) => ScriptStep)): Answerer & { requests: AnswerRequest[] } {
  const requests: AnswerRequest[] = [];
  let call = 0;
  return {
    reservedTokens: 0,
    requests,
    async answer(request) {
      requests.push(request);
      const step = typeof script === 'function' ? script(request) : script[Math.min(call, script.length - 1)];
      call += 1;
      if (!step) throw new Error('empty script');
      if (step.delayMs) await abortableDelay(step.delayMs, request.signal);
      if ('error' in step) throw step.error;
      for (const delta of step.deltas ?? []) await request.progress({ type: 'text-delta', text: delta });
      return buildAnswer(step.text, step.sources ?? [], step.citations ?? []);
    },
  };
}

function buildAnswer(text: string, sources: AnswerSource[], citations: Array<{ after: string; source: number }>): Answer {
  const parts: AnswerPart[] = [];
  let rest = text;
  for (const citation of citations) {
    const at = rest.indexOf(citation.after);
    if (at < 0) continue;
    const end = at + citation.after.length;
    parts.push({ type: 'text', text: rest.slice(0, end) }, { type: 'citation', source: citation.source });
    rest = rest.slice(end);
  }
  if (rest) parts.push({ type: 'text', text: rest });
  return { id: randomUUID(), parts, sources, mode: sources.length > 0 ? 'generated' : 'chat', notices: [] };
}

async function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

/** A reply sink that records every event. */
export function recordingSink(): ReplySink & { events: ReplyEvent[]; firstEvent: Promise<ReplyEvent> } {
  const events: ReplyEvent[] = [];
  let resolveFirst!: (event: ReplyEvent) => void;
  const firstEvent = new Promise<ReplyEvent>((resolve) => (resolveFirst = resolve));
  return {
    events,
    firstEvent,
    async emit(event) {
      if (events.length === 0) resolveFirst(event);
      events.push(event);
    },
  };
}

let sequence = 0;

/** A normalised message for `threadKey`, with unique ids unless given. */
export function incomingMessage(threadKey: string, text: string, overrides: Partial<IncomingMessage> = {}): IncomingMessage {
  sequence += 1;
  const id = `${Date.now()}.${String(sequence).padStart(6, '0')}`;
  return {
    platform: 'console',
    threadKey,
    eventId: `test:${threadKey}:${id}`,
    messageId: id,
    scope: { workspaceId: 'local', channelId: 'test' },
    author: { id: 'U-test', name: 'Tester' },
    text,
    receivedAt: Date.now(),
    ...overrides,
  };
}
