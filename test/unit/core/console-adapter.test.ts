import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runConsoleChat, terminalRows } from '../../../adapters/console/console-adapter.js';
import { renderAnswerAsText } from '../../../adapters/console/render-text.js';
import type { Answerer } from '../../../src/engine/answerer.js';
import { BotError } from '../../../src/errors.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { withoutEscapes } from '../../support/processes/terminal-bot.js';

const fixtures: TestEngine[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.close();
});

async function chat(lines: string[], interactive: boolean, answerer: Answerer = citingAnswerer(), columns = 40) {
  const fixture = await createTestEngine({ answerer });
  fixtures.push(fixture);
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  input.end(lines.map((line) => `${line}\n`).join(''));
  const result = await runConsoleChat({ engine: fixture.engine, input, output: Object.assign(output, { columns }), interactive, banner: 'threadline — test' });
  return { result, printed };
}

function citingAnswerer() {
  return scriptedAnswerer((request) => ({
    text: `answer ${request.history.length}`,
    deltas: ['ans', 'wer'],
    sources: [{ docId: 'guide#1', title: 'Guide › Setup', url: 'https://example.test/guide', snippet: '…' }],
    citations: [{ after: 'answer', source: 1 }],
  }));
}

/** Streams the start of an answer, then fails the way a model stream cut mid-answer does. */
const cutOffAnswerer: Answerer = {
  reservedTokens: 0,
  async answer(request) {
    await request.progress({ type: 'text-delta', text: 'You can set REDIS_' });
    throw new BotError({ code: 'clova_connection', message: 'stream cut', userMessage: 'I could not reach the language model service. Please try again in a moment.' });
  },
};

describe('console chat', () => {
  it('in a pipe, prints only the answers, one per line read, in one thread', async () => {
    const answerer = citingAnswerer();
    const { printed, result } = await chat(['first', 'second'], false, answerer);
    expect(result).toEqual({ answered: 2, failed: 0 });
    expect(printed).toBe(
      'answer[1] 1\n\nSources:\n  [1] Guide › Setup — https://example.test/guide\n\nanswer[1] 3\n\nSources:\n  [1] Guide › Setup — https://example.test/guide\n',
    );
    expect(answerer.requests.map((request) => request.history.length)).toEqual([1, 3]);
  });

  it('at a terminal, shows a prompt and help, streams the preview, replaces it with the cited answer, and /new starts a fresh thread', async () => {
    const answerer = citingAnswerer();
    const { printed } = await chat(['/help', 'first', '/new', 'second', '/quit', 'never asked'], true, answerer);
    expect(printed).toContain('threadline — test');
    expect(printed).toContain('/new    start a new thread');
    expect(printed).toContain('you>');
    expect(printed).toContain('answer'); // the streamed preview
    expect(printed).toContain('\x1b[J'); // erased before the final version
    expect(printed).toContain('Sources:');
    expect(printed).toContain('(new thread)');
    // The second question starts over: the model sees only it.
    expect(answerer.requests.map((request) => request.history.length)).toEqual([1, 1]);
  });

  it('at a terminal, echoes what the person types after the prompt', async () => {
    const { printed } = await chat(['first'], true);
    expect(withoutEscapes(printed)).toContain('you> first');
  });

  it('at a terminal, replaces a preview cut off by a failure with the one failure line', async () => {
    const { printed, result } = await chat(['where is redis configured?'], true, cutOffAnswerer);
    expect(result).toEqual({ answered: 0, failed: 1 });
    const preview = printed.indexOf('You can set REDIS_');
    const erased = printed.indexOf('\x1b[J', preview);
    expect(preview).toBeGreaterThan(-1);
    expect(erased).toBeGreaterThan(preview);
    expect(printed.slice(erased)).toContain('bot> I could not reach the language model service. Please try again in a moment.');
    expect(printed.slice(erased)).not.toContain('REDIS_');
  });

  it('erases a preview on a terminal that reports no width as if it were 80 columns wide', async () => {
    const { printed } = await chat(['first'], true, citingAnswerer(), 0);
    expect(printed).not.toContain('Infinity');
    expect(terminalRows('a'.repeat(100), 0)).toBe(2);
  });

  it('strips terminal control sequences from model and document text', () => {
    const rendered = renderAnswerAsText({
      id: 'a',
      parts: [{ type: 'text', text: 'safe\x1b]0;pwned\x07 text\x1b[2J' }],
      sources: [{ docId: 'd', title: 'Title\x1b[31m red', snippet: '' }],
      mode: 'generated',
      notices: [],
    });
    expect(rendered).not.toContain('\x1b');
    expect(rendered).not.toContain('\x07');
  });

  it('counts wide Korean characters as two columns when erasing a preview', () => {
    expect(terminalRows('가'.repeat(20), 40)).toBe(1);
    expect(terminalRows('가'.repeat(21), 40)).toBe(2);
    expect(terminalRows('a\nb', 40)).toBe(2);
  });
});
