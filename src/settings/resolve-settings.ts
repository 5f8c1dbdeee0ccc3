import type { MessageScope } from '../engine/types.js';
import { DEFAULT_KNOWLEDGE_SOURCE, type ChannelSettings, type KnowledgeSource, type SettingsOverride } from './channel-settings.js';
import type { ParsedSettings } from './parse-settings.js';

/**
 * The settings for one channel: `base` (the process config), then the file's `defaults`, then the
 * workspace entry, then the channel entry; each later level wins key by key.
 *
 * @example
 * resolveChannelSettings(base, parsed, { workspaceId: 'T0123ABCD', channelId: 'C0456EFGH' }).mentionOnly
 */
export function resolveChannelSettings(base: ChannelSettings, parsed: ParsedSettings, scope: MessageScope): ChannelSettings {
  const workspace = parsed.workspaces.get(scope.workspaceId);
  const layers = [parsed.defaults, workspace?.override, workspace?.channels.get(scope.channelId)];
  let settings = base;
  for (const layer of layers) {
    if (layer) settings = applyOverride(settings, layer, parsed.knowledgeSources);
  }
  return settings;
}

function applyOverride(base: ChannelSettings, override: SettingsOverride, sources: ReadonlyMap<string, KnowledgeSource>): ChannelSettings {
  const systemPrompt = override.systemPrompt ?? base.systemPrompt;
  const compaction = override.compaction ? { ...base.compaction, ...withoutUndefined(override.compaction) } : base.compaction;
  const knowledgeSource = knowledgeSourceAfter(base.knowledgeSource, override.knowledgeSource, sources);
  return {
    enabled: override.enabled ?? base.enabled,
    mentionOnly: override.mentionOnly ?? base.mentionOnly,
    answerBots: override.answerBots ?? base.answerBots,
    ...(systemPrompt !== undefined ? { systemPrompt } : {}),
    ...(compaction !== undefined ? { compaction } : {}),
    ...(knowledgeSource !== undefined ? { knowledgeSource } : {}),
    // Per platform, a closer level's list replaces the wider one: a channel names its own people.
    escalationContacts: { ...base.escalationContacts, ...withoutUndefined(override.escalationContacts ?? {}) },
  };
}

function knowledgeSourceAfter(
  current: KnowledgeSource | undefined,
  name: string | undefined,
  sources: ReadonlyMap<string, KnowledgeSource>,
): KnowledgeSource | undefined {
  if (name === undefined) return current;
  if (name === DEFAULT_KNOWLEDGE_SOURCE) return undefined;
  // The parser rejects files naming an undefined source, so a miss here cannot come from a loaded file.
  return sources.get(name) ?? current;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
