import { afterEach, describe, expect, it } from 'vitest';
import { searchThenCite, searchThenCiteInChat } from '../../fakes/clova/default-responders.js';
import { fakeTokenPieces } from '../../fakes/clova/fake-token-count.js';
import type { ChatReply, ChatRequestView, RagReasoningRequestView, ScriptedFault } from '../../fakes/clova/scripts.js';
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

/** A failed turn leaves its thread usable: the next question is answered, after the failed one kept in the history. */
async function expectThreadCarriesOn(bed: FaultBed, failed: AskedTurn): Promise<void> {
  const next = await bed.ask('Redis를 어떻게 설정하나요?', failed.threadId);
  expect(next.reply.components.length).toBeGreaterThan(0);
  const state = await bed.stored(failed.threadId);
  expect(state?.messages.map((message) => [message.role, message.status])).toEqual([
    ['user', 'failed'],
    ['user', 'answered'],
    ['assistant', undefined],
  ]);
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

    await expectThreadCarriesOn(bed, turn);
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

/** The chat call that writes the answer is the one that comes back after the search results. */
function onChatAnswerCall(fault: ScriptedFault | ((request: ChatRequestView) => ScriptedFault)): (request: ChatRequestView) => ChatReply {
  let injected = false;
  return (request) => {
    if (!injected && request.messages.at(-1)?.role === 'tool') {
      injected = true;
      return typeof fault === 'function' ? fault(request) : fault;
    }
    return searchThenCiteInChat(request);
  };
}

/** A promise the test settles by hand: the fake holds the stream until then. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** What the answer stream has written when the fault strikes (no Markdown in it, so Discord shows it verbatim). */
const ANSWER_START = 'Point every replica at the same Redis server and restart them one by one.';
/** How much of it the preview shows before the stream breaks. */
const STREAMED_BEFORE_FAULT = 'Point every replica';

/** No message anywhere in the conversation still shows the broken-off answer. */
function expectNoHalfAnswerLeft(bed: FaultBed, turn: AskedTurn): void {
  for (const channelId of [bed.discord.channelId, turn.threadId]) {
    const leftovers = bed.discord.fake.channelMessages(channelId).filter((message) => message.content.includes(STREAMED_BEFORE_FAULT));
    expect(leftovers.map((message) => message.content)).toEqual([]);
  }
}

describe('a whole turn when the streamed CLOVA chat answer misbehaves (CLOVA_USE_RAG_REASONING=false)', () => {
  let bed: FaultBed | undefined;
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('replaces the preview of an answer cut off mid-stream with one clear line, keeps the question, and the thread carries on', async () => {
    // The stream is held while the test looks, so the body timeout must outlast that look.
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), reasoner: 'chat', modelBodyTimeoutMs: 30_000 });
    const cut = gate();
    const afterTokens = 6;
    bed.clova.scriptChat(onChatAnswerCall({ fault: 'cut-mid-stream', text: ANSWER_START, afterTokens, pauses: [{ afterTokens, until: cut.opened }] }));
    expect(fakeTokenPieces(ANSWER_START).slice(0, afterTokens).join('')).toContain(STREAMED_BEFORE_FAULT);

    const asked = bed.startAsk(QUESTION);
    await waitFor('the streamed start of the answer on Discord', () => asked.shown()?.content.includes(STREAMED_BEFORE_FAULT) ?? false, 15_000);
    cut.open();
    const turn = await asked.turn;

    expect(turn.reply.content).toBe('⚠️ My answer broke off before it was finished because the language model service stopped sending it. Please ask again.');
    expect(turn.reply.components).toEqual([]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    expectNoHalfAnswerLeft(bed, turn);
    // Streamed, as the chat path is; a stream that already delivered text is never sent again.
    expect(bed.clova.requestsFor('chat').map((request) => request.streaming)).toEqual([true, true]);
    expect(bed.clova.requestsFor('rag-reasoning')).toHaveLength(0);
    await expectStoredTurn(bed, turn, 'failed');

    await expectThreadCarriesOn(bed, turn);
  });

  it('replaces the preview with one clear line when an error event arrives mid-answer', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), reasoner: 'chat', modelBodyTimeoutMs: 30_000 });
    const failing = gate();
    bed.clova.scriptChat(onChatAnswerCall({ fault: 'error-event', text: ANSWER_START, pauses: [{ afterTokens: fakeTokenPieces(ANSWER_START).length, until: failing.opened }] }));

    const asked = bed.startAsk(QUESTION);
    await waitFor('the streamed answer on Discord', () => asked.shown()?.content.includes(STREAMED_BEFORE_FAULT) ?? false, 15_000);
    failing.open();
    const turn = await asked.turn;

    // The error event carries 40003 (context length exceeded), as CLOVA sends it on a stream.
    expect(turn.reply.content).toBe('⚠️ This conversation is too long for the model. Please start a new thread or shorten your message.');
    expect(turn.reply.components).toEqual([]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    expectNoHalfAnswerLeft(bed, turn);
    await expectStoredTurn(bed, turn, 'failed');
  });

  it('turns a data: line that is not JSON into one clear line, never into a half answer', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), reasoner: 'chat' });
    bed.clova.scriptChat(onChatAnswerCall({ fault: 'malformed-json' }));
    const turn = await bed.ask(QUESTION);

    expect(turn.reply.content).toBe('⚠️ The language model sent a reply I could not read. Please try again.');
    expect(turn.reply.components).toEqual([]);
    expect(bed.clova.requestsFor('chat')).toHaveLength(2);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'failed');
  });

  it('waits for a slow first byte of the streamed answer within the header timeout and posts the complete cited answer once', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), reasoner: 'chat' });
    bed.clova.scriptChat(onChatAnswerCall((request) => ({ fault: 'slow-first-byte', delayMs: 400, then: searchThenCiteInChat(request) })));
    const turn = await bed.ask(QUESTION);

    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('chat').map((request) => [request.streaming, request.responseStatus])).toEqual([
      [true, 200],
      [true, 200],
    ]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });

  it('sends the answer request again when its stream breaks before the first event, and posts the complete answer once', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), reasoner: 'chat' });
    bed.clova.scriptChat(onChatAnswerCall({ fault: 'cut-mid-stream', text: ANSWER_START, afterTokens: 0 }));
    const turn = await bed.ask(QUESTION);

    // Nothing of the broken stream reached anyone, so sending it again cannot show anything twice.
    expectCompleteAnswer(turn);
    expect(bed.clova.requestsFor('chat').map((request) => request.streaming)).toEqual([true, true, true]);
    expect(bed.finalRepliesSent(turn.token)).toHaveLength(1);
    await expectStoredTurn(bed, turn, 'answered');
  });
});
