/**
 * What the soak reads from Redis directly: command counts (INFO commandstats) and, at the end,
 * every thread's stored history, compared with what the harness asked in that thread.
 */
import { createClient } from '@keyv/redis';
import { threadStateSchema } from '../../src/history/thread-state.js';

type Client = Awaited<ReturnType<typeof connectRedis>>;

export async function connectRedis(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Commands the server has executed since it started (every command type summed). */
export async function commandsExecuted(client: Client): Promise<number> {
  const info = await client.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(match[1]);
  return total;
}

/** One thread as the harness ran it: the questions of its answered turns, in order. */
export interface ExpectedThread {
  threadKey: string;
  /** Interaction ids (the stored user message ids) and texts of the turns that got an answer. */
  turns: Array<{ messageId: string; text: string }>;
}

export interface HistoryVerdict {
  threadsChecked: number;
  threadsConsistent: number;
  /** The first few problems, for reading a failed run. */
  problems: string[];
}

/**
 * Each thread must hold exactly its user messages in the order they were asked, each answered
 * and followed by its one assistant message, with no turn left in flight.
 */
export async function verifyHistories(client: Client, keyPrefix: string, threads: ExpectedThread[]): Promise<HistoryVerdict> {
  const problems: string[] = [];
  let consistent = 0;
  for (const thread of threads) {
    const problem = await checkThread(client, `${keyPrefix}:thread:${thread.threadKey}`, thread);
    if (problem) {
      if (problems.length < 10) problems.push(`${thread.threadKey}: ${problem}`);
    } else {
      consistent += 1;
    }
  }
  return { threadsChecked: threads.length, threadsConsistent: consistent, problems };
}

async function checkThread(client: Client, key: string, expected: ExpectedThread): Promise<string | undefined> {
  const raw = await client.get(key);
  if (raw === null) return expected.turns.length === 0 ? undefined : 'no stored state';
  const parsed = threadStateSchema.safeParse((JSON.parse(raw) as { value?: unknown }).value);
  if (!parsed.success) return 'stored state does not match the schema';
  const state = parsed.data;
  if (state.inFlight) return 'a turn is still marked in flight';
  if (state.messages.length !== expected.turns.length * 2) return `${state.messages.length} messages stored, expected ${expected.turns.length * 2}`;
  for (const [index, turn] of expected.turns.entries()) {
    const user = state.messages[index * 2];
    const assistant = state.messages[index * 2 + 1];
    if (user?.role !== 'user' || user.id !== turn.messageId) return `message ${index * 2} is not the user message of turn ${index}`;
    if (user.content !== turn.text) return `turn ${index}: stored text differs from what was asked`;
    if (user.status !== 'answered') return `turn ${index}: user message is ${user.status ?? 'unmarked'}`;
    if (assistant?.role !== 'assistant' || assistant.content.length === 0) return `turn ${index}: no answer follows the question`;
  }
  return undefined;
}
