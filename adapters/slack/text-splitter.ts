/**
 * Splits long mrkdwn into pieces of bounded length: on paragraph boundaries first, then lines,
 * sentences and words. A code fence is never left open: when one must be cut, the piece closes it and
 * the next piece reopens it, so every piece renders on its own.
 */

const FENCE = '```';

/** One paragraph, or a whole fenced code block (which may contain blank lines). */
interface Unit {
  text: string;
  fenced: boolean;
}

/** Splits `text` into pieces of at most `maxLength` characters, joined back by blank lines. */
export function splitMrkdwn(text: string, maxLength: number): string[] {
  if (maxLength < 40) throw new RangeError('maxLength must leave room for a code fence');
  const pieces: string[] = [];
  let current = '';
  for (const unit of toUnits(text)) {
    for (const fragment of fitUnit(unit, maxLength)) {
      const joined = current ? `${current}\n\n${fragment}` : fragment;
      if (joined.length <= maxLength) {
        current = joined;
      } else {
        if (current) pieces.push(current);
        current = fragment;
      }
    }
  }
  if (current) pieces.push(current);
  return pieces;
}

function toUnits(text: string): Unit[] {
  const units: Unit[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let paragraph: string[] = [];
  let fence: string[] | undefined;
  const flushParagraph = () => {
    const joined = paragraph.join('\n').trim();
    if (joined) units.push({ text: joined, fenced: false });
    paragraph = [];
  };
  for (const line of lines) {
    if (fence) {
      fence.push(line);
      if (isFenceLine(line)) {
        units.push({ text: fence.join('\n'), fenced: true });
        fence = undefined;
      }
      continue;
    }
    if (isFenceLine(line)) {
      flushParagraph();
      // A fence opened and closed on one line (```x```) is an ordinary paragraph line.
      if (line.trim().length > FENCE.length && line.trim().endsWith(FENCE) && line.trim() !== FENCE) {
        paragraph.push(line);
        continue;
      }
      fence = [line];
      continue;
    }
    if (line.trim() === '') {
      flushParagraph();
      continue;
    }
    paragraph.push(line);
  }
  if (fence) {
    // The model never closed its fence: close it so the rest of the message is not swallowed.
    fence.push(FENCE);
    units.push({ text: fence.join('\n'), fenced: true });
  }
  flushParagraph();
  return units;
}

function isFenceLine(line: string): boolean {
  return line.trimStart().startsWith(FENCE);
}

function fitUnit(unit: Unit, maxLength: number): string[] {
  if (unit.text.length <= maxLength) return [unit.text];
  return unit.fenced ? splitFence(unit.text, maxLength) : splitProse(unit.text, maxLength);
}

/** Cuts a fenced block on line boundaries, closing and reopening the fence around each cut. */
function splitFence(block: string, maxLength: number): string[] {
  const lines = block.split('\n');
  const opening = lines[0] ?? FENCE;
  const body = lines.slice(1, -1);
  // Room for the opening line, the closing fence and their line breaks.
  const budget = maxLength - opening.length - FENCE.length - 2;
  const pieces: string[] = [];
  let chunk: string[] = [];
  let chunkLength = 0;
  const flush = () => {
    if (chunk.length > 0) pieces.push([opening, ...chunk, FENCE].join('\n'));
    chunk = [];
    chunkLength = 0;
  };
  for (const line of body) {
    for (const part of hardWrap(line, budget)) {
      if (chunk.length > 0 && chunkLength + 1 + part.length > budget) flush();
      chunkLength += (chunk.length > 0 ? 1 : 0) + part.length;
      chunk.push(part);
    }
  }
  flush();
  return pieces;
}

/** Cuts prose on line breaks, then sentence ends, then spaces, then anywhere safe. */
function splitProse(text: string, maxLength: number): string[] {
  const separators: RegExp[] = [/(?<=\n)/, /(?<=[.!?。！？])\s+/, /(?<=\s)/];
  return splitBy(text, maxLength, separators);
}

function splitBy(text: string, maxLength: number, separators: RegExp[]): string[] {
  if (text.length <= maxLength) return [text];
  const [separator, ...rest] = separators;
  if (!separator) return hardWrap(text, maxLength);
  const parts = text.split(separator).filter((part) => part.length > 0);
  if (parts.length <= 1) return splitBy(text, maxLength, rest);
  const pieces: string[] = [];
  let current = '';
  for (const part of parts) {
    const candidate = current ? joinWith(current, part, separator) : part;
    if (candidate.length <= maxLength) {
      current = candidate;
      continue;
    }
    if (current) pieces.push(current.trimEnd());
    if (part.length > maxLength) {
      const smaller = splitBy(part, maxLength, rest);
      pieces.push(...smaller.slice(0, -1));
      current = smaller.at(-1) ?? '';
    } else {
      current = part;
    }
  }
  if (current.trim()) pieces.push(current.trimEnd());
  return pieces.map((piece) => piece.trimStart()).filter((piece) => piece.length > 0);
}

function joinWith(current: string, part: string, separator: RegExp): string {
  // Sentence splits consume the whitespace between sentences; put one space back.
  return separator.source.includes('\\s+') ? `${current} ${part}` : `${current}${part}`;
}

/**
 * Last resort for a run with no break: fixed-size cuts that never land inside an entity (`&amp;`)
 * or a `<…>` link token, and never between the halves of a surrogate pair.
 */
export function hardWrap(text: string, maxLength: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > maxLength) {
    let cut = maxLength;
    const openToken = rest.lastIndexOf('<', cut - 1);
    const closeToken = rest.lastIndexOf('>', cut - 1);
    if (openToken > closeToken && openToken > 0) cut = openToken;
    const ampersand = rest.lastIndexOf('&', cut - 1);
    if (ampersand >= 0 && ampersand > cut - 6 && !rest.slice(ampersand, cut).includes(';') && ampersand > 0) cut = ampersand;
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest || pieces.length === 0) pieces.push(rest);
  return pieces;
}
