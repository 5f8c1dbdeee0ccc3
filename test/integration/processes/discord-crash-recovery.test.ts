import { describe, expect, it } from 'vitest';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_WAIT_MS, startBotProcess, terminate, type BotProcess, cleanUpAfterEachTest, RECOVERED_TURN_LOG } from '../../support/processes/bot-process.js';
import { startDiscordSetup } from '../../support/processes/discord-interactions.js';
import { QUICK_RECOVERY_ENV, startProcessBed } from '../../support/processes/process-bed.js';

const cleanups = cleanUpAfterEachTest();

describe('a bot process killed mid-turn (SIGKILL)', () => {
  it('leaves its Discord placeholder, which exactly one of two surviving processes finishes in place', async () => {
    const discord = await startDiscordSetup();
    cleanups.push(() => discord.close());
    const { clova, state, env: bedEnv } = await startProcessBed(cleanups, 'process-crash');
    // The first reasoning call never answers in time: the process dies while waiting for it.
    clova.injectFaults('rag-reasoning', { fault: 'slow-first-byte', delayMs: 60_000 });
    const env = { ...discord.env, ...bedEnv, ...QUICK_RECOVERY_ENV, LOG_LEVEL: 'debug' };
    const [doomed, survivorB, survivorC] = await Promise.all([
      startBotProcess({ name: 'doomed', env }),
      startBotProcess({ name: 'survivor-b', env }),
      startBotProcess({ name: 'survivor-c', env }),
    ]);

    const question = 'How do I point the bot at Redis?';
    const asked = await discord.ask(doomed.baseUrl, question);
    expect(asked).toMatchObject({ status: 200, responseType: 5 });
    await expect.poll(() => clova.requestsFor('rag-reasoning').length, { timeout: PROCESS_WAIT_MS }).toBe(1);
    const original = discord.fake.originalResponse(asked.token)!;
    const threadKey = `discord:${discord.guildId}:${original.id}`;
    // Mid-turn: the placeholder is on Discord and its handle is recorded with the in-flight turn.
    await expect.poll(async () => (await state.thread(threadKey))?.inFlight?.replyHandle, { timeout: PROCESS_WAIT_MS }).toEqual({
      conversationChannelId: original.id,
      firstChannelId: discord.channelId,
      firstMessageId: original.id,
    });
    expect(original.components).toEqual([]);
    expect(original.content).not.toContain('Sources');

    doomed.signal('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await explained(expect.poll(() => original.components.length, { timeout: PROCESS_WAIT_MS }).toBeGreaterThan(0), [survivorB, survivorC]);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
    // Both survivors stop cleanly; after that nothing more can reach Discord.
    expect(await Promise.all([terminate(survivorB), terminate(survivorC)])).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);

    const recoveredBy = [survivorB, survivorC].filter((bot) => bot.logs().some((line) => line.msg === RECOVERED_TURN_LOG));
    expect(recoveredBy).toHaveLength(1);
    expect(recoveredBy[0]!.logs().filter((line) => line.msg === RECOVERED_TURN_LOG)).toHaveLength(1);
    expect(original.content).toContain('Sources');
    // The survivor edited the very message the dead process had posted, once, with the bot token
    // (the interaction token died with the process), and posted no second answer anywhere.
    const finalEdits = discord.fake.requests.filter((request) => request.method === 'PATCH' && hasComponents(request.body));
    expect(finalEdits.map((request) => ({ path: request.path, auth: request.auth, status: request.status }))).toEqual([
      { path: `/channels/${discord.channelId}/messages/${original.id}`, auth: 'bot', status: 200 },
    ]);
    expect([...discord.fake.messages.values()].filter((message) => !message.deleted).map((message) => message.id)).toEqual([original.id]);
    // The survivor asked the model the dead process's question; the thread holds it once, answered.
    const lastReasoning = clova.requestsFor('rag-reasoning').at(-1)!.body as { messages: Array<{ role: string; content: string }> };
    expect(lastReasoning.messages.filter((message) => message.role === 'user').map((message) => message.content)).toEqual([question]);
    // The in-flight record is cleared right after the post lands.
    await expect.poll(async () => (await state.thread(threadKey))?.inFlight, { timeout: PROCESS_WAIT_MS }).toBeUndefined();
    const thread = await state.thread(threadKey);
    expect(thread?.messages.map((message) => [message.role, message.status])).toEqual([
      ['user', 'answered'],
      ['assistant', undefined],
    ]);
    expect(await state.keys('lock')).toEqual([]);
    expectNoUnhandledFailures([survivorB, survivorC]);
  }, PROCESS_TEST_TIMEOUT_MS);
});

/** Adds the survivors' warnings and errors (messages and codes only) to a failure, since the processes' state is gone afterwards. */
async function explained(assertion: Promise<void>, bots: BotProcess[]): Promise<void> {
  try {
    await assertion;
  } catch (error) {
    const notes = bots.map((bot) => `${bot.name}: ${JSON.stringify(bot.logs().filter((line) => (line.level ?? 0) >= 40).map((line) => [line.msg, line.code ?? line.err]))}`);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${notes.join('\n')}`);
  }
}

function hasComponents(body: unknown): boolean {
  const components = (body as { components?: unknown[] } | undefined)?.components;
  return Array.isArray(components) && components.length > 0;
}

/** No error-level line (pino level 50+) in the survivors' logs. */
function expectNoUnhandledFailures(bots: BotProcess[]): void {
  for (const bot of bots) expect(bot.logs().filter((line) => (line.level ?? 0) >= 50).map((line) => line.msg)).toEqual([]);
}
