/**
 * What the soak reads from Redis directly: command counts (INFO commandstats) and, at the end,
 * every thread's stored history, compared with what the harness asked in that thread.
 */
import { createClient } from '@keyv/redis';
import { threadStateSchema } from '../../src/history/thread-state.js';
import { answeredTagOf } from './settings.js';

type Client = Awaited<ReturnType<typeof connectRedis>>;

export async function connectRedis(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Calls per command the server has executed since it started (`INFO commandstats`). */
export async function commandCalls(client: Client): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
  return calls;
}

/** `later` minus `earlier`, per command (commands absent from `earlier` count from zero). */
export function callsBetween(earlier: Map<string, number>, later: Map<string, number>): Map<string, number> {
  return new Map([...later].map(([command, calls]) => [command, calls - (earlier.get(command) ?? 0)]));
}

/** The sum of several per-command counts. */
export function addCalls(...counts: Array<Map<string, number>>): Map<string, number> {
  const total = new Map<string, number>();
  for (const count of counts) for (const [command, calls] of count) total.set(command, (total.get(command) ?? 0) + calls);
  return total;
}

/** One thread as the harness ran it: the questions of its answered turns, in order. */
export interface ExpectedThread {
  threadKey: string;
  /** Stored user message ids, texts and turn tags of the turns that got an answer. */
  turns: Array<{ messageId: string; text: string; tag: string }>;
  /**
   * Messages of this thread that got no answer (the user was told they could not be taken, or that
   * answering failed): the thread may keep them only marked as failed (nothing the user wrote is
   * dropped), never as answered or still open.
   */
  unanswered: Array<{ messageId: string; tag: string }>;
}

export interface HistoryVerdict {
  threadsChecked: number;
  threadsConsistent: number;
  /** Unanswered messages the thread kept, marked failed (allowed). */
  unansweredKeptAsFailed: number;
  /** The first few problems, for reading a failed run. */
  problems: string[];
}

/**
 * Each thread must hold exactly its answered user messages in the order they were asked, each marked
 * answered and followed by the one answer to that turn, with no turn left in flight.
 */
export async function verifyHistories(client: Client, keyPrefix: string, threads: ExpectedThread[]): Promise<HistoryVerdict> {
  const problems: string[] = [];
  let consistent = 0;
  let keptAsFailed = 0;
  for (const thread of threads) {
    const checked = await checkThread(client, `${keyPrefix}:thread:${thread.threadKey}`, thread);
    keptAsFailed += checked.keptAsFailed;
    if (checked.problem) {
      if (problems.length < 10) problems.push(`${thread.threadKey}: ${checked.problem}`);
    } else {
      consistent += 1;
    }
  }
  return { threadsChecked: threads.length, threadsConsistent: consistent, unansweredKeptAsFailed: keptAsFailed, problems };
}

async function checkThread(client: Client, key: string, expected: ExpectedThread): Promise<{ problem?: string; keptAsFailed: number }> {
  const raw = await client.get(key);
  if (raw === null) return expected.turns.length === 0 ? { keptAsFailed: 0 } : { problem: 'no stored state', keptAsFailed: 0 };
  const parsed = threadStateSchema.safeParse((JSON.parse(raw) as { value?: unknown }).value);
  if (!parsed.success) return { problem: 'stored state does not match the schema', keptAsFailed: 0 };
  const state = parsed.data;
  const unanswered = new Map(expected.unanswered.map((turn) => [turn.messageId, turn.tag]));
  const kept = state.messages.filter((message) => message.role === 'user' && unanswered.has(message.id));
  const keptAsFailed = kept.filter((message) => message.status === 'failed').length;
  const problem = (text: string) => ({ problem: text, keptAsFailed });
  const wronglyKept = kept.find((message) => message.status !== 'failed');
  if (wronglyKept) return problem(`turn ${unanswered.get(wronglyKept.id)} got no answer, yet its message is stored ${wronglyKept.status ?? 'unmarked'}`);
  if (state.inFlight) return problem('a turn is still marked in flight');
  const messages = state.messages.filter((message) => !(message.role === 'user' && unanswered.has(message.id)));
  if (messages.length !== expected.turns.length * 2) return problem(`${messages.length} messages stored, expected ${expected.turns.length * 2}`);
  for (const [index, turn] of expected.turns.entries()) {
    const user = messages[index * 2];
    const assistant = messages[index * 2 + 1];
    if (user?.role !== 'user' || user.id !== turn.messageId) return problem(`message ${index * 2} is not the user message of turn ${turn.tag}`);
    if (user.content !== turn.text) return problem(`turn ${turn.tag}: stored text differs from what was asked`);
    if (user.status !== 'answered') return problem(`turn ${turn.tag}: user message is ${user.status ?? 'unmarked'}`);
    if (assistant?.role !== 'assistant' || answeredTagOf(assistant.content) !== turn.tag) return problem(`turn ${turn.tag}: its answer does not follow the question`);
  }
  return { keptAsFailed };
}
