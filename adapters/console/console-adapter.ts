import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { ConversationEngine, IncomingMessage, ReplyEvent, ReplySink } from '../../src/engine/types.js';
import { renderAnswerAsText, stripControlCharacters } from './render-text.js';

export interface ConsoleAdapterOptions {
  engine: ConversationEngine;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream & { columns?: number };
  /** A person at a terminal: prompts, colour, live streaming. Otherwise plain text, one answer per input line. */
  interactive: boolean;
  /** Printed once at the start of an interactive session (which backend answers, how to quit). */
  banner?: string;
}

export interface ConsoleRunResult {
  answered: number;
  failed: number;
}

const PROMPT = '\x1b[1myou>\x1b[0m ';
/** Width assumed when the terminal does not say. */
const DEFAULT_COLUMNS = 80;

const HELP = [
  'Commands:',
  '  /new    start a new thread (the bot forgets this conversation)',
  '  /help   show this help',
  '  /quit   leave (Ctrl-D works too)',
].join('\n');

/**
 * The local chat: one thread per session, `/new` for another. Reads until the input ends; in a
 * pipe (`printf 'q1\nq2\n' | npm start`) every line is one turn and only answers are printed.
 */
export async function runConsoleChat(options: ConsoleAdapterOptions): Promise<ConsoleRunResult> {
  const { engine, output, interactive } = options;
  // At a terminal readline puts the input in raw mode, so it must also own the echo and the prompt
  // (given `output`), or a person types blind and line editing redraws the wrong prompt.
  const lines = createInterface({ input: options.input, ...(interactive ? { output, prompt: PROMPT } : {}), terminal: interactive, crlfDelay: Infinity });
  const result: ConsoleRunResult = { answered: 0, failed: 0 };
  let threadKey = newThreadKey();
  let turn = 0;
  const prompt = () => {
    if (interactive) lines.prompt();
  };

  if (interactive && options.banner) output.write(`${options.banner}\n${HELP}\n\n`);
  prompt();
  let first = true;
  for await (const line of lines) {
    const text = line.trim();
    if (text === '') {
      prompt();
      continue;
    }
    if (text === '/quit' || text === '/exit') break;
    if (text === '/help') {
      output.write(`${HELP}\n`);
      prompt();
      continue;
    }
    if (text === '/new' || text === '/reset') {
      threadKey = newThreadKey();
      output.write(interactive ? '\x1b[2m(new thread)\x1b[0m\n' : '');
      prompt();
      continue;
    }
    if (!interactive && !first) output.write('\n');
    first = false;
    turn += 1;
    const sink = interactive ? new TerminalSink(output) : new PlainSink(output);
    const outcome = await engine.handle(consoleMessage(threadKey, turn, text), sink);
    if (outcome.kind === 'answered') result.answered += 1;
    else if (outcome.kind === 'failed') result.failed += 1;
    prompt();
  }
  lines.close();
  if (interactive) output.write('\n');
  return result;
}

function newThreadKey(): string {
  return `console:local:${randomUUID()}`;
}

function consoleMessage(threadKey: string, turn: number, text: string): IncomingMessage {
  const messageId = `${Date.now()}-${turn}`;
  return {
    platform: 'console',
    threadKey,
    eventId: `console:${threadKey}:${messageId}`,
    messageId,
    scope: { workspaceId: 'local', channelId: 'console' },
    author: { id: 'local-user', name: process.env.USER ?? 'you' },
    text,
    receivedAt: Date.now(),
  };
}

/** Scripts get the final answer (or the failure line) as plain text, nothing else. */
class PlainSink implements ReplySink {
  constructor(private readonly output: NodeJS.WritableStream) {}

  async emit(event: ReplyEvent): Promise<void> {
    if (event.type === 'answer-completed') this.output.write(`${renderAnswerAsText(event.answer)}\n`);
    if (event.type === 'turn-failed') this.output.write(`Sorry: ${event.userMessage}\n`);
  }
}

/** A person gets a status line at once, the answer streamed as it is written, then the final cited version. */
class TerminalSink implements ReplySink {
  private preview = '';
  private statusShown = false;

  constructor(private readonly output: NodeJS.WritableStream & { columns?: number }) {}

  async emit(event: ReplyEvent): Promise<void> {
    switch (event.type) {
      case 'turn-queued':
        this.status('waiting for the previous answer in this thread…');
        break;
      case 'status-changed':
        if (this.preview === '') this.status(event.text);
        break;
      case 'text-delta':
        this.clearStatus();
        if (this.preview === '') this.output.write('\x1b[1mbot>\x1b[0m ');
        this.preview += event.text;
        this.output.write(stripControlCharacters(event.text));
        break;
      case 'answer-completed':
        this.clearStatus();
        this.erasePreview();
        this.output.write(`\x1b[1mbot>\x1b[0m ${renderAnswerAsText(event.answer)}\n\n`);
        break;
      case 'turn-failed':
        this.clearStatus();
        // A cut-off preview must not stay on screen looking like an answer: the failure line takes its place.
        this.erasePreview();
        this.output.write(`\x1b[31mbot> ${event.userMessage}\x1b[0m\n\n`);
        break;
    }
  }

  private status(text: string): void {
    this.output.write(`\r\x1b[K\x1b[2m… ${stripControlCharacters(text)}\x1b[0m`);
    this.statusShown = true;
  }

  private clearStatus(): void {
    if (!this.statusShown) return;
    this.output.write('\r\x1b[K');
    this.statusShown = false;
  }

  /** Clears the streamed preview for what replaces it: the final answer (which carries the citations the preview lacked) or the failure line. */
  private erasePreview(): void {
    if (this.preview === '') return;
    const rows = terminalRows(`bot> ${stripControlCharacters(this.preview)}`, this.output.columns);
    this.output.write(`\r${rows > 1 ? `\x1b[${rows - 1}A` : ''}\x1b[J`);
    this.preview = '';
  }
}

/** How many terminal rows `text` occupies at `columns` wide (wide East Asian characters take two columns). */
export function terminalRows(text: string, columns: number | undefined): number {
  // A pseudo-terminal nobody sized (`script`, some `docker exec -t`) reports 0 columns.
  if (!columns || columns < 1) columns = DEFAULT_COLUMNS;
  let rows = 0;
  for (const line of text.split('\n')) {
    let width = 0;
    for (const character of line) width += isWide(character.codePointAt(0) ?? 0) ? 2 : 1;
    rows += Math.max(1, Math.ceil(width / columns));
  }
  return rows;
}

function isWide(codePoint: number): boolean {
  return (
    (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1faff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
  );
}
