import { afterEach, describe, expect, it } from 'vitest';
import { searchThenCiteInChat } from '../../fakes/clova/default-responders.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { fakeTokenPieces } from '../../fakes/clova/fake-token-count.js';
import { PROCESS_TEST_TIMEOUT_MS } from '../../support/processes/bot-process.js';
import { startTerminalBot, type TerminalBot } from '../../support/processes/terminal-bot.js';

const LEAD_IN = 'Here is what the guide says about it: ';

/** A promise the test settles by hand: the fake holds the stream until then. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Token events the fake streams before `prefix` of `text` is complete, and the text they carry. */
function tokensCovering(text: string, prefix: string): { tokens: number; streamed: string } {
  const pieces = fakeTokenPieces(text);
  let streamed = '';
  let tokens = 0;
  while (streamed.length < prefix.length && tokens < pieces.length) streamed += pieces[tokens++];
  return { tokens, streamed };
}

/** What the preview shows of streamed text: citation tags are never shown while streaming. */
function visible(streamed: string): string {
  return streamed.replace(/<\/?doc[^>]*>/g, '');
}

describe('the console chat on a terminal, answering through CLOVA chat completions (v3, streamed)', () => {
  let clova: FakeClova | undefined;
  let bot: TerminalBot | undefined;
  afterEach(async () => {
    bot?.kill();
    await bot?.exited;
    await clova?.close();
    bot = undefined;
    clova = undefined;
  });

  it('shows the answer as it streams, piece by piece, then replaces it with the cited answer and its sources', async () => {
    clova = await startFakeClova();
    const firstPause = gate();
    const secondPause = gate();
    const answerCall: { text?: string; visibleAtPauses?: [string, string] } = {};
    clova.scriptChat((request) => {
      const reply = searchThenCiteInChat(request);
      if (reply.toolCalls) return reply;
      // After the search: the cited answer, held twice mid-stream so the test sees what a person sees then.
      const text = `${LEAD_IN}${reply.text ?? ''}`;
      const opening = /^<([^>]+)>/.exec(reply.text ?? '');
      const first = tokensCovering(text, 'Here is what');
      const second = tokensCovering(text, `${LEAD_IN}${opening?.[0] ?? ''}${(reply.text ?? '').slice(opening?.[0].length ?? 0, (opening?.[0].length ?? 0) + 12)}`);
      answerCall.text = text;
      answerCall.visibleAtPauses = [visible(first.streamed), visible(second.streamed)];
      return { text, pauses: [{ afterTokens: first.tokens, until: firstPause.opened }, { afterTokens: second.tokens, until: secondPause.opened }] };
    });

    bot = startTerminalBot({ CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: clova.url, CLOVA_USE_RAG_REASONING: 'false' });
    await bot.waitForScreen('the prompt', (text) => text.includes('you>'));
    bot.type('How do I configure Redis for several replicas?');
    await bot.waitForScreen('the question as typed', (text) => text.includes('you> How do I configure Redis for several replicas?'));

    const [early, later] = await expectHeldAt(() => answerCall.visibleAtPauses);
    expect(later.length).toBeGreaterThan(early.length);
    await bot.waitForScreen(`the first streamed words "${early}"`, (text) => text.includes(`bot> ${early}`));
    // The model is still writing (the fake is holding the stream): nothing final is on screen yet.
    expect(bot.screenText()).not.toContain('Sources:');
    firstPause.open();
    await bot.waitForScreen(`more streamed text "${later}"`, (text) => text.includes(`bot> ${later}`));
    expect(bot.screenText()).not.toContain('Sources:');
    expect(bot.screenText()).not.toMatch(/<\/?doc/);
    secondPause.open();

    const screen = await bot.waitForScreen('the final answer with its sources', (text) => /Sources:\n {2}\[1\] \S/.test(text));
    // The final answer is printed after the preview was erased (cursor up, clear to end of screen)…
    const raw = bot.raw();
    const previewAt = raw.indexOf(later.slice(-8));
    const eraseAt = raw.indexOf('\x1b[J', previewAt);
    expect(previewAt).toBeGreaterThan(-1);
    expect(eraseAt).toBeGreaterThan(previewAt);
    expect(raw.indexOf('Sources:', eraseAt)).toBeGreaterThan(eraseAt);
    // …and carries numbered citation markers where the preview had none.
    const final = screen.slice(screen.lastIndexOf('bot> '));
    expect(final).toMatch(new RegExp(`^bot> ${escapeRegExp(LEAD_IN.trim())} .+\\[1\\]`));
    expect(final).not.toMatch(/<\/?doc/);

    // Streamed chat completions (the search step, then the answer), never RAG Reasoning.
    expect(clova.requestsFor('rag-reasoning')).toHaveLength(0);
    const chats = clova.requestsFor('chat');
    expect(chats.map((request) => [request.routePath, request.streaming, request.responseStatus])).toEqual([
      ['/v3/chat-completions/HCX-005', true, 200],
      ['/v3/chat-completions/HCX-005', true, 200],
    ]);

    bot.type('/quit');
    expect(await bot.exited).toEqual({ code: 0, signal: null });
  }, PROCESS_TEST_TIMEOUT_MS);
});

/** The visible text at both pauses, once the fake has planned the answer (it plans when the answer call arrives). */
async function expectHeldAt(planned: () => [string, string] | undefined): Promise<[string, string]> {
  await expect.poll(planned, { timeout: 60_000 }).toBeDefined();
  return planned()!;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
