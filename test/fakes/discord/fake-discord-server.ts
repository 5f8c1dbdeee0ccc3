import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nextSnowflake } from './snowflakes.js';

/** One request the fake received, as the test sees it (the bot token itself is never kept). */
export interface RecordedRequest {
  method: string;
  /** Path below `/api/v10`, e.g. `/channels/1/messages`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** How the request authenticated: the bot token, nothing (interaction webhooks), or something else. */
  auth: 'bot' | 'none' | 'other';
  status: number;
  at: number;
  /** `performance.now()` on arrival, for benchmarks in the same process. */
  arrivedAt: number;
}

/** A message as the fake stores it (the API's message object plus what the fake tracks). */
export interface FakeMessage {
  id: string;
  channel_id: string;
  content: string;
  components: unknown[];
  flags: number;
  /** Set for interaction responses and follow-ups. */
  interactionToken?: string;
  message_reference?: { message_id: string };
  mention_everyone: boolean;
  mentions: string[];
  mention_roles: string[];
  deleted: boolean;
  editCount: number;
}

export interface FakeThread {
  id: string;
  parentId: string;
  guildId: string | undefined;
  name: string;
}

interface FakeInteraction {
  id: string;
  token: string;
  channelId: string;
  guildId: string | undefined;
  acknowledged: boolean;
  ephemeral: boolean;
  originalMessageId?: string;
  /** Waiters for an acknowledgement that arrives as an HTTP response (delivered by the test). */
  waiters: Array<() => void>;
}

interface RateLimitRule {
  method: string;
  path: RegExp;
  remaining: number;
  retryAfterSeconds: number;
}

/** A ping Discord would have sent: a message whose mentions were not suppressed. */
export interface RecordedPing {
  messageId: string;
  everyone: boolean;
  users: string[];
  roles: string[];
}

const MESSAGE_LIMIT = 2_000;
const LOADING_FLAG = 128;
const EPHEMERAL_FLAG = 64;

/**
 * A Discord REST API on loopback: the routes the adapter uses, with Discord's validation (2,000
 * characters, custom id length, acknowledge-once), its mention rules (`allowed_mentions`, default
 * "parse everything"), 429s on demand with `Retry-After`, and a record of every request.
 */
export class FakeDiscordServer {
  readonly requests: RecordedRequest[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly threads = new Map<string, FakeThread>();
  readonly pings: RecordedPing[] = [];
  readonly registeredCommands = new Map<string, unknown[]>();
  /** Called when a thread is created, as Discord then sends THREAD_CREATE to the bot. */
  onThreadCreated: ((thread: FakeThread) => void) | undefined;
  private readonly interactions = new Map<string, FakeInteraction>();
  private readonly rateLimits: RateLimitRule[] = [];
  private readonly messagesByNonce = new Map<string, FakeMessage>();
  private failAfterCreate = 0;
  private server: Server | undefined;
  private baseUrl = '';

  constructor(
    readonly applicationId: string,
    private readonly botToken: string,
    readonly botUserId = applicationId,
  ) {}

  /** Starts on 127.0.0.1, a free port; resolves with the REST base to give discord.js (`…/api`). */
  async start(): Promise<string> {
    const server = createServer((request, response) => void this.serve(request, response));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get apiUrl(): string {
    return this.baseUrl;
  }

  /** Makes Discord aware of an interaction it is about to dispatch (its token becomes valid). */
  registerInteraction(interaction: { id: string; token: string; channelId: string; guildId?: string }): void {
    this.interactions.set(interaction.token, { ...interaction, guildId: interaction.guildId, acknowledged: false, ephemeral: false, waiters: [] });
  }

  /** Applies an interaction response that came back as an HTTP response body (the HTTP endpoint mode). */
  acknowledgeFromHttpResponse(token: string, response: { type: number; data?: { content?: string; flags?: number } }): void {
    const interaction = this.interactions.get(token);
    if (!interaction) throw new Error('unknown interaction token');
    this.acknowledge(interaction, response);
  }

  /** The next `times` channel-message creates are carried out but answered 502, as if the response were lost. */
  loseCreateResponses(times = 1): void {
    this.failAfterCreate = times;
  }

  /** The next `times` requests matching `method` + `path` get a 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, path: RegExp, retryAfterSeconds: number, times = 1): void {
    this.rateLimits.push({ method: method.toUpperCase(), path, remaining: times, retryAfterSeconds });
  }

  /** Messages of a channel (or thread) in posting order, deleted ones left out. */
  channelMessages(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((message) => message.channel_id === channelId && !message.deleted);
  }

  /** The interaction's original response. */
  originalResponse(interactionToken: string): FakeMessage | undefined {
    const id = this.interactions.get(interactionToken)?.originalMessageId;
    return id ? this.messages.get(id) : undefined;
  }

  /** The raw message object Discord would send in a payload (e.g. the message a button sits on). */
  messageObject(message: FakeMessage): Record<string, unknown> {
    return {
      id: message.id,
      channel_id: message.channel_id,
      author: { id: this.botUserId, username: 'threadline', discriminator: '0', global_name: null, avatar: null, bot: true },
      content: message.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: message.editCount > 0 ? new Date().toISOString() : null,
      tts: false,
      mention_everyone: message.mention_everyone,
      mentions: message.mentions.map((id) => ({ id, username: `user${id}`, discriminator: '0', global_name: null, avatar: null })),
      mention_roles: message.mention_roles,
      attachments: [],
      embeds: [],
      pinned: false,
      type: message.message_reference ? 19 : 0,
      flags: message.flags,
      components: message.components,
      ...(message.interactionToken ? { webhook_id: this.applicationId, application_id: this.applicationId } : {}),
      ...(message.message_reference ? { message_reference: { ...message.message_reference, channel_id: message.channel_id } } : {}),
    };
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
    const method = (request.method ?? 'GET').toUpperCase();
    const raw = await readAll(request);
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = raw.toString('utf8');
    }
    const authorization = request.headers.authorization;
    const auth: RecordedRequest['auth'] = authorization === undefined ? 'none' : authorization === `Bot ${this.botToken}` ? 'bot' : 'other';
    const arrivedAt = performance.now();
    const record: RecordedRequest = { method, path, query: Object.fromEntries(url.searchParams), body, auth, status: 0, at: Date.now(), arrivedAt };
    this.requests.push(record);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (payload === undefined) {
        // Discord answers callbacks with 204 and no content-type; a JSON type with no body breaks clients.
        response.writeHead(status, headers).end();
      } else {
        response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
      }
    };
    const limited = this.rateLimits.find((rule) => rule.remaining > 0 && rule.method === method && rule.path.test(path));
    if (limited) {
      limited.remaining -= 1;
      const seconds = String(limited.retryAfterSeconds);
      send(429, { message: 'You are being rate limited.', retry_after: limited.retryAfterSeconds, global: false }, {
        'retry-after': seconds,
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': seconds,
        'x-ratelimit-bucket': `fake-${method}-${limited.path.source}`,
        'x-ratelimit-scope': 'user',
      });
      return;
    }
    try {
      await this.route(method, path, body, auth, send);
    } catch (error) {
      send(500, { message: `fake server error: ${error instanceof Error ? error.message : String(error)}`, code: 0 });
    }
  }

  private async route(method: string, path: string, body: unknown, auth: RecordedRequest['auth'], send: (status: number, payload?: unknown) => void): Promise<void> {
    let match: RegExpExecArray | null;
    if (method === 'POST' && (match = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) {
      const interaction = this.interactions.get(decodeURIComponent(match[2] as string));
      if (!interaction || interaction.id !== match[1]) return send(404, { message: 'Unknown interaction', code: 10062 });
      if (interaction.acknowledged) return send(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      this.acknowledge(interaction, body as { type: number; data?: { content?: string; flags?: number } });
      return send(204);
    }
    if ((match = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(path))) {
      if (match[1] !== this.applicationId) return send(404, { message: 'Unknown Webhook', code: 10015 });
      if (auth !== 'none') return send(400, { message: 'interaction webhooks take no bot token in this fake', code: 0 });
      const interaction = this.interactions.get(decodeURIComponent(match[2] as string));
      if (!interaction || !(await this.whenAcknowledged(interaction))) return send(404, { message: 'Unknown Webhook', code: 10015 });
      const target = match[3] === '@original' ? interaction.originalMessageId : match[3];
      if (method === 'POST' && !match[3]) {
        const invalid = validateMessage(body, true);
        if (invalid) return send(400, invalid);
        const message = this.store(interaction.channelId, body as MessageBody, { interactionToken: interaction.token });
        return send(200, this.messageObject(message));
      }
      const message = target ? this.messages.get(target) : undefined;
      if (!message || message.interactionToken !== interaction.token || message.deleted) return send(404, { message: 'Unknown Message', code: 10008 });
      if (method === 'GET') return send(200, this.messageObject(message));
      if (method === 'DELETE' || method === 'PATCH') return this.changeMessage(method, message, body, send);
    }
    if ((match = /^\/channels\/(\d+)\/(.+)$/.exec(path))) {
      if (auth !== 'bot') return send(401, { message: '401: Unauthorized', code: 0 });
      const channelId = match[1] as string;
      const rest = match[2] as string;
      if (method === 'POST' && rest === 'typing') return send(204);
      if (method === 'POST' && rest === 'messages') {
        const invalid = validateMessage(body, true);
        if (invalid) return send(400, invalid);
        const message = body as MessageBody;
        // Discord: with enforce_nonce, a second create with the same nonce (within minutes) returns the first message.
        const nonceKey = message.enforce_nonce && message.nonce !== undefined ? `${channelId}:${message.nonce}` : undefined;
        const earlier = nonceKey ? this.messagesByNonce.get(nonceKey) : undefined;
        if (earlier) return send(200, this.messageObject(earlier));
        const created = this.store(channelId, message, {});
        if (nonceKey) this.messagesByNonce.set(nonceKey, created);
        if (this.failAfterCreate > 0) {
          // The message exists, but the client never learns it: as when a response is lost on the way back.
          this.failAfterCreate -= 1;
          return send(502, { message: 'Bad Gateway', code: 0 });
        }
        return send(200, this.messageObject(created));
      }
      const messageMatch = /^messages\/(\d+)(\/threads)?$/.exec(rest);
      if (messageMatch) {
        const message = this.messages.get(messageMatch[1] as string);
        if (messageMatch[2] && method === 'POST') return this.startThread(channelId, messageMatch[1] as string, body, send);
        if (!message || message.channel_id !== channelId || message.deleted) return send(404, { message: 'Unknown Message', code: 10008 });
        if (method === 'DELETE' || method === 'PATCH') return this.changeMessage(method, message, body, send);
      }
    }
    if (method === 'PUT' && (match = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      if (auth !== 'bot') return send(401, { message: '401: Unauthorized', code: 0 });
      const commands = Array.isArray(body) ? body : [];
      this.registeredCommands.set(match[2] ?? 'global', commands);
      return send(200, commands.map((command: Record<string, unknown>) => ({ ...command, id: nextSnowflake(), application_id: match?.[1], version: nextSnowflake() })));
    }
    send(404, { message: '404: Not Found', code: 0 });
  }

  private startThread(channelId: string, messageId: string, body: unknown, send: (status: number, payload?: unknown) => void): void {
    if (this.threads.has(messageId)) return send(400, { message: 'A thread has already been created for this message', code: 160004 });
    const starter = this.messages.get(messageId);
    const name = typeof (body as { name?: unknown })?.name === 'string' ? (body as { name: string }).name : '';
    if (name.length === 0 || name.length > 100) return send(400, { message: 'Invalid Form Body', code: 50035 });
    // The starter message may be a user's message the fake never stored; Discord only needs it to exist.
    const thread: FakeThread = { id: messageId, parentId: channelId, guildId: starter ? this.interactionGuild(starter) : undefined, name };
    this.threads.set(thread.id, thread);
    this.onThreadCreated?.(thread);
    send(201, { id: thread.id, type: 11, parent_id: channelId, guild_id: thread.guildId, name, owner_id: this.botUserId, thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false }, message_count: 0, member_count: 1 });
  }

  private interactionGuild(message: FakeMessage): string | undefined {
    return message.interactionToken ? this.interactions.get(message.interactionToken)?.guildId : undefined;
  }

  private acknowledge(interaction: FakeInteraction, response: { type: number; data?: { content?: string; flags?: number } }): void {
    interaction.acknowledged = true;
    interaction.ephemeral = ((response.data?.flags ?? 0) & EPHEMERAL_FLAG) !== 0;
    if (response.type === 5 || response.type === 4) {
      const flags = (response.data?.flags ?? 0) | (response.type === 5 ? LOADING_FLAG : 0);
      const message = this.store(interaction.channelId, { content: response.data?.content ?? '' }, { interactionToken: interaction.token, flags });
      interaction.originalMessageId = message.id;
    }
    for (const wake of interaction.waiters.splice(0)) wake();
  }

  /** Discord processes an HTTP-mode acknowledgement before edits can see it; wait briefly like it. */
  private async whenAcknowledged(interaction: FakeInteraction): Promise<boolean> {
    if (interaction.acknowledged) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      interaction.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return interaction.acknowledged;
  }

  private store(channelId: string, body: MessageBody, extra: { interactionToken?: string; flags?: number }): FakeMessage {
    const message: FakeMessage = {
      id: nextSnowflake(),
      channel_id: channelId,
      content: '',
      components: [],
      flags: extra.flags ?? 0,
      ...(extra.interactionToken ? { interactionToken: extra.interactionToken } : {}),
      ...(body.message_reference ? { message_reference: { message_id: body.message_reference.message_id } } : {}),
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      deleted: false,
      editCount: 0,
    };
    this.messages.set(message.id, message);
    this.applyBody(message, body);
    return message;
  }

  /** A delete or an edit, the same whether it came with the bot token or an interaction token. */
  private changeMessage(method: 'DELETE' | 'PATCH', message: FakeMessage, body: unknown, send: (status: number, payload?: unknown) => void): void {
    if (method === 'DELETE') {
      message.deleted = true;
      return send(204);
    }
    const invalid = validateMessage(body, false);
    if (invalid) return send(400, invalid);
    this.edit(message, body as MessageBody);
    return send(200, this.messageObject(message));
  }

  private edit(message: FakeMessage, body: MessageBody): void {
    message.editCount += 1;
    message.flags &= ~LOADING_FLAG;
    this.applyBody(message, body);
  }

  private applyBody(message: FakeMessage, body: MessageBody): void {
    if (body.content !== undefined) message.content = body.content;
    if (body.components !== undefined) message.components = body.components;
    // No allowed_mentions at all: everything pings. An allowed_mentions object: only what it lists.
    const parse = body.allowed_mentions ? (body.allowed_mentions.parse ?? []) : ['everyone', 'users', 'roles'];
    const allowedUsers = body.allowed_mentions?.users ?? [];
    const allowedRoles = body.allowed_mentions?.roles ?? [];
    const content = message.content;
    message.mention_everyone = parse.includes('everyone') && /@(everyone|here)/.test(content);
    message.mentions = [...content.matchAll(/<@!?(\d+)>/g)].map((found) => found[1] as string).filter((id) => parse.includes('users') || allowedUsers.includes(id));
    message.mention_roles = [...content.matchAll(/<@&(\d+)>/g)].map((found) => found[1] as string).filter((id) => parse.includes('roles') || allowedRoles.includes(id));
    if (message.mention_everyone || message.mentions.length > 0 || message.mention_roles.length > 0) {
      this.pings.push({ messageId: message.id, everyone: message.mention_everyone, users: message.mentions, roles: message.mention_roles });
    }
  }
}

interface MessageBody {
  nonce?: string | number;
  enforce_nonce?: boolean;
  content?: string;
  components?: unknown[];
  allowed_mentions?: { parse?: string[]; users?: string[]; roles?: string[] };
  message_reference?: { message_id: string };
}

/** Discord's checks on a message body; a JSON error object when it would refuse it. */
function validateMessage(body: unknown, creating: boolean): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null) return { message: 'Invalid Form Body', code: 50035 };
  const message = body as MessageBody;
  if (message.content !== undefined && message.content.length > MESSAGE_LIMIT) {
    return { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${MESSAGE_LIMIT} or fewer in length.` }] } } };
  }
  if (creating && !message.content && (message.components?.length ?? 0) === 0) return { message: 'Cannot send an empty message', code: 50006 };
  const allowed = message.allowed_mentions;
  if (allowed) {
    // Discord refuses a type both parsed wholesale and listed by id, and lists longer than 100.
    if ((allowed.parse?.includes('users') && allowed.users !== undefined) || (allowed.parse?.includes('roles') && allowed.roles !== undefined)) {
      return { message: 'Invalid Form Body', code: 50035, errors: { allowed_mentions: { _errors: [{ code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', message: 'parse and the id lists are mutually exclusive' }] } } };
    }
    if ((allowed.users?.length ?? 0) > 100 || (allowed.roles?.length ?? 0) > 100) return { message: 'Invalid Form Body', code: 50035 };
  }
  for (const row of (message.components ?? []) as Array<{ components?: Array<{ custom_id?: string; label?: string }> }>) {
    for (const component of row.components ?? []) {
      if ((component.custom_id?.length ?? 0) > 100 || (component.label?.length ?? 0) > 80) return { message: 'Invalid Form Body', code: 50035 };
    }
  }
  return undefined;
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
