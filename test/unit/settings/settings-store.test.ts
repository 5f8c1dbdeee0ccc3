import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSettingsStore,
  MAX_SETTINGS_FILE_BYTES,
  SettingsFileError,
  type ChannelSettings,
  type SettingsSnapshot,
  type SettingsStore,
} from '../../../src/settings/index.js';
import { recordingLogger } from '../../support/recording-logger.js';

const defaults: ChannelSettings = { enabled: true, mentionOnly: false, answerBots: false, escalationContacts: {} };
const scope = { workspaceId: 'T1', channelId: 'C1' };

function channelFile(mentionOnly: boolean): string {
  return `workspaces:\n  T1:\n    channels:\n      C1:\n        mentionOnly: ${mentionOnly}\n`;
}


function captureError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function nextChange(store: SettingsStore): Promise<SettingsSnapshot> {
  return new Promise((resolve) => {
    const unsubscribe = store.onChange((snapshot) => {
      unsubscribe();
      resolve(snapshot);
    });
  });
}

function nextRejection(store: SettingsStore): Promise<SettingsFileError> {
  return new Promise((resolve) => {
    const unsubscribe = store.onRejected((error) => {
      unsubscribe();
      resolve(error);
    });
  });
}

describe('createSettingsStore', () => {
  let folder: string;
  let file: string;
  const stores: SettingsStore[] = [];
  const open = (options: Partial<Parameters<typeof createSettingsStore>[0]> = {}) => {
    const store = createSettingsStore({ file, defaults, logger: recordingLogger({ level: 'info' }).logger, debounceMs: 20, pollIntervalMs: 0, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'threadline-settings-'));
    file = join(folder, 'settings.yaml');
    writeFileSync(file, channelFile(false));
  });

  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('applies an edited file without a restart', async () => {
    const store = open();
    expect(store.settingsFor(scope).mentionOnly).toBe(false);
    const changed = nextChange(store);
    writeFileSync(file, channelFile(true));
    const snapshot = await changed;
    expect(snapshot.file).toBe(file);
    expect(store.settingsFor(scope).mentionOnly).toBe(true);
    expect(store.current()).toBe(snapshot);
  });

  it('follows an editor that saves by renaming a new file over the old one', async () => {
    const store = open();
    const changed = nextChange(store);
    writeFileSync(join(folder, '.settings.yaml.swp'), channelFile(true));
    renameSync(join(folder, '.settings.yaml.swp'), file);
    await changed;
    expect(store.settingsFor(scope).mentionOnly).toBe(true);
  });

  it('keeps the last good settings when the file breaks, says why, and recovers when it is fixed', async () => {
    const { logger, entries } = recordingLogger({ level: 'info' });
    const store = open({ logger });
    const goodVersion = store.current().version;

    const rejected = nextRejection(store);
    writeFileSync(file, 'workspaces:\n  T1:\n    channels:\n      C1:\n        mentionOnyl: true\n');
    const error = await rejected;
    expect(error.problems).toEqual([
      { path: 'workspaces.T1.channels.C1.mentionOnyl', line: 5, column: 9, problem: 'is not a known setting (did you mean `mentionOnly`?)', example: 'mentionOnly: true' },
    ]);
    expect(store.current().version).toBe(goodVersion);
    expect(store.settingsFor(scope).mentionOnly).toBe(false);
    expect(store.rejection()).toBe(error);
    const warning = entries().find((line) => line.level === 40);
    expect(warning?.msg).toContain(`${file}:5:9 workspaces.T1.channels.C1.mentionOnyl: is not a known setting`);
    expect(warning?.msg).toContain(`The previous settings (version ${goodVersion}) stay in force`);

    const changed = nextChange(store);
    writeFileSync(file, channelFile(true));
    await changed;
    expect(store.settingsFor(scope).mentionOnly).toBe(true);
    expect(store.rejection()).toBeUndefined();
  });

  it('reports a broken version once however often it is read', async () => {
    const store = open();
    const rejections: SettingsFileError[] = [];
    store.onRejected((error) => rejections.push(error));
    writeFileSync(file, 'workspaces: [\n');
    const outcomes = [await store.reload(), await store.reload(), await store.reload()];
    expect(outcomes.filter((outcome) => outcome === 'rejected')).toHaveLength(1);
    expect(rejections).toHaveLength(1);
  });

  it('does not announce a change when only the modification time moved', async () => {
    const store = open();
    const changes: SettingsSnapshot[] = [];
    store.onChange((snapshot) => changes.push(snapshot));
    writeFileSync(file, channelFile(false));
    expect(await store.reload()).toBe('unchanged');
    expect(changes).toHaveLength(0);
  });

  it('clears the rejection when the file goes back to the version in force', async () => {
    const store = open();
    writeFileSync(file, 'defaults: { enabled: maybe }\n');
    expect(await store.reload()).toBe('rejected');
    writeFileSync(file, channelFile(false));
    expect(await store.reload()).toBe('unchanged');
    expect(store.rejection()).toBeUndefined();
  });

  it('keeps the settings while a writer has truncated the file but not yet written it', async () => {
    const store = open();
    writeFileSync(file, '');
    expect(await store.reload()).toBe('rejected');
    expect(store.settingsFor(scope).mentionOnly).toBe(false);
    expect(store.current().settings.workspaces.has('T1')).toBe(true);
  });

  it('keeps the settings when the file disappears, and says so', async () => {
    const store = open();
    rmSync(file);
    expect(await store.reload()).toBe('rejected');
    expect(store.rejection()?.problems[0]?.problem).toBe('does not exist (or was moved away)');
    expect(store.settingsFor(scope).mentionOnly).toBe(false);
  });

  it('finds a change by re-reading when no change event arrives', async () => {
    // The watcher's debounce outlasts the test, so only the periodic re-read can apply this write.
    const store = open({ pollIntervalMs: 30, debounceMs: 600_000 });
    const changed = nextChange(store);
    writeFileSync(file, channelFile(true));
    await changed;
    expect(store.settingsFor(scope).mentionOnly).toBe(true);
  });

  it('refuses to start on a broken file, listing every problem', () => {
    writeFileSync(file, 'defaults:\n  enabled: 1\n  answerBots: "yes"\n');
    const error = captureError(() => open());
    expect(error).toBeInstanceOf(SettingsFileError);
    expect((error as SettingsFileError).problems.map((problem) => problem.path)).toEqual(['defaults.enabled', 'defaults.answerBots']);
  });

  it('refuses a file larger than any hand-written settings', () => {
    writeFileSync(file, `# ${'x'.repeat(MAX_SETTINGS_FILE_BYTES)}\n`);
    expect(() => open()).toThrowError(/at most 1048576 are accepted/);
  });

  it('runs on the defaults alone without a file', async () => {
    const store = createSettingsStore({ defaults, logger: recordingLogger({ level: 'info' }).logger });
    stores.push(store);
    expect(store.settingsFor(scope)).toEqual(defaults);
    expect(store.current().version).toBe('defaults');
    expect(await store.reload()).toBe('unchanged');
  });

  it('keeps notifying the other listeners when one of them throws', async () => {
    const store = open();
    store.onChange(() => {
      throw new Error('listener bug');
    });
    const changed = nextChange(store);
    writeFileSync(file, channelFile(true));
    expect(await store.reload()).toBe('applied');
    await changed;
  });
});
