import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readIndexFile } from '../../../src/knowledge/index-file.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../../src/knowledge/ingest-cli.ts');
const TSX = resolve(import.meta.dirname, '../../../node_modules/.bin/tsx');

let workspace: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'threadline-cli-'));
  await mkdir(join(workspace, 'kb'));
  await writeFile(join(workspace, 'kb', 'guide.md'), '# Guide\n\nSet REDIS_URL for Redis.\n');
  await writeFile(join(workspace, 'kb', 'faq.csv'), 'ID,title,body\n1,Reset,Press reset.\n');
  await writeFile(join(workspace, 'kb', 'broken.jsonl'), 'nope\n');
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

async function ingest(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], { cwd: workspace, env: { ...process.env, KNOWLEDGE_INDEX_FILE: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run ingest', () => {
  it('prints one plain line per file when not on a terminal, names bad files with their reason, and exits 1', async () => {
    const result = await ingest('--text-column', 'body', '--index', 'out/index.json', 'kb');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('found 3 file(s)');
    expect(result.stderr).toMatch(/added\s+kb\/guide\.md \(1 chunks\)/);
    expect(result.stdout).toContain('2 added, 0 updated, 0 unchanged, 0 removed, 1 failed');
    expect(result.stdout).toMatch(/kb\/broken\.jsonl: .*JSON/);
    const index = await readIndexFile(join(workspace, 'out', 'index.json'));
    expect(index!.chunks.map((chunk) => chunk.id)).toEqual(['kb/faq.csv#1#0', 'kb/guide.md#0']);
  }, 30_000);

  it('explains bad options instead of running', async () => {
    const result = await ingest('--chunk-tokens', 'ten', 'kb');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--chunk-tokens must be a whole number');
  }, 30_000);
});
