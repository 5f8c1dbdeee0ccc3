import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';

/** Largest SSE event we buffer (characters); a runaway upstream fails instead of eating memory. */
export const DEFAULT_SSE_MAX_BUFFER = 4 * 1024 * 1024;

/** Thrown when an SSE body breaks the parser's limits. */
export class SseBufferError extends Error {
  constructor(readonly parseError: ParseError) {
    super(parseError.message);
    this.name = 'SseBufferError';
  }
}

/**
 * Reads server-sent events from a byte stream. One `TextDecoder` in streaming mode carries a
 * multibyte character split across chunks over to the next chunk, so Hangul survives any split.
 *
 * @example for await (const event of readServerSentEvents(response.body)) console.log(event.event, event.data);
 */
export async function* readServerSentEvents(
  body: AsyncIterable<Uint8Array | string>,
  options: { maxBufferSize?: number } = {},
): AsyncGenerator<EventSourceMessage> {
  const decoder = new TextDecoder('utf-8');
  const pending: EventSourceMessage[] = [];
  let failure: ParseError | undefined;
  const parser = createParser({
    onEvent: (event) => pending.push(event),
    onError: (error) => {
      // Unknown fields and bad `retry:` values are tolerated, as browsers do; only the buffer limit is fatal.
      if (error.type === 'max-buffer-size-exceeded') failure = error;
    },
    maxBufferSize: options.maxBufferSize ?? DEFAULT_SSE_MAX_BUFFER,
  });
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (failure) throw new SseBufferError(failure);
    while (pending.length > 0) yield pending.shift() as EventSourceMessage;
  }
  const tail = decoder.decode();
  if (tail) parser.feed(tail);
  // A final event without its blank line still counts once the body has ended; after a complete
  // event the extra blank lines dispatch nothing.
  parser.feed('\n\n');
  while (pending.length > 0) yield pending.shift() as EventSourceMessage;
}
