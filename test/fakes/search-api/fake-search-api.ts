import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A document the fake search API knows. `content` may be `None`/`NaN`/empty to mimic exported tables. */
export interface FakeSearchDocument {
  id: string;
  content: string;
}

/** One request as the fake received it. */
export interface RecordedSearchRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** How the next request is answered, for failure tests. `search` (default) answers from the corpus. */
export type FakeSearchBehaviour =
  | { kind: 'search' }
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'raw'; body: string }
  | { kind: 'hang' };

export interface FakeSearchApi {
  url: string;
  requests: RecordedSearchRequest[];
  /** Queues behaviours for the next requests, in order; afterwards the fake searches again. */
  script(...behaviours: FakeSearchBehaviour[]): void;
  close(): Promise<void>;
}

/**
 * A loopback search API with the cookbook's contract: `POST {query, top_k}` →
 * `{result: [{id, content}]}`. It ranks by shared character bigrams (spaces removed), which is
 * crude but real: results depend on the query, so a retriever contract can be checked against it.
 */
export async function startFakeSearchApi(documents: readonly FakeSearchDocument[]): Promise<FakeSearchApi> {
  const requests: RecordedSearchRequest[] = [];
  const queue: FakeSearchBehaviour[] = [];
  const hanging = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Recorded as text; the answer below is a 422 like a validating server would send.
      }
      requests.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body });
      const behaviour = queue.shift() ?? { kind: 'search' };
      if (behaviour.kind === 'hang') {
        const release = () => response.destroy();
        hanging.add(release);
        return;
      }
      if (behaviour.kind === 'status') {
        response.writeHead(behaviour.status, { 'content-type': 'application/json' }).end(behaviour.body ?? '{"detail":"failure"}');
        return;
      }
      if (behaviour.kind === 'raw') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(behaviour.body);
        return;
      }
      const query = (body as { query?: unknown }).query;
      const topK = (body as { top_k?: unknown }).top_k;
      if (request.method !== 'POST' || typeof query !== 'string' || typeof topK !== 'number') {
        response.writeHead(422, { 'content-type': 'application/json' }).end('{"detail":"query and top_k are required"}');
        return;
      }
      const ranked = documents
        .map((document) => ({ document, score: overlap(query, document.content) }))
        .filter((entry) => entry.score > 0)
        .sort((left, right) => right.score - left.score)
        .slice(0, topK)
        .map((entry) => ({ id: entry.document.id, content: entry.document.content }));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: ranked }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/search`,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    close: async () => {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function bigrams(text: string): Set<string> {
  const compact = text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
  const grams = new Set<string>();
  for (let index = 0; index + 2 <= compact.length; index += 1) grams.add(compact.slice(index, index + 2));
  return grams;
}

function overlap(query: string, content: string): number {
  const contentGrams = bigrams(content);
  let shared = 0;
  for (const gram of bigrams(query)) if (contentGrams.has(gram)) shared += 1;
  return shared;
}
