/** Per-channel settings: the file format, its validation, and the store that reloads it on change. */
export {
  DEFAULT_KNOWLEDGE_SOURCE,
  type ChannelSettings,
  type CompactionSettings,
  type EscalationContacts,
  type KnowledgeSource,
} from './channel-settings.js';
export { createSettingsStore, MAX_SETTINGS_FILE_BYTES, type ReloadOutcome, type SettingsSnapshot, type SettingsStore, type SettingsStoreOptions } from './settings-store.js';
export { parseSettingsText, type ParsedSettings } from './parse-settings.js';
export { resolveChannelSettings } from './resolve-settings.js';
export { SettingsFileError, formatSettingsProblems, type SettingsProblem } from './settings-file-error.js';
