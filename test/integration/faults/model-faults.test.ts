import { afterEach, describe, expect, it } from 'vitest';
import { searchThenCite } from '../../fakes/clova/default-responders.js';
import type { RagReasoningRequestView, ScriptedFault } from '../../fakes/clova/scripts.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { requireRedisUrl } from '../../support/redis.js';
import { createFaultBed, type AskedTurn, type FaultBed } from './support/fault-bed.js';

const QUESTION = 'How do I configure Redis for several replicas?';

/** The final reply is a cited answer: text with numbered sources and the feedback buttons. */
function expectCompleteAnswer(turn: AskedTurn): void {
  expect(turn.reply.components.length).toBeGreaterThan(0);
  expect(turn.reply.content).not.toMatch(/^⚠️/);
  expect(turn.reply.content).toMatch(/Redis/);
  expect(turn.reply.content).toMatch(/\[1\]/);
}

/** What the thread holds after one turn: the question, kept whatever happened, and the answer only when there was one. */
async function expectStoredTurn(bed: FaultBed, turn: AskedTurn, outcome: 'answered' | 'failed'): Promise<void> {
  const state = await bed.stored(turn.threadId);
  const roles = state?.messages.map((message) => [message.role, message.role === 'user' ? message.status : 'answer']);
  expect(roles).toEqual(outcome === 'answered' ? [['user', 'answered'], ['assistant', 'answer']] : [['user', 'failed']]);
  expect(state?.messages[0]).toMatchObject({ id: turn.interactionId, content: QUESTION });
}

/** The answer-writing call of RAG Reasoning is the one that comes back after the search results. */
function onAnswerCall(fault: ScriptedFault): (request: RagReasoningRequestView) => ReturnType<typeof searchThenCite> | ScriptedFault {
  let injected = false;
  return (request) => {
    if (!injected && request.messages.at(-1)?.role === 'tool') {
      injected = true;
      return fault;
    }
    return searchThenCite(request);
  };
}

describe('a whole turn when CLOVA Studio misbehaves', () => {
  let bed: FaultBed | undefined;
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('waits out a 429 storm by its Retry-After and then posts the complete answer once', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('rag-reasoning', { fault: 'rate-limit', retryAfterSeconds: 1 }, { fault: 'rate-limit', retryAfterSeconds: 1 });
    const turn = await bed.ask(QUESTION);

    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('rag-reasoning').map((request) => request.responseStatus)).toEqual([429, 429, 200, 200]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });

  it('says plainly that the model is busy when the 429s ask for longer than the retry budget, keeps the question, and the thread carries on', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('rag-reasoning', { fault: 'rate-limit', retryAfterSeconds: 120 });
    const turn = await bed.ask(QUESTION);

    expect(turn.reply.content).toBe('⚠️ The language model is busy right now. Please try again in a minute.');
    expect(turn.reply.components).toEqual([]);
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(1);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'failed');

    const next = await bed.ask('Redis를 어떻게 설정하나요?', turn.threadId);
    expect(next.reply.components.length).toBeGreaterThan(0);
    const state = await bed.stored(turn.threadId);
    expect(state?.messages.map((message) => [message.role, message.status])).toEqual([
      ['user', 'failed'],
      ['user', 'answered'],
      ['assistant', undefined],
    ]);
  });

  it('retries 500s from the reranker with backoff and posts the complete answer', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('reranker', { fault: 'http-500' }, { fault: 'http-500' });
    const turn = await bed.ask(QUESTION);

    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('reranker').map((request) => request.responseStatus)).toEqual([500, 500, 200]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });

  it('gives one clear line after 500s outlast every attempt, and keeps the question marked failed', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('rag-reasoning', ...Array.from({ length: 4 }, () => ({ fault: 'http-500' as const })));
    const turn = await bed.ask(QUESTION);

    expect(turn.reply.content).toBe('⚠️ The language model service had a problem. Please try again in a moment.');
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(4);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'failed');
  });

  it('waits for a slow first byte within the header timeout and answers completely', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('rag-reasoning', { fault: 'slow-first-byte', delayMs: 400 });
    const turn = await bed.ask(QUESTION);

    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(2);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });

  it('gives up on a first byte slower than the header timeout with a clear line and leaves no request open', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.injectFaults('rag-reasoning', { fault: 'slow-first-byte', delayMs: 2_500 });
    const turn = await bed.ask(QUESTION);

    expect(turn.reply.content).toBe('⚠️ The language model took too long to answer. Please try again.');
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'failed');
    const clova = bed.clova;
    await waitFor('the abandoned response to close', () => clova.activeResponses() === 0);
  });

  it('asks again when the answer is cut off mid-body, and posts the complete answer once', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.scriptRagReasoning(onAnswerCall({ fault: 'cut-mid-stream', text: '' }));
    const turn = await bed.ask(QUESTION);

    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(3);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });

  it('turns a malformed JSON answer into one clear line, never into a half answer', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl() });
    bed.clova.scriptRagReasoning(onAnswerCall({ fault: 'malformed-json' }));
    const turn = await bed.ask(QUESTION);

    expect(turn.reply.content).toBe('⚠️ The language model sent a reply I could not read. Please try again.');
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(2);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'failed');
  });
});
