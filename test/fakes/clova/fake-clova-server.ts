/**
 * A faithful local CLOVA Studio: real HTTP on loopback, the documented paths, envelopes, SSE framing,
 * validation errors and rate limits, replies scripted per test, and a record of every request.
 * See README.md in this folder for the scripting API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { modelInfo, knownModelIds, type ModelInfo } from '../../../src/providers/model-catalogue.js';
import { handleChat } from './chat-handler.js';
import { echoChat, extractiveSummary, lexicalReranker, searchThenCite } from './default-responders.js';
import { RateWindow, type FakeRateLimit } from './rate-window.js';
import type {
  ChatResponder,
  RagReasoningResponder,
  RerankerResponder,
  ScriptedFault,
  SummarizationResponder,
} from './scripts.js';
import { handleTool, type EmbeddingResponder } from './tool-handlers.js';
import { sendEnvelope } from './wire-writer.js';

/** The APIs the fake serves, as named in `requests[].api`, `injectFaults` and `rateLimits`. */
export type FakeApi =
  | 'chat'
  | 'tokenize'
  | 'sliding'
  | 'summarization'
  | 'reranker'
  | 'rag-reasoning'
  | 'embedding'
  | 'embedding-tokenize';

/** The key the fake accepts when none are configured. */
export const FAKE_CLOVA_API_KEY = 'nv-fake-clova-0123456789abcdef';

export interface FakeClovaOptions {
  /** Accepted `Authorization: Bearer` keys. Default: `[FAKE_CLOVA_API_KEY]`. */
  apiKeys?: string[];
  /** Accept any non-empty Bearer key (local development). */
  acceptAnyKey?: boolean;
  /** Accepted legacy header pairs (`X-NCP-CLOVASTUDIO-API-KEY` + `X-NCP-APIGW-API-KEY`). */
  legacyKeys?: Array<{ apiKey: string; apigwKey: string }>;
  /** Per-model limit overrides, e.g. a small `contextWindow` so a long conversation overflows quickly. */
  models?: Record<string, Partial<Omit<ModelInfo, 'modelId'>>>;
  /** QPM/TPM per model id (chat) or API name (`reranker`, `rag-reasoning`, …). Unset: unlimited. */
  rateLimits?: Record<string, FakeRateLimit>;
  /** Length of the rate-limit window; the service uses one minute. Default 60,000. */
  rateLimitWindowMs?: number;
  port?: number;
}

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** The path as sent, including any `/testapp` prefix and app id. */
  path: string;
  /** The path with prefix, app id and trailing slash removed, e.g. `/v3/chat-completions/HCX-005`. */
  routePath: string;
  pathPrefix?: '/testapp' | '/serviceapp';
  appId?: string;
  api?: FakeApi;
  model?: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; `undefined` when the body was not JSON. */
  body: unknown;
  rawBody: string;
  streaming: boolean;
  receivedAt: number;
  /** HTTP status the fake answered with (set once the head was written). */
  responseStatus?: number;
}

export interface FakeClova {
  /** Base URL to use as CLOVA_STUDIO_BASE_URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Requests for one API. */
  requestsFor(api: FakeApi): RecordedRequest[];
  scriptChat(responder: ChatResponder): void;
  scriptReranker(responder: RerankerResponder): void;
  scriptRagReasoning(responder: RagReasoningResponder): void;
  scriptSummarization(responder: SummarizationResponder): void;
  scriptEmbedding(responder: EmbeddingResponder): void;
  /** Queues faults answered before any scripted reply of `api` (works for every API). */
  injectFaults(api: FakeApi, ...faults: ScriptedFault[]): void;
  /** Sockets currently open to the fake. */
  openConnections(): number;
  /** Responses started but not yet finished or abandoned by the client. */
  activeResponses(): number;
  /** Forgets recorded requests, scripts, injected faults and rate windows. */
  reset(): void;
  close(): Promise<void>;
}

/** What the handlers need from the server. */
export interface FakeContext {
  readonly options: FakeClovaOptions;
  readonly signal: AbortSignal;
  model(modelId: string): ModelInfo | undefined;
  takeFault(api: FakeApi): ScriptedFault | undefined;
  /** Applies the QPM/TPM window of `key`; on refusal answers 429 and returns false. */
  admit(key: string, tokens: number, response: ServerResponse): boolean;
  chat: ChatResponder;
  reranker: RerankerResponder;
  ragReasoning: RagReasoningResponder;
  summarization: SummarizationResponder;
  /** Unset: deterministic vectors from `fakeEmbedding`. */
  embedding: EmbeddingResponder | undefined;
}

interface Route {
  api: FakeApi;
  pattern: RegExp;
  /** Index of the model capture group, when the path names a model. */
  modelGroup?: number;
  appIdGroup?: number;
  version?: 'v1' | 'v3';
}

const ROUTES: Route[] = [
  { api: 'chat', pattern: /^\/v1\/chat-completions\/([^/]+)$/, modelGroup: 1, version: 'v1' },
  { api: 'chat', pattern: /^\/v3\/chat-completions\/([^/]+)$/, modelGroup: 1, version: 'v3' },
  { api: 'tokenize', pattern: /^\/v1\/api-tools\/chat-tokenize\/([^/]+)(?:\/([^/]+))?$/, modelGroup: 1, appIdGroup: 2, version: 'v1' },
  { api: 'tokenize', pattern: /^\/v3\/api-tools\/chat-tokenize\/([^/]+)(?:\/([^/]+))?$/, modelGroup: 1, appIdGroup: 2, version: 'v3' },
  { api: 'sliding', pattern: /^\/v1\/api-tools\/sliding\/chat-messages\/([^/]+)(?:\/([^/]+))?$/, modelGroup: 1, appIdGroup: 2 },
  { api: 'summarization', pattern: /^\/v1\/api-tools\/summarization\/v2(?:\/([^/]+))?$/, appIdGroup: 1 },
  { api: 'reranker', pattern: /^\/v1\/api-tools\/reranker(?:\/([^/]+))?$/, appIdGroup: 1 },
  { api: 'rag-reasoning', pattern: /^\/v1\/api-tools\/rag-reasoning(?:\/([^/]+))?$/, appIdGroup: 1 },
  { api: 'embedding-tokenize', pattern: /^\/v1\/api-tools\/embedding\/v2\/tokenize$/ },
  { api: 'embedding', pattern: /^\/v1\/api-tools\/embedding\/v2(?:\/([^/]+))?$/, appIdGroup: 1 },
];

const MAX_BODY_BYTES = 50 * 1024 * 1024;

function splitPath(rawPath: string): { routePath: string; pathPrefix?: '/testapp' | '/serviceapp' } {
  let path = rawPath.split('?')[0] ?? '/';
  let pathPrefix: '/testapp' | '/serviceapp' | undefined;
  for (const prefix of ['/testapp', '/serviceapp'] as const) {
    if (path.startsWith(`${prefix}/`)) {
      pathPrefix = prefix;
      path = path.slice(prefix.length);
    }
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return pathPrefix ? { routePath: path, pathPrefix } : { routePath: path };
}

function isAuthorised(options: FakeClovaOptions, headers: IncomingMessage['headers']): boolean {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) {
    const key = authorization.slice('Bearer '.length).trim();
    if (key === '') return false;
    return options.acceptAnyKey === true || (options.apiKeys ?? [FAKE_CLOVA_API_KEY]).includes(key);
  }
  const legacyKey = headers['x-ncp-clovastudio-api-key'];
  const gatewayKey = headers['x-ncp-apigw-api-key'];
  return (options.legacyKeys ?? []).some((pair) => pair.apiKey === legacyKey && pair.apigwKey === gatewayKey);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts a fake CLOVA Studio on 127.0.0.1 (port 0 unless `options.port`).
 *
 * @example
 * const fake = await startFakeClova();
 * fake.scriptChat([{ text: '안녕하세요' }]);
 * // … point the client at fake.url with FAKE_CLOVA_API_KEY …
 * expect(fake.requests[0]?.routePath).toBe('/v3/chat-completions/HCX-005');
 */
export async function startFakeClova(options: FakeClovaOptions = {}): Promise<FakeClova> {
  const requests: RecordedRequest[] = [];
  const faults = new Map<FakeApi, ScriptedFault[]>();
  const windows = new Map<string, RateWindow>();
  const sockets = new Set<Socket>();
  let active = 0;
  const lifetime = new AbortController();

  const context: FakeContext = {
    options,
    signal: lifetime.signal,
    model(modelId) {
      const override = options.models?.[modelId];
      if (!knownModelIds().includes(modelId) && !override) return undefined;
      try {
        return modelInfo(modelId, override);
      } catch {
        return undefined;
      }
    },
    takeFault(api) {
      return faults.get(api)?.shift();
    },
    admit(key, tokens, response) {
      const limit = options.rateLimits?.[key];
      if (!limit) return true;
      let window = windows.get(key);
      if (!window) {
        window = new RateWindow(limit, options.rateLimitWindowMs ?? 60_000);
        windows.set(key, window);
      }
      const verdict = window.tryAdmit(tokens);
      if (verdict.admitted) return true;
      const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      sendEnvelope(response, '42901', 'Too many requests - rate exceeded', { headers: { 'retry-after': String(seconds) } });
      return false;
    },
    chat: echoChat,
    reranker: lexicalReranker,
    ragReasoning: searchThenCite,
    summarization: (request) => ({ text: extractiveSummary(request.texts) }),
    embedding: undefined,
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const rawPath = request.url ?? '/';
    const { routePath, pathPrefix } = splitPath(rawPath);
    const accept = request.headers.accept ?? '';
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path: rawPath,
      routePath,
      ...(pathPrefix ? { pathPrefix } : {}),
      headers: { ...request.headers },
      body: undefined,
      rawBody: '',
      streaming: accept.includes('text/event-stream'),
      receivedAt: Date.now(),
    };
    requests.push(recorded);
    active += 1;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      active -= 1;
      recorded.responseStatus = response.statusCode;
    };
    response.once('finish', settle);
    response.once('close', settle);

    try {
      recorded.rawBody = await readBody(request);
    } catch {
      sendEnvelope(response, '41300', 'Request body size exceeded');
      return;
    }
    const route = ROUTES.map((candidate) => ({ candidate, match: candidate.pattern.exec(routePath) })).find((entry) => entry.match);
    if (route?.match) {
      recorded.api = route.candidate.api;
      const modelId = route.candidate.modelGroup ? route.match[route.candidate.modelGroup] : undefined;
      if (modelId) recorded.model = decodeURIComponent(modelId);
      const appId = route.candidate.appIdGroup ? route.match[route.candidate.appIdGroup] : undefined;
      if (appId) {
        recorded.appId = appId;
        recorded.routePath = routePath.slice(0, routePath.length - appId.length - 1);
      }
    }
    if (!isAuthorised(options, request.headers)) {
      sendEnvelope(response, '40100', 'Unauthorized');
      return;
    }
    if (!route || request.method !== 'POST') {
      sendEnvelope(response, '40400', 'Not found');
      return;
    }
    try {
      recorded.body = JSON.parse(recorded.rawBody) as unknown;
    } catch {
      sendEnvelope(response, '40000', 'Bad request');
      return;
    }
    if (typeof recorded.body !== 'object' || recorded.body === null || Array.isArray(recorded.body)) {
      sendEnvelope(response, '40000', 'Bad request');
      return;
    }
    const body = recorded.body as Record<string, unknown>;
    if (route.candidate.api === 'chat') {
      await handleChat(context, { request, response, body, model: recorded.model ?? '', version: route.candidate.version ?? 'v3', streaming: recorded.streaming });
      return;
    }
    await handleTool(context, {
      api: route.candidate.api,
      response,
      body,
      ...(recorded.model ? { model: recorded.model } : {}),
      ...(route.candidate.version ? { version: route.candidate.version } : {}),
    });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendEnvelope(response, '50000', `Internal server error (fake: ${error instanceof Error ? error.message : String(error)})`);
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (api) => requests.filter((request) => request.api === api),
    scriptChat(responder) {
      context.chat = responder;
    },
    scriptReranker(responder) {
      context.reranker = responder;
    },
    scriptRagReasoning(responder) {
      context.ragReasoning = responder;
    },
    scriptSummarization(responder) {
      context.summarization = responder;
    },
    scriptEmbedding(responder) {
      context.embedding = responder;
    },
    injectFaults(api, ...queued) {
      faults.set(api, [...(faults.get(api) ?? []), ...queued]);
    },
    openConnections: () => sockets.size,
    activeResponses: () => active,
    reset() {
      requests.length = 0;
      faults.clear();
      windows.clear();
      context.chat = echoChat;
      context.reranker = lexicalReranker;
      context.ragReasoning = searchThenCite;
      context.summarization = (request) => ({ text: extractiveSummary(request.texts) });
      context.embedding = undefined;
    },
    async close() {
      lifetime.abort();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
