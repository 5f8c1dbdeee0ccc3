import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SlackMessageStore, type ApiResult } from './message-store.js';
import { FakeSocketMode } from './fake-socket-mode.js';

/** One Web API request as the fake received it. Object fields (`blocks`, `chunks`…) are parsed back from JSON. */
export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  /** Which kind of token authorised it (never the token itself, so test output cannot leak it). */
  auth: 'bot' | 'app' | 'invalid' | 'missing';
  /** HTTP status the fake answered with; 0 when it never answered (an injected lost response). */
  status: number;
  /** `error` of an `ok: false` answer. */
  error?: string;
  /** `performance.now()` when the request arrived. */
  at: number;
}

/**
 * A failure to inject into the next call(s) of a method. The first kinds refuse the call (Slack did
 * nothing); the `applied-then-…` kinds carry the call out and then lose or spoil the answer, the way a
 * timeout or a 5xx from Slack's edge can follow a message that was in fact posted.
 */
export type InjectedFailure =
  | { kind: 'http-429'; retryAfterSeconds: number }
  | { kind: 'ratelimited'; retryAfterSeconds: number }
  | { kind: 'error'; error: string }
  | { kind: 'http-error'; status: number }
  | { kind: 'applied-then-http-error'; status: number }
  | { kind: 'applied-then-error'; error: string }
  | { kind: 'applied-then-no-answer' };

type Answer = { status: number; body?: ApiResult; headers?: Record<string, string> };

export interface FakeSlackOptions {
  botToken: string;
  appToken?: string;
  teamId: string;
  botUserId: string;
  botId: string;
  /** Display names answered by `users.info`. */
  users?: Record<string, string>;
}

/** Fields Slack sends JSON-encoded inside form bodies. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'chunks', 'metadata', 'prompts', 'loading_messages']);

/**
 * A local Slack Web API: `POST /api/{method}`, form-encoded or JSON bodies, bearer tokens, answers in
 * Slack's shape (`{ ok, … }` / `{ ok: false, error }`), limits enforced the way Slack enforces them.
 * Every call is recorded; failures (429, `ratelimited`, any error, a 5xx or a lost answer after the call
 * was carried out) can be injected per method.
 * It also hosts a Socket Mode endpoint (`apps.connections.open` → WebSocket on the same port).
 */
export class FakeSlackApi {
  readonly calls: RecordedCall[] = [];
  readonly store: SlackMessageStore;
  readonly socketMode: FakeSocketMode;
  private readonly server: Server;
  private readonly failures = new Map<string, InjectedFailure[]>();
  private readonly disabled = new Map<string, string>();
  private readonly listeners = new Set<(call: RecordedCall) => void>();
  private port = 0;

  private constructor(private readonly options: FakeSlackOptions) {
    this.store = new SlackMessageStore({ botUserId: options.botUserId, botId: options.botId, teamId: options.teamId });
    this.server = createServer((request, response) => void this.handle(request, response));
    this.socketMode = new FakeSocketMode(this.server);
  }

  /** Starts the fake on 127.0.0.1 and a free port. */
  static async start(options: FakeSlackOptions): Promise<FakeSlackApi> {
    const fake = new FakeSlackApi(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** Base URL to give the WebClient (`slackApiUrl`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** Calls of one method, in arrival order. */
  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Makes the next `times` calls of `method` fail as described. */
  failNext(method: string, failure: InjectedFailure, times = 1): void {
    const queue = this.failures.get(method) ?? [];
    for (let index = 0; index < times; index += 1) queue.push(failure);
    this.failures.set(method, queue);
  }

  /** Makes every call of `method` answer `ok: false, error` (a feature the workspace refuses). */
  disableMethod(method: string, error: string): void {
    this.disabled.set(method, error);
  }

  /** Resolves at the first recorded call matching `predicate` (past or future). */
  waitForCall(predicate: (call: RecordedCall) => boolean, timeoutMs = 10_000): Promise<RecordedCall> {
    const existing = this.calls.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no matching Slack call within ${timeoutMs} ms; saw: ${this.calls.map((call) => call.method).join(', ')}`));
      }, timeoutMs);
      const listener = (call: RecordedCall) => {
        if (!predicate(call)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(call);
      };
      this.listeners.add(listener);
    });
  }

  async close(): Promise<void> {
    await this.socketMode.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const match = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
    if (request.method !== 'POST' || !match) {
      response.writeHead(404).end();
      return;
    }
    const method = match[1]!;
    const params = parseBody(await readAll(request), request.headers['content-type'] ?? '');
    const auth = this.authOf(request.headers.authorization ?? (typeof params.token === 'string' ? `Bearer ${params.token}` : undefined));
    delete params.token;
    const call: RecordedCall = { method, params, auth, status: 200, at };
    const answer = this.answer(method, params, auth);
    call.status = answer?.status ?? 0;
    if (answer?.body && answer.body.ok === false) call.error = String(answer.body.error);
    this.calls.push(call);
    for (const listener of [...this.listeners]) listener(call);
    // A lost answer: the request stays open until the client gives up (its timeout) or the fake closes.
    if (!answer) return;
    response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
    response.end(answer.body ? JSON.stringify(answer.body) : '');
  }

  /** The answer to send, or undefined for none at all. */
  private answer(method: string, params: Record<string, unknown>, auth: RecordedCall['auth']): Answer | undefined {
    const injected = this.failures.get(method)?.shift();
    switch (injected?.kind) {
      case undefined:
        return this.carryOut(method, params, auth);
      case 'http-429':
        return { status: 429, headers: { 'retry-after': String(injected.retryAfterSeconds) } };
      case 'ratelimited':
        return { status: 200, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(injected.retryAfterSeconds) } };
      case 'error':
        return { status: 200, body: { ok: false, error: injected.error } };
      case 'http-error':
        return { status: injected.status, headers: { 'content-type': 'text/html' } };
      case 'applied-then-http-error':
        this.carryOut(method, params, auth);
        return { status: injected.status, headers: { 'content-type': 'text/html' } };
      case 'applied-then-error':
        this.carryOut(method, params, auth);
        return { status: 200, body: { ok: false, error: injected.error } };
      case 'applied-then-no-answer':
        this.carryOut(method, params, auth);
        return undefined;
    }
  }

  /** What Slack does with a call nobody interferes with. */
  private carryOut(method: string, params: Record<string, unknown>, auth: RecordedCall['auth']): Answer {
    const disabled = this.disabled.get(method);
    if (disabled) return { status: 200, body: { ok: false, error: disabled } };
    if (auth === 'missing') return { status: 200, body: { ok: false, error: 'not_authed' } };
    if (auth === 'invalid') return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    if (method === 'apps.connections.open') {
      if (auth !== 'app') return { status: 200, body: { ok: false, error: 'not_allowed_token_type' } };
      return { status: 200, body: { ok: true, url: this.socketMode.connectionUrl(this.port) } };
    }
    if (auth !== 'bot') return { status: 200, body: { ok: false, error: 'not_allowed_token_type' } };
    if (method === 'auth.test') {
      const { teamId, botUserId, botId } = this.options;
      return { status: 200, body: { ok: true, url: 'https://example.slack.com/', team: 'Example', user: 'threadline', team_id: teamId, user_id: botUserId, bot_id: botId } };
    }
    if (method === 'users.info') {
      const userId = String(params.user ?? '');
      const name = this.options.users?.[userId];
      if (!name) return { status: 200, body: { ok: false, error: 'user_not_found' } };
      return { status: 200, body: { ok: true, user: { id: userId, name: name.toLowerCase(), real_name: name, profile: { display_name: name, real_name: name } } } };
    }
    return { status: 200, body: this.store.apply(method, params) };
  }

  private authOf(header: string | undefined): RecordedCall['auth'] {
    if (!header) return 'missing';
    const token = header.replace(/^Bearer\s+/i, '');
    if (token === this.options.botToken) return 'bot';
    if (this.options.appToken && token === this.options.appToken) return 'app';
    return 'invalid';
  }
}

async function readAll(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    params[key] = JSON_FIELDS.has(key) ? safeParse(value) : value;
  }
  return params;
}

function safeParse(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
