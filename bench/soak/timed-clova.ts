/**
 * The fake CLOVA Studio for the soak: the fake's own computed replies (search, then cite; lexical
 * rerank), each after a fixed latency, with the wall-clock interval of every call kept per turn so
 * the harness can take model time out of a turn's duration.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { startFakeClova, FAKE_CLOVA_API_KEY } from '../../test/fakes/clova/fake-clova-server.js';
import { lexicalReranker, searchThenCite } from '../../test/fakes/clova/default-responders.js';
import { answerMarker, soakTagOf, withoutSoakTag } from './settings.js';

/** `[start, end]` in `performance.now()` milliseconds. */
export type Interval = [number, number];

export interface TimedClova {
  url: string;
  apiKey: string;
  /** Removes and returns the model calls recorded for a turn tag (`12.3`). */
  takeCalls(tag: string): Interval[];
  /** Calls that carried no soak tag (should stay 0). */
  readonly untagged: number;
  close(): Promise<void>;
}

export async function startTimedClova(latencyMs: number): Promise<TimedClova> {
  const fake = await startFakeClova();
  const calls = new Map<string, Interval[]>();
  let untagged = 0;
  // The fake keeps every request body for tests; over tens of thousands of calls that is hundreds of megabytes.
  const forget = setInterval(() => fake.requests.splice(0), 1_000);
  const record = (tag: string | undefined, started: number) => {
    if (!tag) {
      untagged += 1;
      return;
    }
    const list = calls.get(tag) ?? [];
    list.push([started, performance.now()]);
    calls.set(tag, list);
  };
  fake.scriptRagReasoning(async (request) => {
    const started = performance.now();
    await delay(latencyMs);
    const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
    const tag = soakTagOf(typeof lastUser?.content === 'string' ? lastUser.content : '');
    record(tag, started);
    const reply = searchThenCite(request);
    // Marked with its turn so the harness can attribute every answer it sees posted or stored.
    return reply.text !== undefined && tag ? { ...reply, text: `${answerMarker(tag)} ${reply.text}` } : reply;
  });
  fake.scriptReranker(async (request) => {
    const started = performance.now();
    await delay(latencyMs);
    record(soakTagOf(request.query), started);
    // The tag is bookkeeping, not part of the question: it must not change what gets cited.
    return lexicalReranker({ ...request, query: withoutSoakTag(request.query) });
  });
  return {
    url: fake.url,
    apiKey: FAKE_CLOVA_API_KEY,
    takeCalls(tag) {
      const list = calls.get(tag) ?? [];
      calls.delete(tag);
      return list;
    },
    get untagged() {
      return untagged;
    },
    async close() {
      clearInterval(forget);
      await fake.close();
    },
  };
}
