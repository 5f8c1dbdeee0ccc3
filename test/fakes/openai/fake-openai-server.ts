/**
 * A local OpenAI-compatible server (the `/chat/completions` and `/embeddings` subset that OpenAI,
 * vLLM, Ollama and llama.cpp share): JSON and SSE chat with string tool arguments, scripted replies,
 * and a record of every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fakeEmbedding } from '../clova/default-responders.js';
import { fakePromptTokens, fakeTokenCount, fakeTokenPieces } from '../clova/fake-token-count.js';

export type OpenAiFakeReply =
  | {
      text?: string;
      reasoning?: string;
      /** `arguments` as an object is serialised; a string is sent verbatim (to script malformed JSON). */
      toolCalls?: Array<{ id?: string; name: string; arguments: Record<string, unknown> | string }>;
      finishReason?: string;
    }
  | { fault: 'rate-limit'; retryAfterSeconds?: number }
  | { fault: 'http-500' }
  | { fault: 'context-too-long' }
  | { fault: 'malformed-chunk' };

export interface OpenAiFakeRequestView {
  model: string;
  streaming: boolean;
  messages: Array<{ role: string; content?: string; tool_calls?: unknown; tool_call_id?: string }>;
  body: Record<string, unknown>;
}

export type OpenAiFakeResponder = OpenAiFakeReply[] | ((request: OpenAiFakeRequestView) => OpenAiFakeReply);

export interface OpenAiRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  responseStatus?: number;
}

export interface FakeOpenAi {
  /** Base URL including `/v1`, as OPENAI_BASE_URL. */
  url: string;
  readonly requests: OpenAiRecordedRequest[];
  scriptChat(responder: OpenAiFakeResponder): void;
  openConnections(): number;
  reset(): void;
  close(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers });
  response.end(payload);
}

function echo(request: OpenAiFakeRequestView): OpenAiFakeReply {
  const last = [...request.messages].reverse().find((message) => message.role === 'user');
  return { text: `(fake ${request.model}) You said: ${(last?.content ?? '').slice(0, 400)}` };
}

/**
 * `usage.prompt_tokens` of a chat request under the fake's tokenizer: every message (assistant tool
 * calls included) and the tool definitions, which OpenAI-compatible servers render into the prompt
 * and count.
 */
export function fakeOpenAiPromptTokens(body: Record<string, unknown>): number {
  const messages = ((body.messages ?? []) as OpenAiFakeRequestView['messages']).map((message) => ({
    role: message.role,
    content: message.content,
    ...(message.tool_calls !== undefined ? { toolCalls: message.tool_calls } : {}),
  }));
  return fakePromptTokens(messages, body.tools);
}

/** Starts the fake on 127.0.0.1, port 0. With `apiKey`, requests must carry `Authorization: Bearer <apiKey>`. */
export async function startFakeOpenAi(options: { apiKey?: string; port?: number } = {}): Promise<FakeOpenAi> {
  const requests: OpenAiRecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let responder: OpenAiFakeResponder = echo;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const recorded: OpenAiRecordedRequest = { method: request.method ?? 'GET', path: request.url ?? '/', headers: { ...request.headers }, body: undefined };
    requests.push(recorded);
    response.once('finish', () => (recorded.responseStatus = response.statusCode));
    response.once('close', () => (recorded.responseStatus ??= response.statusCode));
    if (options.apiKey && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(response, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    try {
      recorded.body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      return sendJson(response, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', code: null } });
    }
    const body = recorded.body as Record<string, unknown>;
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (path.endsWith('/embeddings')) {
      const input = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input ?? '')];
      return sendJson(response, 200, {
        object: 'list',
        data: input.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(text) })),
        model: body.model,
        usage: { prompt_tokens: input.reduce((sum, text) => sum + fakeTokenCount(text), 0), total_tokens: 0 },
      });
    }
    if (!path.endsWith('/chat/completions')) return sendJson(response, 404, { error: { message: 'Not found', type: 'invalid_request_error', code: null } });
    const view: OpenAiFakeRequestView = { model: String(body.model), streaming: body.stream === true, messages: (body.messages ?? []) as OpenAiFakeRequestView['messages'], body };
    const reply = Array.isArray(responder) ? responder.shift() : responder(view);
    if (!reply) return sendJson(response, 500, { error: { message: 'fake: the chat script is exhausted', type: 'server_error', code: null } });
    if ('fault' in reply) {
      switch (reply.fault) {
        case 'rate-limit':
          return sendJson(response, 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': String(reply.retryAfterSeconds ?? 1) });
        case 'http-500':
          return sendJson(response, 500, { error: { message: 'The server had an error', type: 'server_error', code: null } });
        case 'context-too-long':
          return sendJson(response, 400, { error: { message: "This model's maximum context length is 8192 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded' } });
        case 'malformed-chunk':
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.end('data: {"choices":[{"delta":{"content":"안\n\ndata: [DONE]\n\n');
          return;
      }
    }
    const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
      id: call.id ?? `call_${index}_${Math.random().toString(36).slice(2, 10)}`,
      type: 'function' as const,
      function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments) },
    }));
    const text = reply.text ?? (toolCalls.length > 0 ? null : '');
    const usage = { prompt_tokens: fakeOpenAiPromptTokens(view.body), completion_tokens: fakeTokenCount(`${reply.text ?? ''}${reply.reasoning ?? ''}`) + toolCalls.length, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const finishReason = reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    if (!view.streaming) {
      const message: Record<string, unknown> = { role: 'assistant', content: text };
      if (toolCalls.length > 0) message.tool_calls = toolCalls;
      if (reply.reasoning) message.reasoning_content = reply.reasoning;
      return sendJson(response, 200, { id: 'chatcmpl-fake', object: 'chat.completion', model: view.model, choices: [{ index: 0, message, finish_reason: finishReason }], usage });
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const frame = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', model: view.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const events = [frame({ role: 'assistant', content: '' })];
    for (const piece of fakeTokenPieces(reply.reasoning ?? '')) events.push(frame({ reasoning_content: piece }));
    for (const piece of fakeTokenPieces(reply.text ?? '')) events.push(frame({ content: piece }));
    toolCalls.forEach((call, index) => {
      events.push(frame({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
      for (let offset = 0; offset < call.function.arguments.length; offset += 5) {
        events.push(frame({ tool_calls: [{ index, function: { arguments: call.function.arguments.slice(offset, offset + 5) } }] }));
      }
    });
    events.push(frame({}, finishReason));
    if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
      events.push(`data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
    }
    events.push('data: [DONE]\n\n');
    for (const event of events) {
      if (response.destroyed) return;
      await new Promise<void>((resolve) => response.write(event, () => resolve()));
    }
    response.end();
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { error: { message: 'fake failure', type: 'server_error', code: null } });
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    scriptChat(next) {
      responder = next;
    },
    openConnections: () => sockets.size,
    reset() {
      requests.length = 0;
      responder = echo;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
