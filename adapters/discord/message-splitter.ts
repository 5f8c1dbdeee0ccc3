/**
 * Splits Discord markdown into messages of at most `limit` characters. Cuts fall on paragraph
 * boundaries where possible, then line boundaries, then spaces, and never leave a code fence open:
 * a code block longer than one message is closed at the cut and reopened (same info string) in the
 * next message, so every message renders on its own.
 */

/** Discord's hard limit for a bot message's `content`. */
export const DISCORD_MESSAGE_LIMIT = 2_000;

interface OpenFence {
  /** The opening line as written (marker plus info string), reused to reopen the block. */
  openingLine: string;
  marker: '`' | '~';
  length: number;
}

const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** The fence state after reading `text` from the start with `initial` open (or none). */
function fenceAfter(text: string, initial: OpenFence | undefined): OpenFence | undefined {
  let open = initial;
  for (const line of text.split('\n')) {
    const match = FENCE_LINE.exec(line);
    if (!match) continue;
    const run = match[1] ?? '';
    const info = (match[2] ?? '').trim();
    const marker = run[0] as '`' | '~';
    if (!open) {
      // A backtick fence's info string may not contain backticks (CommonMark); such a line is inline code.
      if (marker === '`' && info.includes('`')) continue;
      open = { openingLine: line.trimStart(), marker, length: run.length };
    } else if (marker === open.marker && run.length >= open.length && info === '') {
      open = undefined;
    }
  }
  return open;
}

function closingLineFor(fence: OpenFence): string {
  return fence.marker.repeat(fence.length);
}

/** Appends the closing line of `fence` to `chunk`, on its own line. */
function closeFence(chunk: string, fence: OpenFence): string {
  return `${chunk.endsWith('\n') ? chunk : `${chunk}\n`}${closingLineFor(fence)}`;
}

/**
 * Splits `text` into chunks of at most `limit` characters (default 2,000).
 *
 * @example
 * splitMessage('a'.repeat(1500) + '\n\n' + 'b'.repeat(1500)) // → two chunks, cut at the blank line
 */
export function splitMessage(text: string, limit = DISCORD_MESSAGE_LIMIT): string[] {
  if (limit < 40) throw new RangeError('limit must leave room for fence markers (at least 40 characters)');
  const chunks: string[] = [];
  let rest = text;
  let carriedFence: OpenFence | undefined;
  while (rest.length > 0) {
    const prefix = carriedFence ? `${carriedFence.openingLine}\n` : '';
    const whole = prefix + rest;
    const fenceAtEnd = fenceAfter(rest, carriedFence);
    const wholeFits = whole.length + (fenceAtEnd ? closingLineFor(fenceAtEnd).length + 1 : 0) <= limit;
    if (wholeFits) {
      chunks.push(fenceAtEnd ? closeFence(whole, fenceAtEnd) : whole);
      break;
    }
    const cut = chooseCut(rest, carriedFence, limit - prefix.length);
    const piece = rest.slice(0, cut);
    const fenceAtCut = fenceAfter(piece, carriedFence);
    const body = prefix + piece;
    const chunk = fenceAtCut ? closeFence(body.replace(/\n+$/, ''), fenceAtCut) : body.replace(/\s+$/, '');
    if (chunk.trim().length > 0) chunks.push(chunk);
    rest = fenceAtCut ? rest.slice(cut) : rest.slice(cut).replace(/^\n+/, '');
    carriedFence = fenceAtCut;
  }
  return chunks;
}

interface WindowLine {
  start: number;
  /** Index just past the line's newline (or the window's end when it has none). */
  end: number;
  endsWithNewline: boolean;
  fenceBefore: OpenFence | undefined;
  fenceAfter: OpenFence | undefined;
  isFenceLine: boolean;
}

/** The lines of `window` with the fence state around each, computed in one pass. */
function scanLines(window: string, carriedFence: OpenFence | undefined): WindowLine[] {
  const lines: WindowLine[] = [];
  let fence = carriedFence;
  let start = 0;
  while (start < window.length) {
    const newline = window.indexOf('\n', start);
    const endsWithNewline = newline !== -1;
    const end = endsWithNewline ? newline + 1 : window.length;
    const text = window.slice(start, endsWithNewline ? newline : end);
    const after = fenceAfter(text, fence);
    lines.push({ start, end, endsWithNewline, fenceBefore: fence, fenceAfter: after, isFenceLine: FENCE_LINE.test(text) });
    fence = after;
    start = end;
  }
  return lines;
}

/**
 * The end index of the next piece of `rest`: the latest paragraph cut outside a fence that fits,
 * else the latest line cut (preferring one outside a fence), else a space, else a hard cut.
 * `budget` is what the piece may use; a cut inside a fence reserves room for the closing line.
 */
function chooseCut(rest: string, carriedFence: OpenFence | undefined, budget: number): number {
  const lines = scanLines(rest.slice(0, budget + 1), carriedFence);
  const fits = (cut: number, fence: OpenFence | undefined): boolean =>
    cut > 0 && cut + (fence ? closingLineFor(fence).length + 1 : 0) <= budget;
  const enough = (cut: number | undefined): cut is number => cut !== undefined && cut >= budget / 4;

  let paragraph: number | undefined;
  let lineOutside: number | undefined;
  let lineAny: number | undefined;
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index] as WindowLine;
    if (!line.endsWithNewline || !fits(line.end, line.fenceAfter)) continue;
    lineAny ??= line.end;
    if (line.fenceAfter) continue;
    lineOutside ??= line.end;
    // A paragraph cut: this line is blank (it ends a blank line) or the next line is blank.
    const blank = line.end - line.start === 1;
    if (paragraph === undefined && blank) paragraph = line.end;
    if (paragraph !== undefined) break;
  }
  const outside = paragraph ?? lineOutside;
  // Prefer an outside-fence cut unless it would leave the message mostly empty (a huge code block follows).
  if (enough(outside)) return outside;
  if (enough(lineAny)) return lineAny;
  if (outside !== undefined) return outside;

  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index] as WindowLine;
    if (line.isFenceLine) continue;
    const text = rest.slice(line.start, line.end);
    for (let offset = text.lastIndexOf(' '); offset > 0; offset = text.lastIndexOf(' ', offset - 1)) {
      const cut = line.start + offset + 1;
      if (fits(cut, line.fenceBefore)) return enough(cut) ? cut : hardCut(rest, lines, budget);
    }
  }
  return hardCut(rest, lines, budget);
}

/** No usable boundary (one enormous word or line): cut at the budget, leaving room to close a fence. */
function hardCut(rest: string, lines: WindowLine[], budget: number): number {
  const openAtEnd = lines.length > 0 ? (lines[lines.length - 1] as WindowLine).fenceAfter : undefined;
  const cut = Math.max(1, budget - (openAtEnd ? closingLineFor(openAtEnd).length + 1 : 0));
  return avoidSplittingSurrogate(rest, cut);
}

/** Moves a cut back by one when it would separate a UTF-16 surrogate pair (an emoji cut in half). */
function avoidSplittingSurrogate(text: string, cut: number): number {
  const code = text.charCodeAt(cut - 1);
  return code >= 0xd800 && code <= 0xdbff && cut > 1 ? cut - 1 : cut;
}
