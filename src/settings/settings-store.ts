import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { MessageScope } from '../engine/types.js';
import type { Logger } from '../observability/logger.js';
import type { ChannelSettings } from './channel-settings.js';
import { EMPTY_SETTINGS, parseSettingsText, type ParsedSettings } from './parse-settings.js';
import { resolveChannelSettings } from './resolve-settings.js';
import { SettingsFileError } from './settings-file-error.js';

/** Settings files are hand-written; anything this large is a mistake (or an attack on the parser). */
export const MAX_SETTINGS_FILE_BYTES = 1024 * 1024;

export interface SettingsStoreOptions {
  /** YAML or JSON settings file; without one the `defaults` apply everywhere. */
  file?: string;
  /** The process-wide settings (from the environment) that the file refines. */
  defaults: ChannelSettings;
  logger: Logger;
  /** Quiet time after the last change event before reloading: editors save in several steps. Default 200 ms. */
  debounceMs?: number;
  /**
   * Also re-read the file this often, for mounts whose change events never arrive (Docker Desktop bind
   * mounts, network shares, a symlink swapped in another folder). 0 turns it off. Default 10 s.
   */
  pollIntervalMs?: number;
}

/** The settings in force. */
export interface SettingsSnapshot {
  /** Absolute path of the file, or undefined when running on defaults alone. */
  file?: string;
  /** First 12 hex digits of the file's SHA-256 (`defaults` without a file): tells versions apart in logs. */
  version: string;
  loadedAt: Date;
  settings: ParsedSettings;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'rejected';

/** Per-channel settings that follow the file without a restart. */
export interface SettingsStore {
  current(): SettingsSnapshot;
  /** Settings for one channel: channel entry > workspace entry > file defaults > process defaults. */
  settingsFor(scope: MessageScope): ChannelSettings;
  /** Called after a changed file was applied; returns a function that unsubscribes. */
  onChange(listener: (snapshot: SettingsSnapshot, previous: SettingsSnapshot) => void): () => void;
  /** Called when a changed file was rejected (the previous settings stay in force). */
  onRejected(listener: (error: SettingsFileError) => void): () => void;
  /** Why the file on disk is not in force, while it is not; cleared by the next good version. */
  rejection(): SettingsFileError | undefined;
  /** Reads the file now (also what the watcher and the poll call); a read already running is joined and read once more. Without a file: `unchanged`. */
  reload(): Promise<ReloadOutcome>;
  /** Stops watching; the settings in force stay readable. */
  close(): void;
}

/**
 * Loads the settings file (synchronously: a bad file must stop startup with every problem listed), then
 * watches it. A changed file is applied only when it is valid; otherwise the problems are logged and the
 * last good settings stay.
 *
 * @example
 * const settings = createSettingsStore({ file: config.SETTINGS_FILE, defaults, logger });
 * if (!settings.settingsFor(message.scope).enabled) return;
 */
export function createSettingsStore(options: SettingsStoreOptions): SettingsStore {
  const logger = options.logger.child({ component: 'settings' });
  const path = options.file === undefined ? undefined : resolve(options.file);
  let snapshot: SettingsSnapshot = path
    ? snapshotOf(path, readInitial(path))
    : { version: 'defaults', loadedAt: new Date(), settings: EMPTY_SETTINGS };
  let lastSeenVersion = snapshot.version;
  let rejected: SettingsFileError | undefined;
  const changeListeners = new Set<(snapshot: SettingsSnapshot, previous: SettingsSnapshot) => void>();
  const rejectionListeners = new Set<(error: SettingsFileError) => void>();

  // One read at a time; a change that arrives during a read triggers exactly one more.
  let running: Promise<ReloadOutcome> | undefined;
  let again = false;

  async function readAndApply(filePath: string): Promise<ReloadOutcome> {
    let text: string;
    try {
      text = await readBounded(filePath);
    } catch (error) {
      return reject(error instanceof SettingsFileError ? error : unreadable(filePath, error), `unreadable:${String(error)}`);
    }
    const version = versionOf(text);
    if (version === lastSeenVersion) return 'unchanged';
    if (version === snapshot.version) {
      // Back to the version in force after a rejected edit: nothing to apply, the problem is gone.
      lastSeenVersion = version;
      rejected = undefined;
      logger.info({ settingsFile: filePath, version }, 'settings file is back to the version in force');
      return 'unchanged';
    }
    let next: SettingsSnapshot;
    try {
      next = snapshotOf(filePath, text, version);
    } catch (error) {
      if (!(error instanceof SettingsFileError)) throw error;
      return reject(error, version);
    }
    const previous = snapshot;
    snapshot = next;
    lastSeenVersion = version;
    rejected = undefined;
    logger.info({ settingsFile: filePath, version, previousVersion: previous.version, ...sizeOf(next.settings) }, 'settings file applied');
    for (const listener of changeListeners) notify(() => listener(next, previous));
    return 'applied';
  }

  function reject(error: SettingsFileError, version: string): ReloadOutcome {
    // The same broken version is reported once, not on every poll.
    if (version === lastSeenVersion) return 'unchanged';
    lastSeenVersion = version;
    rejected = error;
    logger.warn(
      { settingsFile: error.file, problems: error.problems, keptVersion: snapshot.version },
      `${error.message}\nThe previous settings (version ${snapshot.version}) stay in force until the file is fixed.`,
    );
    for (const listener of rejectionListeners) notify(() => listener(error));
    return 'rejected';
  }

  function notify(call: () => void): void {
    try {
      call();
    } catch (error) {
      logger.error({ err: error }, 'a settings listener threw');
    }
  }

  async function reload(): Promise<ReloadOutcome> {
    if (!path) return 'unchanged';
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      // A caller may join a run mid-way (a watcher event during an explicit reload): it gets the last
      // read that changed something, not an `unchanged` from the extra read its own trigger caused.
      let outcome: ReloadOutcome = 'unchanged';
      do {
        again = false;
        const read = await readAndApply(path);
        if (read !== 'unchanged') outcome = read;
      } while (again);
      return outcome;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  let debounceTimer: NodeJS.Timeout | undefined;
  const scheduleReload = () => {
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(() => void reload(), options.debounceMs ?? 200);
    debounceTimer.unref();
  };

  let watcher: FSWatcher | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  if (path) {
    watcher = watchFolderOf(path, scheduleReload, logger);
    const pollIntervalMs = options.pollIntervalMs ?? 10_000;
    if (pollIntervalMs > 0) {
      pollTimer = setInterval(() => void reload(), pollIntervalMs);
      pollTimer.unref();
    }
    logger.info({ settingsFile: path, version: snapshot.version, ...sizeOf(snapshot.settings) }, 'settings file loaded');
  }

  return {
    current: () => snapshot,
    settingsFor: (scope) => resolveChannelSettings(options.defaults, snapshot.settings, scope),
    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    onRejected(listener) {
      rejectionListeners.add(listener);
      return () => rejectionListeners.delete(listener);
    },
    rejection: () => rejected,
    reload,
    close() {
      clearTimeout(debounceTimer);
      clearInterval(pollTimer);
      watcher?.close();
      watcher = undefined;
    },
  };
}

function snapshotOf(path: string, text: string, version = versionOf(text)): SettingsSnapshot {
  const settings = parseSettingsText(text, { sourceName: path, baseDirectory: dirname(path) });
  return { file: path, version, loadedAt: new Date(), settings };
}

function readInitial(path: string): string {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    throw unreadable(path, error);
  }
  return checkedText(path, buffer);
}

async function readBounded(path: string): Promise<string> {
  return checkedText(path, await readFile(path));
}

function checkedText(path: string, buffer: Buffer): string {
  if (buffer.length > MAX_SETTINGS_FILE_BYTES) {
    throw new SettingsFileError(path, [
      { path: '(file)', problem: `is ${buffer.length} bytes; at most ${MAX_SETTINGS_FILE_BYTES} are accepted`, example: 'one entry per channel that differs from its workspace' },
    ]);
  }
  return buffer.toString('utf8');
}

function unreadable(path: string, error: unknown): SettingsFileError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const problem = code === 'ENOENT' ? 'does not exist (or was moved away)' : `cannot be read (${code ?? 'unknown error'})`;
  return new SettingsFileError(path, [{ path: '(file)', problem, example: 'SETTINGS_FILE=/app/config/settings.yaml, a file the bot user may read' }], error);
}

function versionOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function sizeOf(settings: ParsedSettings): { workspaces: number; channels: number } {
  let channels = 0;
  for (const workspace of settings.workspaces.values()) channels += workspace.channels.size;
  return { workspaces: settings.workspaces.size, channels };
}

/**
 * Watches the file's folder rather than the file: editors save by writing a new file and renaming it over
 * the old one, and Kubernetes swaps a `..data` symlink; a watch on the old inode would miss both.
 */
function watchFolderOf(path: string, onChange: () => void, logger: Logger): FSWatcher | undefined {
  const name = basename(path);
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name || changed.startsWith('..')) onChange();
    });
    watcher.on('error', (error) => logger.warn({ err: error, settingsFile: path }, 'settings watch failed; relying on the periodic re-read'));
    return watcher;
  } catch (error) {
    logger.warn({ err: error, settingsFile: path }, 'cannot watch the settings folder; relying on the periodic re-read');
    return undefined;
  }
}
