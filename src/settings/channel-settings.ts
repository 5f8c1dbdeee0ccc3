import { z } from 'zod';

/** How a channel's long threads are fitted to the model budget; unset fields fall back to the process config. */
export interface CompactionSettings {
  strategy?: 'sliding' | 'summary';
  historyTokenBudget?: number;
}

/**
 * Where a channel's answers search. Absent means the process default (KNOWLEDGE_DIR,
 * KNOWLEDGE_INDEX_FILE or SEARCH_API_URL); relative paths are already resolved against the settings file's folder.
 */
export type KnowledgeSource =
  | { name: string; kind: 'index-file'; path: string }
  | { name: string; kind: 'directory'; path: string }
  | { name: string; kind: 'search-api'; url: string };

/** Who a thread is handed to when a person asks for one: Slack user (U…/W…) or user-group (S…) ids, Discord user ids or `&`-prefixed role ids. */
export interface EscalationContacts {
  slack?: string[];
  discord?: string[];
}

/** The settings that apply to one channel after merging defaults, workspace and channel entries. */
export interface ChannelSettings {
  /** False: the bot stays silent in this channel. */
  enabled: boolean;
  /** Answer only messages that mention the bot, thread follow-ups included. */
  mentionOnly: boolean;
  /** Answer messages written by other bots (never its own). */
  answerBots: boolean;
  /** Persona that replaces the built-in one (the citation instructions are always kept). */
  systemPrompt?: string;
  compaction?: CompactionSettings;
  knowledgeSource?: KnowledgeSource;
  escalationContacts: EscalationContacts;
}

/** The reserved knowledge source name that means "the process default". */
export const DEFAULT_KNOWLEDGE_SOURCE = 'default';

/** Longest persona accepted; longer prompts eat the history budget of every turn. */
export const MAX_SYSTEM_PROMPT_CHARS = 8_000;

const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be an id of letters, digits, `_`, `.`, `:` or `-` (at most 64 characters)');

const knowledgeSourceName = z
  .string({ error: 'must be the name of a knowledge source' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a lower-case name of letters, digits, `_` or `-`');

const slackContact = z
  .string({ error: 'must be a Slack id in quotes or plain text' })
  .regex(/^[UWS][A-Z0-9]{2,}$/, 'must be a Slack user id (U…, W…) or user-group id (S…)');

const discordContact = z
  .string({ error: 'must be a Discord id written as a quoted string (YAML turns long unquoted numbers into rounded numbers)' })
  .regex(/^&?\d{17,20}$/, 'must be a Discord user id, or a role id prefixed with `&`');

const MAPPING = { error: 'must be a mapping of keys to values' };

const escalationContactsSchema = z.strictObject({
  slack: z.array(slackContact, { error: 'must be a list of Slack ids' }).max(20, 'lists at most 20 contacts').optional(),
  discord: z.array(discordContact, { error: 'must be a list of Discord ids' }).max(20, 'lists at most 20 contacts').optional(),
}, MAPPING);

const compactionSchema = z.strictObject({
  strategy: z.enum(['sliding', 'summary'], { error: 'must be one of: sliding, summary' }).optional(),
  historyTokenBudget: z
    .number({ error: 'must be a whole number of tokens' })
    .int('must be a whole number of tokens')
    .min(256, 'must be at least 256')
    .max(2_000_000, 'must be at most 2000000')
    .optional(),
}, MAPPING);

/** One level of overrides (file defaults, a workspace or a channel): every field optional. */
export const settingsOverrideSchema = z.strictObject({
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
  mentionOnly: z.boolean({ error: 'must be true or false' }).optional(),
  answerBots: z.boolean({ error: 'must be true or false' }).optional(),
  systemPrompt: z
    .string({ error: 'must be text' })
    .trim()
    .min(1, 'must not be empty (leave the key out to keep the default persona)')
    .max(MAX_SYSTEM_PROMPT_CHARS, `must be at most ${MAX_SYSTEM_PROMPT_CHARS} characters`)
    .optional(),
  compaction: compactionSchema.optional(),
  knowledgeSource: knowledgeSourceName.optional(),
  escalationContacts: escalationContactsSchema.optional(),
}, MAPPING);

export type SettingsOverride = z.infer<typeof settingsOverrideSchema>;

const workspaceSchema = settingsOverrideSchema.extend({
  channels: z.record(identifier, settingsOverrideSchema, { error: 'must map channel ids to settings' }).optional(),
});

export type WorkspaceSettings = z.infer<typeof workspaceSchema>;

const knowledgeSourceDefinitionSchema = z
  .strictObject({
    indexFile: z.string({ error: 'must be a file path' }).min(1, 'must not be empty').optional(),
    directory: z.string({ error: 'must be a folder path' }).min(1, 'must not be empty').optional(),
    searchApiUrl: z
      .string({ error: 'must be a URL' })
      .refine(isHttpUrl, 'must be a URL starting with http:// or https://')
      .optional(),
  }, MAPPING)
  .refine((definition) => Object.values(definition).filter((value) => value !== undefined).length === 1, {
    message: 'must set exactly one of indexFile, directory or searchApiUrl',
  });

export type KnowledgeSourceDefinition = z.infer<typeof knowledgeSourceDefinitionSchema>;

/** The whole settings file. */
export const settingsFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only format so far)' }).optional(),
  defaults: settingsOverrideSchema.optional(),
  knowledgeSources: z
    .record(knowledgeSourceName, knowledgeSourceDefinitionSchema, { error: 'must map names to a source' })
    .refine((sources) => !(DEFAULT_KNOWLEDGE_SOURCE in sources), {
      message: `must not define \`${DEFAULT_KNOWLEDGE_SOURCE}\` (it always means the process default)`,
    })
    .optional(),
  workspaces: z.record(identifier, workspaceSchema, { error: 'must map workspace or guild ids to settings' }).optional(),
}, { error: 'must be a mapping with any of: version, defaults, knowledgeSources, workspaces' });

export type SettingsFile = z.infer<typeof settingsFileSchema>;

function isHttpUrl(value: string): boolean {
  try {
    const protocol = new URL(value).protocol;
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
