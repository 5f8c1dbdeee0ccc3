import type { z } from 'zod';
import { detailsWithPartialText, ProviderError } from '../http/provider-error.js';
import type { ProviderStream } from '../http/provider-transport.js';
import { clovaErrorFromEnvelope, createClovaError, type ClovaError } from './clova-errors.js';
import { streamErrorSchema, streamSignalSchema } from './wire-schemas.js';

/** One streamed chat event after validation: a `token` delta or the final `result`. */
export type ClovaStreamEvent<Token, Result> = { type: 'token'; data: Token } | { type: 'result'; data: Result };

interface ChatStreamShape<TokenSchema extends z.ZodType, ResultSchema extends z.ZodType> {
  token: TokenSchema;
  result: ResultSchema;
  /** The text delta a token carries, to keep the partial answer for errors. */
  textOf: (token: z.infer<TokenSchema>) => string;
  requestId: string;
}

/** Copies `error` with the text streamed so far, so a caller can still show or log it. */
export function withPartialText(error: ProviderError, partialText: string): ClovaError {
  return createClovaError(detailsWithPartialText(error, partialText));
}

/**
 * Reads CLOVA's chat SSE: `token` events are deltas, `result` carries the final metadata (and the
 * whole text again, which callers must not append), `signal` `[DONE]` ends, `error` is thrown as a
 * typed error that keeps the partial text. Unknown event names are skipped.
 */
export async function* readChatStream<TokenSchema extends z.ZodType, ResultSchema extends z.ZodType>(
  stream: ProviderStream,
  shape: ChatStreamShape<TokenSchema, ResultSchema>,
): AsyncGenerator<ClovaStreamEvent<z.infer<TokenSchema>, z.infer<ResultSchema>>> {
  let partialText = '';
  let sawResult = false;
  let done = false;
  const protocolError = (message: string, cause?: unknown) =>
    createClovaError({ kind: 'protocol', message, status: 200, requestId: shape.requestId, retryable: false, partialText, ...(cause ? { cause } : {}) });
  const parse = (data: string, event: string): unknown => {
    try {
      return JSON.parse(data) as unknown;
    } catch (error) {
      throw protocolError(`the ${event} event is not JSON`, error);
    }
  };
  try {
    for await (const event of stream.events) {
      // Anything after `[DONE]` is drained (so the socket can be reused) but ignored.
      if (done) continue;
      switch (event.event) {
        case 'token': {
          const token = shape.token.safeParse(parse(event.data, 'token'));
          if (!token.success) throw protocolError('a token event has an unexpected shape', token.error);
          partialText += shape.textOf(token.data);
          yield { type: 'token', data: token.data };
          break;
        }
        case 'result': {
          const result = shape.result.safeParse(parse(event.data, 'result'));
          if (!result.success) throw protocolError('the result event has an unexpected shape', result.error);
          sawResult = true;
          yield { type: 'result', data: result.data };
          break;
        }
        case 'error': {
          const failure = streamErrorSchema.safeParse(parse(event.data, 'error'));
          if (!failure.success) throw protocolError('the error event has an unexpected shape', failure.error);
          throw clovaErrorFromEnvelope(failure.data.status, { httpStatus: 200, requestId: shape.requestId, partialText });
        }
        case 'signal': {
          const signal = streamSignalSchema.safeParse(parse(event.data, 'signal'));
          if (signal.success && signal.data.data === '[DONE]') done = true;
          break;
        }
        default:
          break;
      }
    }
  } catch (error) {
    if (error instanceof ProviderError && error.partialText === undefined) throw withPartialText(error, partialText);
    throw error;
  } finally {
    stream.close();
  }
  if (!sawResult) throw protocolError('the stream ended without a result event');
}
