import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeClova, FAKE_CLOVA_API_KEY, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { startFakeOpenAi, type FakeOpenAi } from '../../fakes/openai/fake-openai-server.js';
import { freePort } from '../../support/redis-server.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm start`'s entry point the way a script would: questions on stdin, no terminal. */
function runBot(input: string, env: Record<string, string>): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', 'src/main.ts'], input, env);
}

function run(command: string, args: string[], input: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('the bot from the command line (no terminal)', () => {
  let clova: FakeClova;
  let openai: FakeOpenAi;
  beforeAll(async () => {
    [clova, openai] = await Promise.all([startFakeClova(), startFakeOpenAi()]);
  });
  afterAll(async () => {
    await Promise.all([clova.close(), openai.close()]);
  });

  it('answers from the bundled guide with numbered citations and sources, with no key and no Redis', async () => {
    const run = await runBot('How do I switch to sliding window compaction?\n', {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\[1\]/);
    expect(run.stdout).toMatch(/Sources:\n {2}\[1\] /);
    expect(run.stdout).toMatch(/extractive/);
  });

  it('runs the README\'s scripted example exactly as written: an answer per line read, and nothing but answers on stdout', async () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const documented = /`(printf '[^`']*' \| npm start[^`]*)`/.exec(readme)?.[1];
    expect(documented, 'the README shows `printf … | npm start …`').toBeDefined();
    const questions = (/printf '([^']*)'/.exec(documented!)?.[1] ?? '').split('\\n').filter((line) => line !== '');
    const result = await run('sh', ['-c', documented!], '', {});
    expect(result.code).toBe(0);
    // npm prints its "> threadline@… start" banner on stdout unless told to be silent.
    expect(result.stdout).not.toMatch(/^> /m);
    expect(result.stdout.split('Sources:')).toHaveLength(questions.length + 1);
  });

  it('answers each line as one turn of the same thread, then exits', async () => {
    const run = await runBot('How do I configure Redis?\nand how do I undo that?\n', {});
    expect(run.code).toBe(0);
    expect(run.stdout.split('Sources:')).toHaveLength(3);
  });

  it('answers through CLOVA Studio (the fake) end to end: RAG Reasoning, search, reranker, cited answer', async () => {
    const run = await runBot('Redis를 어떻게 설정하나요?\n', { CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: clova.url });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\[1\]/);
    expect(clova.requestsFor('rag-reasoning').length).toBeGreaterThanOrEqual(2);
    expect(clova.requestsFor('reranker').length).toBeGreaterThanOrEqual(1);
  });

  it('answers through an OpenAI-compatible server (the fake)', async () => {
    openai.scriptChat([{ text: 'Set REDIS_URL and restart.' }]);
    const run = await runBot('How do I configure Redis?\n', { LLM_PROVIDER: 'openai', OPENAI_BASE_URL: openai.url, OPENAI_MODEL: 'local-model' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Set REDIS_URL and restart.');
    expect(openai.requests.some((request) => request.path.endsWith('/chat/completions'))).toBe(true);
  });

  it('keeps running and says plainly that it cannot take messages while Redis is unreachable', async () => {
    const closedPort = await freePort();
    const run = await runBot('hello?\n', { REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/cannot reach my conversation memory/);
    expect(run.stderr).toMatch(/Redis is unreachable/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
