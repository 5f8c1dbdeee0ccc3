import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPOSITORY = resolve(import.meta.dirname, '../../..');
const SLACK_TOKEN = 'xoxb-hostile-config-token-5f1e9a';
const REDIS_PASSWORD = 'hostile-config-redis-pw-7c2d';

/** Starts `src/main.ts` as an operator would, with only `env`, and collects how it ends. */
function startBot(env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // Run from an empty folder, so no `.env` of a developer's checkout changes what the bot sees.
    const tsx = pathToFileURL(join(REPOSITORY, 'node_modules/tsx/dist/loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', tsx, join(REPOSITORY, 'src/main.ts')], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.end();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the bot did not exit on its own; stderr so far:\n${stderr}`));
    }, 30_000);
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('settings and environment of the wrong type', () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'threadline-hostile-config-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('refuses to start on numbers, booleans and ratios that are not, listing each variable readably, never echoing a secret', async () => {
    const result = await startBot(
      {
        PORT: 'eighty',
        MAX_MESSAGE_CHARS: '-5',
        RAG_TOP_K: '2.5',
        REQUIRE_MENTION: 'maybe',
        COMPACTION_TRIGGER_RATIO: 'most',
        TURN_TIMEOUT_MS: '1e400',
        SLACK_BOT_TOKEN: SLACK_TOKEN,
        SLACK_SIGNING_SECRET: 'hostile-config-signing-secret',
        REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:1/0`,
      },
      folder,
    );

    expect(result.code).toBe(2);
    const listed = result.stderr.split('\n').filter((line) => line.startsWith('  - ')).map((line) => line.slice(4).split(':')[0]);
    expect(listed.sort()).toEqual(['COMPACTION_TRIGGER_RATIO', 'MAX_MESSAGE_CHARS', 'PORT', 'RAG_TOP_K', 'REQUIRE_MENTION', 'TURN_TIMEOUT_MS']);
    expect(result.stderr).toMatch(/The configuration has 6 problems:/);
    for (const line of result.stderr.split('\n').filter((entry) => entry.startsWith('  - '))) expect(line).toMatch(/\(for example: .+\)$/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const everything = result.stdout + result.stderr;
    for (const secret of [SLACK_TOKEN, REDIS_PASSWORD, 'hostile-config-signing-secret']) expect(everything).not.toContain(secret);
  });

  it('refuses to start on a settings file with values of the wrong type, listing each with its line, and answers nothing', async () => {
    const file = join(folder, 'settings.yaml');
    await writeFile(
      file,
      [
        'defaults:',
        '  enabled: "yes"',
        '  mentionOnly: 1',
        'workspaces:',
        '  T0123ABCD:',
        '    compaction:',
        '      historyTokenBudget: "lots"',
        '    channels:',
        '      C042:',
        '        systemPrompt: 42',
        '        escalationContacts: "@oncall"',
      ].join('\n'),
    );
    const result = await startBot({ SETTINGS_FILE: file }, folder);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const problems = result.stderr.split('\n').filter((line) => line.includes(`${file}:`));
    expect(problems.map((line) => /settings\.yaml:(\d+):\d+ ([\w.]+):/.exec(line)?.slice(1, 3).join(' '))).toEqual([
      '2 defaults.enabled',
      '3 defaults.mentionOnly',
      '7 workspaces.T0123ABCD.compaction.historyTokenBudget',
      '10 workspaces.T0123ABCD.channels.C042.systemPrompt',
      '11 workspaces.T0123ABCD.channels.C042.escalationContacts',
    ]);
    expect(result.stderr).toContain('Fix the settings file and start again.');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
