import { isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_KNOWLEDGE_SOURCE, settingsFileSchema, type KnowledgeSource, type SettingsFile, type SettingsOverride } from './channel-settings.js';
import { SettingsFileError, type SettingsProblem } from './settings-file-error.js';

/** A validated settings file, indexed by id and with knowledge sources resolved, ready for `resolveChannelSettings`. */
export interface ParsedSettings {
  defaults?: SettingsOverride;
  /** Maps rather than objects: ids come from the file and must never reach `Object.prototype`. */
  workspaces: ReadonlyMap<string, ParsedWorkspace>;
  knowledgeSources: ReadonlyMap<string, KnowledgeSource>;
}

export interface ParsedWorkspace {
  override: SettingsOverride;
  channels: ReadonlyMap<string, SettingsOverride>;
}

/** Settings with no file: the code defaults apply everywhere. */
export const EMPTY_SETTINGS: ParsedSettings = { workspaces: new Map(), knowledgeSources: new Map() };

export interface ParseSettingsOptions {
  /** Shown in problems (usually the file path). */
  sourceName: string;
  /** Relative knowledge paths are resolved against this folder (the settings file's own). */
  baseDirectory: string;
}

/**
 * Parses and validates settings text (YAML, or JSON, which is valid YAML). Throws `SettingsFileError`
 * listing every problem at once, each with its place in the file and an example of a good value.
 */
export function parseSettingsText(text: string, options: ParseSettingsOptions): ParsedSettings {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error): SettingsProblem => {
      const position = error.linePos?.[0];
      return {
        path: '(file)',
        ...(position ? { line: position.line, column: position.col } : {}),
        problem: `is not valid YAML or JSON: ${firstLine(error.message)}`,
        example: 'mentionOnly: true   # key, colon, space, value; two spaces per nesting level',
      };
    });
    throw new SettingsFileError(options.sourceName, problems);
  }
  if (document.contents === null) {
    // Writers that truncate first and then write (shell redirection, many copy tools) expose an empty file
    // for a moment; taking it as "no overrides" would silently drop every channel's settings.
    throw new SettingsFileError(options.sourceName, [
      { path: '(file)', problem: 'is empty (or only comments); write `version: 1` for a file that sets nothing on purpose', example: 'version: 1' },
    ]);
  }
  keepLongIntegersExact(document);
  const reservedKeys = reservedKeyOffsets(document);
  if (reservedKeys.length > 0) {
    // Validation would never report these: the schema's records drop a `__proto__` key without a word.
    const problems = reservedKeys.map((offset): SettingsProblem => {
      const position = lineCounter.linePos(offset);
      return { path: '__proto__', line: position.line, column: position.col, problem: 'is not allowed as a key', example: EXAMPLES.workspaces! };
    });
    throw new SettingsFileError(options.sourceName, problems);
  }

  const raw: unknown = document.toJS({ maxAliasCount: 100 });
  const parsed = settingsFileSchema.safeParse(raw);
  const locate = locator(document, lineCounter);
  if (!parsed.success) {
    throw new SettingsFileError(options.sourceName, parsed.error.issues.flatMap((issue) => problemsOf(issue, locate)));
  }
  const referenceProblems = undefinedReferences(parsed.data).map(({ path, name }) => ({
    path: path.join('.'),
    ...locate(path),
    problem: `names the knowledge source \`${name}\`, which is not defined under knowledgeSources (defined: ${definedNames(parsed.data)})`,
    example: EXAMPLES.knowledgeSource!,
  }));
  if (referenceProblems.length > 0) throw new SettingsFileError(options.sourceName, referenceProblems);

  return indexSettings(deepFreeze(parsed.data), options.baseDirectory);
}

/** A correct line for each key, shown next to every problem with that key. */
const EXAMPLES: Record<string, string> = {
  version: 'version: 1',
  defaults: 'defaults: { mentionOnly: false }',
  knowledgeSources: 'knowledgeSources: { handbook: { directory: ./knowledge } }',
  workspaces: 'workspaces: { T0123ABCD: { channels: { C0456EFGH: { enabled: false } } } }',
  channels: 'channels: { C0456EFGH: { mentionOnly: true } }',
  enabled: 'enabled: false',
  mentionOnly: 'mentionOnly: true',
  answerBots: 'answerBots: false',
  systemPrompt: 'systemPrompt: "You are the billing desk of ACME. Answer briefly."',
  compaction: 'compaction: { strategy: summary, historyTokenBudget: 16000 }',
  strategy: 'strategy: sliding',
  historyTokenBudget: 'historyTokenBudget: 16000',
  knowledgeSource: 'knowledgeSource: handbook   # a name under knowledgeSources, or `default`',
  escalationContacts: "escalationContacts: { slack: [U0123ABCD], discord: ['123456789012345678'] }",
  slack: 'slack: [U0123ABCD, S0456EFGH]',
  discord: "discord: ['123456789012345678', '&234567890123456789']",
  indexFile: 'indexFile: ./data/billing-index.json',
  directory: 'directory: ./knowledge/billing',
  searchApiUrl: 'searchApiUrl: https://search.internal/api/search',
};

/** Examples for the ids that key a map, by the map they key. */
const ENTRY_EXAMPLES: Record<string, string> = {
  workspaces: "T0123ABCD: { mentionOnly: true }   # a Slack team id, or a Discord guild id in quotes: '987654321098765432'",
  channels: "C0456EFGH: { enabled: false }   # a Slack channel id, or a Discord channel id in quotes: '123456789012345678'",
  knowledgeSources: 'billing-docs: { searchApiUrl: https://search.internal/api/search }',
};

const KNOWN_KEYS = Object.keys(EXAMPLES);

type Locate = (path: readonly PropertyKey[], key?: string) => { line?: number; column?: number };

function problemsOf(issue: z.core.$ZodIssue, locate: Locate): SettingsProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const suggestion = closestKnownKey(key);
      return {
        path: [...path, key].join('.') || key,
        ...locate(path, key),
        problem: `is not a known setting${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}`,
        example: exampleFor([...path, ...(suggestion ? [suggestion] : [])]),
      };
    });
  }
  const message = issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message).join('; ') : issue.message;
  return [{ path: path.join('.') || '(file)', ...locate(path), problem: message, example: exampleFor(path) }];
}

function exampleFor(path: readonly PropertyKey[]): string {
  let container: string | undefined;
  let lastField: string | undefined;
  let endsWithId = false;
  for (const segment of path) {
    if (typeof segment !== 'string') continue; // list indexes: the example of the list itself applies
    if (container) {
      endsWithId = true;
      container = undefined;
      continue;
    }
    endsWithId = false;
    lastField = segment;
    if (segment === 'workspaces' || segment === 'channels' || segment === 'knowledgeSources') container = segment;
  }
  if (endsWithId && lastField) return ENTRY_EXAMPLES[lastField] ?? EXAMPLES[lastField] ?? '';
  if (!lastField) return 'defaults: { enabled: true }   # the file is one mapping: version, defaults, knowledgeSources, workspaces';
  return EXAMPLES[lastField] ?? '';
}

function closestKnownKey(key: string): string | undefined {
  const normalised = normaliseKey(key);
  const exact = KNOWN_KEYS.find((known) => normaliseKey(known) === normalised);
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const known of KNOWN_KEYS) {
    const distance = editDistance(normalised, normaliseKey(known));
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: known, distance };
  }
  return best?.key;
}

/** Folds `mention_only`, `mention-only` and `MentionOnly` together: the usual ways a key gets misspelt. */
function normaliseKey(key: string): string {
  return key.replace(/[_\-\s]/g, '').toLowerCase();
}

function editDistance(left: string, right: string): number {
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let row = 1; row <= left.length; row += 1) {
    const current = [row];
    for (let column = 1; column <= right.length; column += 1) {
      const substitution = previous[column - 1]! + (left[row - 1] === right[column - 1] ? 0 : 1);
      current.push(Math.min(previous[column]! + 1, current[column - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length]!;
}

/**
 * Discord ids are 17–20 digit numbers: unquoted in YAML they would become rounded floating-point numbers.
 * Keys are always ids or names, so every key keeps its written text; long integer values keep theirs too.
 */
function keepLongIntegersExact(document: Document): void {
  visit(document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && typeof pair.key.value !== 'string' && pair.key.source !== undefined) {
        pair.key.value = pair.key.source;
      }
    },
    Scalar(_, scalar) {
      if (typeof scalar.value === 'number' && !Number.isSafeInteger(scalar.value) && /^\d+$/.test(scalar.source ?? '')) {
        scalar.value = scalar.source;
      }
    },
  });
}

function reservedKeyOffsets(document: Document): number[] {
  const offsets: number[] = [];
  visit(document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === '__proto__') offsets.push(pair.key.range?.[0] ?? 0);
    },
  });
  return offsets;
}

function locator(document: Document, lineCounter: LineCounter): Locate {
  return (path, key) => {
    let node: unknown = document.getIn(path as unknown[], true);
    if (key !== undefined && isMap(node)) {
      node = node.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === key)?.key;
    } else if (path.length > 0 && node === undefined) {
      node = document.getIn(path.slice(0, -1) as unknown[], true);
    }
    const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
    if (offset === undefined) return {};
    const position = lineCounter.linePos(offset);
    return { line: position.line, column: position.col };
  };
}

function* overridesOf(file: SettingsFile): Generator<{ path: string[]; override: SettingsOverride }> {
  if (file.defaults) yield { path: ['defaults'], override: file.defaults };
  for (const [workspaceId, workspace] of Object.entries(file.workspaces ?? {})) {
    yield { path: ['workspaces', workspaceId], override: workspace };
    for (const [channelId, channel] of Object.entries(workspace.channels ?? {})) {
      yield { path: ['workspaces', workspaceId, 'channels', channelId], override: channel };
    }
  }
}

function undefinedReferences(file: SettingsFile): { path: string[]; name: string }[] {
  const defined = new Set(Object.keys(file.knowledgeSources ?? {}));
  const missing: { path: string[]; name: string }[] = [];
  for (const { path, override } of overridesOf(file)) {
    const name = override.knowledgeSource;
    if (name !== undefined && name !== DEFAULT_KNOWLEDGE_SOURCE && !defined.has(name)) {
      missing.push({ path: [...path, 'knowledgeSource'], name });
    }
  }
  return missing;
}

function definedNames(file: SettingsFile): string {
  const names = Object.keys(file.knowledgeSources ?? {});
  return names.length > 0 ? names.join(', ') : 'none';
}

function indexSettings(file: SettingsFile, baseDirectory: string): ParsedSettings {
  const workspaces = new Map<string, ParsedWorkspace>();
  for (const [workspaceId, { channels, ...override }] of Object.entries(file.workspaces ?? {})) {
    workspaces.set(workspaceId, { override, channels: new Map(Object.entries(channels ?? {})) });
  }
  return {
    ...(file.defaults ? { defaults: file.defaults } : {}),
    workspaces,
    knowledgeSources: resolveKnowledgeSources(file, baseDirectory),
  };
}

/** Listeners and callers share one parsed file; freezing it keeps one of them from changing it under the others. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function resolveKnowledgeSources(file: SettingsFile, baseDirectory: string): Map<string, KnowledgeSource> {
  const sources = new Map<string, KnowledgeSource>();
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDirectory, path));
  for (const [name, definition] of Object.entries(file.knowledgeSources ?? {})) {
    if (definition.indexFile) sources.set(name, { name, kind: 'index-file', path: absolute(definition.indexFile) });
    else if (definition.directory) sources.set(name, { name, kind: 'directory', path: absolute(definition.directory) });
    else if (definition.searchApiUrl) sources.set(name, { name, kind: 'search-api', url: definition.searchApiUrl });
  }
  return sources;
}

/** The parser's own sentence, without the "at line …" tail and source excerpt it appends (we report the position apart). */
function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}
