import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorCodeOf } from '../../src/errors.js';
import { readBody, type HttpServer } from '../../src/http/http-server.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { OPTION_QUESTION } from './commands.js';
import { NO_MENTIONS } from './discord-rest.js';
import type { ButtonClick, CommandInvocation, InteractionHandler, InteractionResponder } from './interaction-handler.js';
import { createInteractionSignatureVerifier } from './interaction-signature.js';

/** Where Discord posts interactions when the application's "Interactions Endpoint URL" points at us. */
export const INTERACTIONS_PATH = '/discord/interactions';
const MAX_BODY_BYTES = 1024 * 1024;
const EPHEMERAL_FLAG = 64;
const THREAD_CHANNEL_TYPES = new Set([10, 11, 12]);

const userSchema = z.object({ id: z.string().min(1), username: z.string().optional(), global_name: z.string().nullish() });
const interactionSchema = z.object({
  id: z.string().min(1),
  type: z.number().int(),
  token: z.string().min(1).optional(),
  guild_id: z.string().optional(),
  channel_id: z.string().optional(),
  channel: z.object({ id: z.string(), type: z.number().int(), parent_id: z.string().nullish() }).optional(),
  member: z.object({ user: userSchema }).optional(),
  user: userSchema.optional(),
  data: z
    .object({
      name: z.string().optional(),
      type: z.number().int().optional(),
      custom_id: z.string().optional(),
      component_type: z.number().int().optional(),
      options: z.array(z.object({ name: z.string(), type: z.number().int(), value: z.unknown().optional() })).optional(),
    })
    .optional(),
});
type RawInteraction = z.infer<typeof interactionSchema>;

export interface InteractionsEndpointOptions {
  http: HttpServer;
  /** The application's public key (64 hex digits). */
  publicKey: string;
  handler: InteractionHandler;
  logger: Logger;
  metrics?: Metrics;
  track: (work: Promise<unknown>) => void;
  now: () => number;
}

/**
 * Registers `POST /discord/interactions`: Ed25519-verified (401 otherwise), PING → PONG, commands and
 * button clicks acknowledged in the HTTP response (a deferred message for `/ask`), with everything
 * after that sent over REST. Stateless: any replica behind a load balancer can take any request.
 */
export function registerInteractionsEndpoint(options: InteractionsEndpointOptions): void {
  const verifySignature = createInteractionSignatureVerifier(options.publicKey);
  options.http.route('POST', INTERACTIONS_PATH, async (request, response) => {
    let body: Buffer;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch {
      respondText(response, 413, 'request body too large');
      return;
    }
    const signature = request.headers['x-signature-ed25519'];
    const timestamp = request.headers['x-signature-timestamp'];
    if (!verifySignature(typeof signature === 'string' ? signature : undefined, typeof timestamp === 'string' ? timestamp : undefined, body)) {
      respondText(response, 401, 'invalid request signature');
      return;
    }
    const interaction = parseInteraction(body);
    if (!interaction) {
      respondText(response, 400, 'malformed interaction');
      return;
    }
    await dispatch(interaction, response, options);
  });
}

async function dispatch(interaction: RawInteraction, response: ServerResponse, options: InteractionsEndpointOptions): Promise<void> {
  if (interaction.type === 1) {
    respondJson(response, { type: 1 });
    return;
  }
  const receivedAt = options.now();
  const invocation = interaction.type === 2 && interaction.data?.type === 1 ? commandInvocation(interaction, receivedAt) : undefined;
  const click = interaction.type === 3 && interaction.data?.component_type === 2 ? buttonClick(interaction, receivedAt) : undefined;
  if (!invocation && !click) {
    respondText(response, 400, 'unsupported interaction');
    return;
  }
  const { responder, firstResponse } = httpResponder(response);
  const work = invocation ? options.handler.handleCommand(invocation, responder) : options.handler.handleButton(click as ButtonClick, responder);
  const finished = work.then(
    (outcome) => ({ kind: 'finished' as const, outcome }),
    (error: unknown) => ({ kind: 'failed' as const, error }),
  );
  options.track(finished);
  const first = await Promise.race([firstResponse.then(() => ({ kind: 'responded' as const })), finished]);
  if (first.kind === 'failed') {
    options.metrics?.countError(first.error);
    options.logger.error({ code: errorCodeOf(first.error) }, 'discord interaction failed before it was acknowledged');
    if (!response.headersSent) respondText(response, 500, 'internal error');
  } else if (first.kind === 'finished' && !response.headersSent) {
    // Claimed by another replica (only possible if Discord re-sent it): say so instead of leaving it unanswered.
    respondJson(response, { type: 4, data: { content: 'This request is already being handled.', flags: EPHEMERAL_FLAG, allowed_mentions: NO_MENTIONS } });
  }
  void finished.then((result) => {
    if (result.kind === 'failed' && response.headersSent) {
      options.metrics?.countError(result.error);
      options.logger.error({ code: errorCodeOf(result.error) }, 'discord interaction failed after it was acknowledged');
    }
  });
}

/**
 * The first response goes out as the HTTP response; `defer`/`reply` resolve only once it is written,
 * so no REST edit can reach Discord before the acknowledgement.
 */
function httpResponder(response: ServerResponse): { responder: InteractionResponder; firstResponse: Promise<void> } {
  let markResponded!: () => void;
  const firstResponse = new Promise<void>((resolve) => (markResponded = resolve));
  const send = async (payload: unknown) => {
    if (response.headersSent) throw new Error('interaction already acknowledged');
    await new Promise<void>((resolve) => respondJson(response, payload, resolve));
    markResponded();
  };
  return {
    firstResponse,
    responder: {
      defer: ({ ephemeral }) => send({ type: 5, data: ephemeral ? { flags: EPHEMERAL_FLAG } : {} }),
      reply: (content, { ephemeral }) =>
        send({ type: 4, data: { content, allowed_mentions: NO_MENTIONS, ...(ephemeral ? { flags: EPHEMERAL_FLAG } : {}) } }),
      // DEFERRED_UPDATE_MESSAGE: valid for component clicks only, which is where it is used.
      acknowledge: () => send({ type: 6 }),
    },
  };
}

function parseInteraction(body: Buffer): RawInteraction | undefined {
  try {
    const parsed = interactionSchema.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function commandInvocation(interaction: RawInteraction, receivedAt: number): CommandInvocation | undefined {
  const user = interaction.member?.user ?? interaction.user;
  const channelId = interaction.channel?.id ?? interaction.channel_id;
  if (!user || !channelId || !interaction.token || !interaction.data?.name) return undefined;
  const question = interaction.data.options?.find((option) => option.name === OPTION_QUESTION)?.value;
  const isThread = interaction.channel !== undefined && THREAD_CHANNEL_TYPES.has(interaction.channel.type);
  return {
    interactionId: interaction.id,
    token: interaction.token,
    receivedAt,
    commandName: interaction.data.name,
    question: typeof question === 'string' ? question : undefined,
    guildId: interaction.guild_id,
    channelId,
    parentChannelId: isThread ? (interaction.channel?.parent_id ?? undefined) : undefined,
    channelIsThread: isThread,
    user: { id: user.id, ...(user.global_name ?? user.username ? { name: (user.global_name ?? user.username) as string } : {}) },
  };
}

function buttonClick(interaction: RawInteraction, receivedAt: number): ButtonClick | undefined {
  const user = interaction.member?.user ?? interaction.user;
  const channelId = interaction.channel?.id ?? interaction.channel_id;
  if (!user || !channelId || !interaction.token || !interaction.data?.custom_id) return undefined;
  const isThread = interaction.channel !== undefined && THREAD_CHANNEL_TYPES.has(interaction.channel.type);
  const userName = user.global_name ?? user.username;
  return {
    interactionId: interaction.id,
    token: interaction.token,
    receivedAt,
    customId: interaction.data.custom_id,
    guildId: interaction.guild_id,
    channelId,
    parentChannelId: isThread ? (interaction.channel?.parent_id ?? undefined) : undefined,
    userId: user.id,
    ...(userName ? { userName } : {}),
  };
}

function respondJson(response: ServerResponse, payload: unknown, written?: () => void): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(payload), written);
}

function respondText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain' }).end(`${text}\n`);
}
