import { readFileSync } from 'node:fs';
import { nextSnowflake } from './snowflakes.js';

const FIXTURES = new URL('../../fixtures/discord/', import.meta.url);

/** Loads a raw gateway payload fixture and fills its placeholders (whole-string matches only). */
function fixture(name: string, values: Record<string, string>): Record<string, unknown> {
  const template = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as unknown;
  const fill = (node: unknown): unknown => {
    if (typeof node === 'string') return values[node] ?? node;
    if (Array.isArray(node)) return node.map(fill);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [values[key] ?? key, fill(value)]));
    }
    return node;
  };
  return fill(template) as Record<string, unknown>;
}

export interface DiscordUser {
  id: string;
  username: string;
}

/** A raw GUILD_CREATE payload with one text channel. */
export function guildPayload(guildId: string, channelId: string): Record<string, unknown> {
  return fixture('guild-create.json', { GUILD_ID: guildId, CHANNEL_ID: channelId });
}

export interface SlashCommandSpec {
  applicationId: string;
  guildId?: string;
  /** The channel the command was used in; `type` 11 for a thread (then `parentId`). */
  channel: { id: string; type: number; parentId?: string };
  user: DiscordUser;
  name: string;
  question?: string;
  id?: string;
  token?: string;
}

/** A raw INTERACTION_CREATE for a slash command (the same JSON the HTTP endpoint receives). */
export function slashCommandPayload(spec: SlashCommandSpec): Record<string, unknown> & { id: string; token: string } {
  const id = spec.id ?? nextSnowflake();
  const token = spec.token ?? `interaction-token-${id}`;
  const payload = fixture('interaction-create-ask.json', {
    INTERACTION_ID: id,
    INTERACTION_TOKEN: token,
    APPLICATION_ID: spec.applicationId,
    GUILD_ID: spec.guildId ?? 'none',
    CHANNEL_ID: spec.channel.id,
    USER_ID: spec.user.id,
    COMMAND_ID: nextSnowflake(),
  });
  const data = payload.data as Record<string, unknown>;
  data.name = spec.name;
  data.options = spec.question === undefined ? [] : [{ name: 'question', type: 3, value: spec.question }];
  const channel = payload.channel as Record<string, unknown>;
  channel.type = spec.channel.type;
  channel.parent_id = spec.channel.parentId ?? null;
  ((payload.member as Record<string, unknown>).user as Record<string, unknown>).username = spec.user.username;
  if (spec.guildId === undefined) asDirectMessage(payload, spec.user, data);
  return { ...payload, id, token };
}

function asDirectMessage(payload: Record<string, unknown>, user: DiscordUser, data: Record<string, unknown>): void {
  const member = payload.member as { user: Record<string, unknown> };
  delete payload.guild_id;
  delete payload.member;
  delete data.guild_id;
  payload.user = member.user;
  payload.context = 1;
  payload.authorizing_integration_owners = { '0': user.id };
  const channel = payload.channel as Record<string, unknown>;
  payload.channel = { id: channel.id, type: 1, flags: 0, last_message_id: null, recipients: [member.user] };
}

export interface ButtonClickSpec {
  applicationId: string;
  guildId?: string;
  channelId: string;
  /** 0 (default) a text channel, 11 a public thread (then `parentId`). */
  channelType?: number;
  parentId?: string;
  user: DiscordUser;
  customId: string;
  /** The raw message the button sits on (as the fake serves it). */
  message: Record<string, unknown>;
}

/** A raw INTERACTION_CREATE for a button click. */
export function buttonClickPayload(spec: ButtonClickSpec): Record<string, unknown> & { id: string; token: string } {
  const channel = { id: spec.channelId, type: spec.channelType ?? 0, ...(spec.parentId ? { parentId: spec.parentId } : {}) };
  const base = slashCommandPayload({ applicationId: spec.applicationId, guildId: spec.guildId, channel, user: spec.user, name: 'unused' });
  return { ...base, type: 3, message: spec.message, data: { custom_id: spec.customId, component_type: 2 } };
}

export interface MessageSpec {
  guildId?: string;
  channelId: string;
  /** 0 text channel, 11 public thread, 1 DM. */
  channelType: number;
  author: DiscordUser & { bot?: boolean };
  content: string;
  /** User ids mentioned in `content`. */
  mentions?: DiscordUser[];
  id?: string;
}

/** A raw MESSAGE_CREATE payload. */
export function messagePayload(spec: MessageSpec): Record<string, unknown> & { id: string } {
  const id = spec.id ?? nextSnowflake();
  const payload = fixture('message-create.json', {
    MESSAGE_ID: id,
    CHANNEL_ID: spec.channelId,
    GUILD_ID: spec.guildId ?? 'none',
    USER_ID: spec.author.id,
    CONTENT: spec.content,
    TIMESTAMP: new Date().toISOString(),
  });
  payload.channel_type = spec.channelType;
  const author = payload.author as Record<string, unknown>;
  author.username = spec.author.username;
  if (spec.author.bot) author.bot = true;
  payload.mentions = (spec.mentions ?? []).map((user) => ({ id: user.id, username: user.username, discriminator: '0', global_name: null, avatar: null }));
  if (spec.guildId === undefined) {
    delete payload.guild_id;
    delete payload.member;
  }
  return { ...payload, id };
}

/** A raw THREAD_CREATE payload, as Discord sends it to the thread's creator. */
export function threadPayload(thread: { id: string; parentId: string; guildId: string; name: string; ownerId: string }): Record<string, unknown> {
  return {
    id: thread.id,
    type: 11,
    guild_id: thread.guildId,
    parent_id: thread.parentId,
    name: thread.name,
    owner_id: thread.ownerId,
    last_message_id: null,
    rate_limit_per_user: 0,
    message_count: 0,
    member_count: 1,
    thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    flags: 0,
    newly_created: true,
  };
}
