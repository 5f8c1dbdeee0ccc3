import { z } from 'zod';
import { BotError } from '../errors.js';
import type { Retriever, ScoredDoc } from '../providers/types.js';
import { isUsableText } from './usable-text.js';

/** Largest response body we parse; a search API answering with more is misbehaving. */
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const MAX_QUERY_CHARACTERS = 2_000;

export type SearchApiFailure = 'timeout' | 'unreachable' | 'http_status' | 'bad_response';

/** The external search API failed; `kind` says how, `status` carries the HTTP status when there was one. */
export class SearchApiError extends BotError {
  readonly kind: SearchApiFailure;
  readonly status?: number;
  readonly endpoint: string;

  constructor(options: { kind: SearchApiFailure; endpoint: string; detail: string; status?: number; cause?: unknown }) {
    super({
      code: `search_api_${options.kind}`,
      message: `Search API ${options.endpoint}: ${options.detail}`,
      userMessage: 'I could not search the knowledge base just now. Please try again in a moment.',
      cause: options.cause,
    });
    this.kind = options.kind;
    this.endpoint = options.endpoint;
    if (options.status !== undefined) this.status = options.status;
  }
}

const responseSchema = z.object({
  result: z.array(
    z
      .object({
        id: z.union([z.string(), z.number()]).transform(String),
        content: z.unknown(),
        title: z.string().optional(),
        url: z.string().optional(),
        score: z.number().optional(),
      })
      .passthrough(),
  ),
});

export interface SearchApiRetrieverOptions {
  /** `POST {query, top_k}` → `{result: [{id, content}]}`. */
  url: string;
  timeoutMs: number;
  /** Extra request headers (an API key of the search service). Never logged. */
  headers?: Record<string, string>;
}

/**
 * A retriever backed by an external search API with the cookbook's contract. Entries whose content
 * is empty, `None` or `NaN` (common in exported tables) are dropped here, so they never reach a
 * reranker. Without scores from the API, rank order becomes a descending score.
 */
export function createSearchApiRetriever(options: SearchApiRetrieverOptions): Retriever {
  const endpoint = describeEndpoint(options.url);
  return {
    async search(query: string, topK: number, signal?: AbortSignal): Promise<ScoredDoc[]> {
      signal?.throwIfAborted();
      const boundedQuery = query.slice(0, MAX_QUERY_CHARACTERS);
      if (boundedQuery.trim() === '' || topK <= 0) return [];
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
          body: JSON.stringify({ query: boundedQuery, top_k: topK }),
          signal: combined,
        });
      } catch (error) {
        signal?.throwIfAborted();
        if (timeout.aborted) throw new SearchApiError({ kind: 'timeout', endpoint, detail: `no answer within ${options.timeoutMs} ms`, cause: error });
        throw new SearchApiError({ kind: 'unreachable', endpoint, detail: 'connection failed', cause: error });
      }
      let body: string;
      try {
        body = await readBounded(response);
      } catch (error) {
        signal?.throwIfAborted();
        if (timeout.aborted) throw new SearchApiError({ kind: 'timeout', endpoint, detail: `body not received within ${options.timeoutMs} ms`, cause: error });
        throw new SearchApiError({ kind: 'bad_response', endpoint, detail: error instanceof Error ? error.message : 'unreadable body', cause: error });
      }
      if (!response.ok) {
        throw new SearchApiError({ kind: 'http_status', endpoint, status: response.status, detail: `answered HTTP ${response.status}` });
      }
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch (error) {
        throw new SearchApiError({ kind: 'bad_response', endpoint, detail: 'answered with something that is not JSON', cause: error });
      }
      const parsed = responseSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new SearchApiError({ kind: 'bad_response', endpoint, detail: `unexpected response shape (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'})` });
      }
      const usable = parsed.data.result.filter((entry): entry is typeof entry & { content: string } => isUsableText(entry.content));
      return usable.slice(0, topK).map((entry, rank) => ({
        doc: {
          id: entry.id,
          content: entry.content,
          source: 'search-api',
          ...(entry.title ? { title: entry.title } : {}),
          ...(entry.url && /^https?:\/\//i.test(entry.url) ? { url: entry.url } : {}),
        },
        score: entry.score ?? 1 / (rank + 1),
      }));
    },
  };
}

async function readBounded(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_RESPONSE_BYTES) throw new Error(`response of ${declared} bytes is too large`);
  const reader = response.body?.getReader();
  if (!reader) return '';
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new Error(`response is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The URL without credentials or query string, safe for logs and error messages. */
function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
