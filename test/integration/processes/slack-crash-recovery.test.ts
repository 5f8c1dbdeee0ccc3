import { describe, expect, it } from 'vitest';
import type { RecordedCall } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent } from '../../fakes/slack/slack-events.js';
import {
  PROCESS_TEST_TIMEOUT_MS,
  PROCESS_WAIT_MS,
  startBotProcess,
  terminate,
  cleanUpAfterEachTest,
  RECOVERED_TURN_LOG,
  RECOVERED_WAITING_MESSAGE_LOG,
} from '../../support/processes/bot-process.js';
import { QUICK_RECOVERY_ENV, startProcessBed } from '../../support/processes/process-bed.js';
import { questionEnvelope, SLACK_SIGNING_SECRET, startSlackWorkspace, WORKSPACE } from '../../support/processes/slack-workspace.js';

const cleanups = cleanUpAfterEachTest();

/** A fake Slack workspace and the shared bed, with the environment of bots that take over quickly from a killed peer. */
async function startWorkspace(label: string) {
  const slack = await startSlackWorkspace();
  cleanups.push(() => slack.fake.close());
  const bed = await startProcessBed(cleanups, label);
  return { slack, clova: bed.clova, state: bed.state, env: { ...slack.env, ...bed.env, ...QUICK_RECOVERY_ENV } };
}

/** The process the test kills mid-turn, and the one left to finish its work. */
function doomedAndSurvivor(env: Record<string, string>) {
  return Promise.all([startBotProcess({ name: 'doomed', env }), startBotProcess({ name: 'survivor', env })]);
}

describe('a bot process killed mid-turn on Slack (SIGKILL)', () => {
  it('leaves its placeholder in the thread, which the surviving process turns into the answer, once', async () => {
    const { slack, clova, state, env } = await startWorkspace('process-slack-crash');
    // Without the assistant status API the first sign of life is a placeholder message: the reply to finish.
    slack.fake.disableMethod('assistant.threads.setStatus', 'missing_scope');
    clova.injectFaults('rag-reasoning', { fault: 'slow-first-byte', delayMs: 60_000 });
    const [doomed, survivor] = await doomedAndSurvivor(env);

    // Slack delivers the mention twice; the doomed process claims it (the survivor's copy is a duplicate).
    const root = '1763950000.000100';
    const question = 'How do I point the bot at Redis?';
    await deliverEvent(`${doomed.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: question, ts: root }));
    await expect.poll(() => clova.requestsFor('rag-reasoning').length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    await deliverEvent(`${survivor.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope({ as: 'message', text: question, ts: root }));
    await survivor.waitForLog('the duplicate delivery', (line) => line.msg === 'slack turn done' && line.outcome === 'duplicate');
    const threadKey = `slack:${WORKSPACE.teamId}:${WORKSPACE.channel}:${root}`;
    // Mid-turn: the placeholder is in the thread and its ts is recorded with the in-flight turn.
    await expect.poll(async () => (await state.thread(threadKey))?.inFlight?.replyHandle, { timeout: PROCESS_WAIT_MS }).toMatchObject({ channelId: WORKSPACE.channel, threadTs: root });
    const placeholderTs = (await state.thread(threadKey))!.inFlight!.replyHandle!.messageTs!;
    expect(slack.fake.store.threadReplies(WORKSPACE.channel, root).map((message) => message.ts)).toEqual([placeholderTs]);

    doomed.signal('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await expect.poll(() => slack.fake.calls.filter(isFinalAnswer).length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
    expect(await terminate(survivor)).toEqual({ code: 0, signal: null });

    expect(survivor.logs().filter((line) => line.msg === RECOVERED_TURN_LOG)).toHaveLength(1);
    // The answer went into the placeholder the dead process had posted, once; the thread holds that one message.
    expect(slack.fake.calls.filter(isFinalAnswer).map((call) => ({ method: call.method, ts: call.params.ts, auth: call.auth }))).toEqual([
      { method: 'chat.update', ts: placeholderTs, auth: 'bot' },
    ]);
    expect(slack.fake.callsTo('chat.postMessage')).toHaveLength(1);
    const replies = slack.fake.store.threadReplies(WORKSPACE.channel, root);
    expect(replies.map((message) => message.ts)).toEqual([placeholderTs]);
    expect(replies[0]!.text).toContain('REDIS_URL');
    const lastReasoning = clova.requestsFor('rag-reasoning').at(-1)!.body as { messages: Array<{ role: string; content: string }> };
    expect(lastReasoning.messages.filter((message) => message.role === 'user').map((message) => message.content)).toEqual([question]);
    expect((await state.thread(threadKey))?.messages.map((message) => [message.role, message.status])).toEqual([
      ['user', 'answered'],
      ['assistant', undefined],
    ]);
    expect(await state.keys('lock')).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('leaves a second question that was waiting for the thread, which the survivor answers after the first, each once, in its placeholder', async () => {
    const { slack, clova, state, env } = await startWorkspace('process-slack-queued-crash');
    // Placeholders instead of the assistant status API: each turn's first sign of life is a message to finish.
    slack.fake.disableMethod('assistant.threads.setStatus', 'missing_scope');
    clova.injectFaults('rag-reasoning', { fault: 'slow-first-byte', delayMs: 60_000 });
    const [doomed, survivor] = await doomedAndSurvivor(env);

    const root = '1763990000.000100';
    const followUpTs = '1763990000.000200';
    const first = 'How do I point the bot at Redis?';
    const second = 'And how many replicas can share it?';
    const threadKey = `slack:${WORKSPACE.teamId}:${WORKSPACE.channel}:${root}`;
    await deliverEvent(`${doomed.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: first, ts: root }));
    await expect.poll(() => clova.requestsFor('rag-reasoning').length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    await expect.poll(async () => (await state.thread(threadKey))?.inFlight?.replyHandle?.messageTs, { timeout: PROCESS_WAIT_MS }).toBeTruthy();
    const firstPlaceholder = (await state.thread(threadKey))!.inFlight!.replyHandle!.messageTs!;
    // The follow-up waits behind the running turn, showing a "waiting…" placeholder of its own.
    await deliverEvent(`${doomed.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: second, ts: followUpTs, threadTs: root }));
    await expect
      .poll(async () => ((await state.waiting(threadKey))[0]?.replyHandle as Record<string, string> | undefined)?.messageTs, { timeout: PROCESS_WAIT_MS })
      .toBeTruthy();
    const waiting = await state.waiting(threadKey);
    expect(waiting.map((message) => [message.messageId, message.text])).toEqual([[`slack:${WORKSPACE.teamId}:${WORKSPACE.channel}:${followUpTs}`, second]]);
    const secondPlaceholder = (waiting[0]!.replyHandle as Record<string, string>).messageTs!;
    expect(slack.fake.store.threadReplies(WORKSPACE.channel, root).map((message) => message.ts)).toEqual([firstPlaceholder, secondPlaceholder]);

    doomed.signal('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await expect.poll(() => slack.fake.calls.filter(isFinalAnswer).length, { timeout: PROCESS_WAIT_MS }).toBe(2);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
    expect(await terminate(survivor)).toEqual({ code: 0, signal: null });

    expect(survivor.logs().filter((line) => line.msg === RECOVERED_TURN_LOG)).toHaveLength(1);
    expect(survivor.logs().filter((line) => line.msg === RECOVERED_WAITING_MESSAGE_LOG)).toHaveLength(1);
    // Each answer went, once and in order, into the placeholder its own question had shown.
    expect(slack.fake.calls.filter(isFinalAnswer).map((call) => ({ method: call.method, ts: call.params.ts }))).toEqual([
      { method: 'chat.update', ts: firstPlaceholder },
      { method: 'chat.update', ts: secondPlaceholder },
    ]);
    expect(slack.fake.store.threadReplies(WORKSPACE.channel, root).map((message) => message.ts)).toEqual([firstPlaceholder, secondPlaceholder]);
    // The second question was asked with the first turn (answered) before it in the history.
    const lastReasoning = clova.requestsFor('rag-reasoning').at(-1)!.body as { messages: Array<{ role: string; content: string }> };
    expect(lastReasoning.messages.filter((message) => message.role === 'user').map((message) => message.content)).toEqual([first, second]);
    expect((await state.thread(threadKey))?.messages.map((message) => [message.role, message.role === 'user' ? message.content : 'answer', message.status])).toEqual([
      ['user', first, 'answered'],
      ['assistant', 'answer', undefined],
      ['user', second, 'answered'],
      ['assistant', 'answer', undefined],
    ]);
    expect(await state.waiting(threadKey)).toEqual([]);
    expect([...(await state.keys('lock')), ...(await state.keys('pending'))]).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);

  // The sink starts its native stream from the preview timer, after the last event the engine saw:
  // the stream must still be recorded, or the survivor posts a second message beside a dead stream.
  it('leaves a half-written native stream, which a survivor closes and overwrites with the whole answer', async () => {
    const { slack, clova, state, env } = await startWorkspace('process-slack-stream-crash');
    // The chat model (function calling, streamed) writes a few words, then goes quiet: the process dies mid-sentence.
    clova.injectFaults('chat', { fault: 'stall-mid-stream', text: 'Set REDIS_URL to your Redis address and restart every replica of the bot.', afterTokens: 8, stallMs: 60_000 });
    const [doomed, survivor] = await doomedAndSurvivor({ ...env, CLOVA_USE_RAG_REASONING: 'false' });

    const root = '1763970000.000100';
    const question = 'How do I point the bot at Redis?';
    await deliverEvent(`${doomed.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: question, ts: root }));
    const threadKey = `slack:${WORKSPACE.teamId}:${WORKSPACE.channel}:${root}`;
    await expect.poll(async () => (await state.thread(threadKey))?.inFlight?.replyHandle?.streamingTs, { timeout: PROCESS_WAIT_MS }).toBeTruthy();
    const streamTs = (await state.thread(threadKey))!.inFlight!.replyHandle!.streamingTs!;
    const streamed = slack.fake.store.threadReplies(WORKSPACE.channel, root);
    expect(streamed.map((message) => [message.ts, message.streamingState])).toEqual([[streamTs, 'in_progress']]);
    expect(streamed[0]!.text.length).toBeGreaterThan(0);

    doomed.signal('SIGKILL');
    await doomed.exited;

    await expect.poll(() => slack.fake.calls.filter(isFinalAnswer).length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    expect(await terminate(survivor)).toEqual({ code: 0, signal: null });
    // The survivor ended the dead stream, then put the whole answer into that same message.
    const onStream = slack.fake.calls.filter((call) => call.params.ts === streamTs && !call.error);
    const stopped = onStream.findIndex((call) => call.method === 'chat.stopStream');
    expect(stopped).toBeGreaterThan(-1);
    expect(new Set(onStream.slice(stopped + 1).map((call) => call.method))).toEqual(new Set(['chat.update']));
    expect(isFinalAnswer(onStream.at(-1)!)).toBe(true);
    expect(slack.fake.calls.filter(isFinalAnswer).map((call) => call.params.ts)).toEqual([streamTs]);
    const replies = slack.fake.store.threadReplies(WORKSPACE.channel, root);
    expect(replies.map((message) => [message.ts, message.streamingState])).toEqual([[streamTs, 'completed']]);
    expect(replies[0]!.text).toContain(question);
    expect(survivor.logs().filter((line) => line.msg === RECOVERED_TURN_LOG)).toHaveLength(1);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);
});

/** A post or edit carrying the answer's feedback buttons: only a finished answer has them. */
function isFinalAnswer(call: RecordedCall): boolean {
  if (call.method !== 'chat.update' && call.method !== 'chat.postMessage') return false;
  const blocks = call.params.blocks;
  return Array.isArray(blocks) && blocks.some((block) => (block as { type?: unknown }).type === 'actions');
}
