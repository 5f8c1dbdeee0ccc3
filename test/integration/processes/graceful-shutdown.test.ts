import { describe, expect, it } from 'vitest';
import type { FakeClova } from '../../fakes/clova/fake-clova-server.js';
import type { RecordedCall } from '../../fakes/slack/fake-slack-api.js';
import { deliverEvent } from '../../fakes/slack/slack-events.js';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_WAIT_MS, startBotProcess, terminate, cleanUpAfterEachTest } from '../../support/processes/bot-process.js';
import { startDiscordSetup } from '../../support/processes/discord-interactions.js';
import { QUICK_RECOVERY_ENV, startProcessBed } from '../../support/processes/process-bed.js';
import { questionEnvelope, SLACK_SIGNING_SECRET, startSlackWorkspace, WORKSPACE } from '../../support/processes/slack-workspace.js';

const cleanups = cleanUpAfterEachTest();

describe('a bot process told to stop (SIGTERM) during a turn', () => {
  it('finishes the running answer, releases its locks and exits 0', async () => {
    const discord = await startDiscordSetup();
    cleanups.push(() => discord.close());
    const { clova, state, env } = await startProcessBed(cleanups, 'process-sigterm');
    // The model holds its answer until the test lets it go, so the signal certainly lands mid-turn.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    clova.scriptRagReasoning(async () => {
      await released;
      return { text: 'Set REDIS_URL and restart every replica.' };
    });
    const bot = await startBotProcess({ name: 'stopping', env: { ...discord.env, ...env } });

    const running = await discord.ask(bot.baseUrl, 'How do I point the bot at Redis?');
    await expect.poll(() => clova.requestsFor('rag-reasoning').length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    const threadKey = `discord:${discord.guildId}:${discord.fake.originalResponse(running.token)!.id}`;
    expect(await state.keys('lock')).toHaveLength(1);

    bot.signal('SIGTERM');
    await bot.waitForLog('the shutdown', (line) => line.msg?.startsWith('shutting down') === true);
    // The model call is still held: the process must wait for the answer it owes instead of exiting.
    expect(bot.hasExited()).toBe(false);
    // Meanwhile it tells the load balancer to send nothing new.
    const readiness = await fetch(`${bot.baseUrl}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({ checks: expect.arrayContaining([{ name: 'accepting-events', ok: false, failure: 'shutting_down' }]) });

    release();
    const exit = await bot.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const answered = discord.fake.originalResponse(running.token)!;
    expect(answered.content).toContain('Set REDIS_URL and restart every replica.');
    expect(answered.components.length).toBeGreaterThan(0);
    expect(clova.requestsFor('rag-reasoning')).toHaveLength(1);
    // The turn finished after the signal, and everything it held in Redis was given back.
    const messages = bot.logs().map((line) => line.msg);
    expect(messages.indexOf('turn answered')).toBeGreaterThan(messages.findIndex((message) => message?.startsWith('shutting down')));
    expect(await state.keys('lock')).toEqual([]);
    expect(await state.inFlight()).toEqual([]);
    expect((await state.thread(threadKey))?.messages.map((message) => [message.role, message.status])).toEqual([
      ['user', 'answered'],
      ['assistant', undefined],
    ]);
    // The only warning is readiness going down on purpose.
    expect(bot.logs().filter((line) => (line.level ?? 0) >= 40).map((line) => [line.msg, (line as { check?: string }).check])).toEqual([['readiness check fails', 'accepting-events']]);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('cancels a turn still running when SHUTDOWN_DEADLINE_MS ends, tells the user, and exits 0 on its own', async () => {
    const discord = await startDiscordSetup();
    cleanups.push(() => discord.close());
    const { clova, state, env } = await startProcessBed(cleanups, 'process-sigterm-deadline');
    // The model never answers while the test runs: only the deadline can end this turn.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Lets the held model call go once the test is over (before the fake closes: clean-ups run newest first).
    cleanups.push(async () => release());
    clova.scriptRagReasoning(async () => {
      await released;
      return { text: 'Too late.' };
    });
    const bot = await startBotProcess({ name: 'deadline', env: { ...discord.env, ...env, SHUTDOWN_DEADLINE_MS: '1000' } });

    const running = await discord.ask(bot.baseUrl, 'How do I point the bot at Redis?');
    await expect.poll(() => clova.requestsFor('rag-reasoning').length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    bot.signal('SIGTERM');

    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(bot.logs().map((line) => line.msg)).toContain('shutdown deadline reached; aborting running turns');
    // Part of the deadline is kept for this: the placeholder does not stay at "Thinking…", and says why.
    expect(discord.fake.originalResponse(running.token)?.content).toContain('I am restarting right now. Please send your message again in a moment.');
    expect(await state.keys('lock')).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('on Discord, still answers an /ask that arrives while it drains (Discord cannot redeliver it elsewhere), then exits', async () => {
    const discord = await startDiscordSetup();
    cleanups.push(() => discord.close());
    const { clova, state, env } = await startProcessBed(cleanups, 'process-sigterm-discord');
    const { asked, release } = holdingTheFirstQuestion(clova);
    const bot = await startBotProcess({ name: 'stopping', env: { ...discord.env, ...env } });

    const first = await discord.ask(bot.baseUrl, 'the first question');
    await expect.poll(() => asked.length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    bot.signal('SIGTERM');
    await bot.waitForLog('the shutdown', (line) => line.msg?.startsWith('shutting down') === true);

    const second = await discord.ask(bot.baseUrl, 'the second question');
    expect({ status: second.status, responseType: second.responseType }).toEqual({ status: 200, responseType: 5 });
    await expect.poll(() => discord.fake.originalResponse(second.token)?.content, { timeout: PROCESS_WAIT_MS }).toContain('Answer to the second question.');
    expect(bot.hasExited()).toBe(false);

    release();
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    for (const [interaction, answer] of [[first, 'first'], [second, 'second']] as const) {
      const original = discord.fake.originalResponse(interaction.token)!;
      expect(original.content).toContain(`Answer to the ${answer} question.`);
      expect(original.components.length).toBeGreaterThan(0);
    }
    expect(asked).toEqual(['the first question', 'the second question']);
    expect(await state.keys('lock')).toEqual([]);
    expect(await state.inFlight()).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('on Slack, answers 503 to events that arrive while it drains (Slack redelivers them to another replica) and still finishes its own', async () => {
    const slack = await startSlackWorkspace();
    cleanups.push(() => slack.fake.close());
    const { clova, state, env: bedEnv } = await startProcessBed(cleanups, 'process-sigterm-slack');
    const { asked, release } = holdingTheFirstQuestion(clova);
    const env = { ...slack.env, ...bedEnv };
    const [stopping, other] = await Promise.all([startBotProcess({ name: 'stopping', env }), startBotProcess({ name: 'other', env })]);
    const events = (bot: { baseUrl: string }) => `${bot.baseUrl}/slack/events`;

    const firstRoot = '1763960000.000100';
    await deliverEvent(events(stopping), SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: 'the first question', ts: firstRoot }));
    await expect.poll(() => asked.length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    stopping.signal('SIGTERM');
    await stopping.waitForLog('the shutdown', (line) => line.msg?.startsWith('shutting down') === true);

    const secondRoot = '1763960100.000100';
    const second = questionEnvelope({ as: 'app_mention', text: 'the second question', ts: secondRoot });
    expect((await deliverEvent(events(stopping), SLACK_SIGNING_SECRET, second)).status).toBe(503);
    expect((await deliverEvent(events(other), SLACK_SIGNING_SECRET, second, { retry: { num: 1, reason: 'http_error' } })).status).toBe(200);
    await expect.poll(() => slack.fake.store.threadReplies(WORKSPACE.channel, secondRoot).map((message) => message.text).join(), { timeout: PROCESS_WAIT_MS }).toContain('Answer to the second question.');
    expect(stopping.hasExited()).toBe(false);

    release();
    expect(await stopping.exited).toEqual({ code: 0, signal: null });
    expect(slack.fake.store.threadReplies(WORKSPACE.channel, firstRoot).map((message) => message.text).join()).toContain('Answer to the first question.');
    expect(asked).toEqual(['the first question', 'the second question']);
    expect(stopping.logs().filter((line) => line.msg === 'slack turn done').map((line) => line.outcome)).toEqual(['answered']);
    expect(await terminate(other)).toEqual({ code: 0, signal: null });
    expect(await state.keys('lock')).toEqual([]);
    expect(await state.inFlight()).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('on Slack, leaves a follow-up still waiting for its thread to another replica, which answers it once, after the turn ahead of it, in its placeholder', async () => {
    const slack = await startSlackWorkspace();
    cleanups.push(() => slack.fake.close());
    // Placeholders instead of the assistant status API: the waiting follow-up shows a message to finish.
    slack.fake.disableMethod('assistant.threads.setStatus', 'missing_scope');
    const { clova, state, env: bedEnv } = await startProcessBed(cleanups, 'process-sigterm-queued');
    const { asked, release } = holdingTheFirstQuestion(clova);
    const env = { ...slack.env, ...bedEnv, ...QUICK_RECOVERY_ENV, SHUTDOWN_DEADLINE_MS: '3000' };
    const [other, stopping] = await Promise.all([startBotProcess({ name: 'other', env }), startBotProcess({ name: 'stopping', env })]);
    const events = (bot: { baseUrl: string }) => `${bot.baseUrl}/slack/events`;

    const root = '1763960200.000100';
    const threadKey = `slack:${WORKSPACE.teamId}:${WORKSPACE.channel}:${root}`;
    await deliverEvent(events(other), SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: 'the first question', ts: root }));
    await expect.poll(() => asked.length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    await deliverEvent(events(stopping), SLACK_SIGNING_SECRET, questionEnvelope({ as: 'app_mention', text: 'the second question', ts: '1763960200.000200', threadTs: root }));
    await expect
      .poll(async () => ((await state.waiting(threadKey))[0]?.replyHandle as Record<string, string> | undefined)?.messageTs, { timeout: PROCESS_WAIT_MS })
      .toBeTruthy();
    const placeholder = ((await state.waiting(threadKey))[0]!.replyHandle as Record<string, string>).messageTs!;

    // The drain ends with the first question still being answered by the other replica: the process
    // exits on its deadline, leaving the follow-up behind without a word.
    stopping.signal('SIGTERM');
    expect(await stopping.exited).toEqual({ code: 0, signal: null });
    expect(asked).toEqual(['the first question']);
    expect(stopping.logs().filter((line) => line.msg === 'slack turn done').map((line) => line.outcome)).toEqual(['handed-over']);
    expect(slack.fake.calls.filter((call) => call.params.ts === placeholder && call.method === 'chat.update')).toEqual([]);

    release();
    await expect.poll(() => slack.fake.calls.filter(isFinalAnswer).length, { timeout: PROCESS_WAIT_MS }).toBe(2);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
    expect(await terminate(other)).toEqual({ code: 0, signal: null });
    expect(asked).toEqual(['the first question', 'the second question']);
    const finals = slack.fake.calls.filter(isFinalAnswer);
    expect(finals.at(-1)).toMatchObject({ method: 'chat.update', params: { ts: placeholder } });
    const replies = slack.fake.store.threadReplies(WORKSPACE.channel, root).map((message) => message.text);
    expect(replies.filter((text) => text.includes('Answer to the second question.'))).toHaveLength(1);
    expect(replies.filter((text) => /again|restarting/i.test(text))).toEqual([]);
    expect([...(await state.keys('lock')), ...(await state.keys('pending'))]).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);
});

/** A final answer on Slack: a post or an update that carries the feedback buttons. */
function isFinalAnswer(call: RecordedCall): boolean {
  if (call.method !== 'chat.update' && call.method !== 'chat.postMessage') return false;
  const blocks = call.params.blocks;
  return Array.isArray(blocks) && blocks.some((block) => (block as { type?: unknown }).type === 'actions');
}

/** Scripts the model to answer "the first question" only once released and any other at once, recording each question asked. */
function holdingTheFirstQuestion(clova: FakeClova): { asked: string[]; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const asked: string[] = [];
  clova.scriptRagReasoning(async (view) => {
    const question = String(view.messages.filter((message) => message.role === 'user').at(-1)?.content ?? '');
    asked.push(question);
    if (question.includes('first')) await released;
    return { text: `Answer to the ${question.includes('first') ? 'first' : 'second'} question.` };
  });
  return { asked, release };
}
