import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { clovaModelOverrides } from '../../../src/config/clova-model.js';
import { clovaRateOptions } from '../../../src/composition/rate-budgets.js';
import { modelInfo } from '../../../src/providers/model-catalogue.js';

function problemsFor(env: Record<string, string>) {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment: offline, in memory, summary compaction', () => {
    const config = loadConfig({});
    expect(config.provider).toBe('offline');
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.compaction).toBe('summary');
    expect(config.PORT).toBe(3000);
  });

  it('picks the provider from the keys that are set', () => {
    expect(loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh' }).provider).toBe('clova');
    expect(loadConfig({ OPENAI_API_KEY: 'sk-abcdefgh' }).provider).toBe('openai');
    expect(loadConfig({ OPENAI_API_KEY: 'sk-abcdefgh', LLM_PROVIDER: 'offline' }).provider).toBe('offline');
  });

  it('reports every bad value at once, each with the variable, the problem and an example', () => {
    const problems = problemsFor({ REDIS_URL: 'nonsense', LLM_PROVIDER: 'gpt', PORT: 'eighty', COMPACTION_TRIGGER_RATIO: '3' });
    expect(problems.map((problem) => problem.variable).sort()).toEqual(['COMPACTION_TRIGGER_RATIO', 'LLM_PROVIDER', 'PORT', 'REDIS_URL']);
    expect(problems.find((problem) => problem.variable === 'LLM_PROVIDER')).toMatchObject({ problem: 'must be one of: clova, openai, offline', example: 'clova' });
    expect(problems.find((problem) => problem.variable === 'REDIS_URL')?.problem).toMatch(/redis:\/\//);
  });

  it('checks combinations: a provider without its key, Slack without a transport secret', () => {
    const problems = problemsFor({ LLM_PROVIDER: 'clova', SLACK_BOT_TOKEN: 'xoxb-123456' });
    expect(problems.map((problem) => problem.variable).sort()).toEqual(['CLOVA_STUDIO_API_KEY', 'SLACK_SIGNING_SECRET']);
  });

  it('checks combinations in the same start as bad values, so one start lists every problem', () => {
    const problems = problemsFor({ REDIS_URL: 'nonsense', LLM_PROVIDER: 'gpt', SLACK_BOT_TOKEN: 'xoxb-123456' });
    expect(problems.map((problem) => problem.variable).sort()).toEqual(['LLM_PROVIDER', 'REDIS_URL', 'SLACK_SIGNING_SECRET']);
  });

  it('skips a combination that reads a value which failed, instead of judging it as unset', () => {
    // A mistyped DISCORD_GATEWAY must not read as `false` and demand the HTTP-interactions key.
    const problems = problemsFor({ DISCORD_TOKEN: 'MTE-token', DISCORD_APPLICATION_ID: '1234567890', DISCORD_GATEWAY: 'nope' });
    expect(problems.map((problem) => problem.variable)).toEqual(['DISCORD_GATEWAY']);
    // A set but malformed public key is reported as malformed, not as missing.
    const malformedKey = problemsFor({ DISCORD_TOKEN: 'MTE-token', DISCORD_APPLICATION_ID: '1234567890', DISCORD_GATEWAY: 'false', DISCORD_PUBLIC_KEY: 'not-hex' });
    expect(malformedKey.map((problem) => problem.variable)).toEqual(['DISCORD_PUBLIC_KEY']);
    expect(malformedKey[0]?.problem).toMatch(/64-hex-digit/);
  });

  it('reads the chat model\'s API version and local rate limits, and rejects values that cannot be right', () => {
    const config = loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL_REQUESTS_PER_MINUTE: '300', CLOVA_MODEL_TOKENS_PER_MINUTE: '180000' });
    expect(clovaModelOverrides(config)).toEqual({ requestsPerMinute: 300, tokensPerMinute: 180_000 });
    const problems = problemsFor({ CLOVA_MODEL_API_VERSION: 'v2', CLOVA_MODEL_REQUESTS_PER_MINUTE: '0', CLOVA_MODEL_TOKENS_PER_MINUTE: 'lots' });
    expect(problems.map((problem) => [problem.variable, problem.problem])).toEqual([
      ['CLOVA_MODEL_API_VERSION', 'must be one of: v1, v3'],
      ['CLOVA_MODEL_REQUESTS_PER_MINUTE', 'must be at least 1'],
      ['CLOVA_MODEL_TOKENS_PER_MINUTE', 'must be a whole number'],
    ]);
  });

  it('reads the embedding requests per minute into the embedding bucket, keeping its documented token limit', () => {
    const config = loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_USE_EMBEDDINGS: 'true', CLOVA_EMBEDDING_REQUESTS_PER_MINUTE: '540' });
    expect(clovaRateOptions(config, undefined)).toEqual({ rateLimits: { embedding: { requestsPerMinute: 540, tokensPerMinute: 40_000 } } });
    expect(clovaRateOptions(loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh' }), undefined)).toEqual({});
    expect(problemsFor({ CLOVA_EMBEDDING_REQUESTS_PER_MINUTE: '0' }).map((problem) => [problem.variable, problem.problem])).toEqual([
      ['CLOVA_EMBEDDING_REQUESTS_PER_MINUTE', 'must be at least 1'],
    ]);
  });

  it('reports a chat model the catalogue does not know as a configuration problem that names what to add', () => {
    const problems = problemsFor({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-NEW', MODEL_CONTEXT_WINDOW: '32000' });
    expect(problems).toEqual([
      {
        variable: 'CLOVA_MODEL_API_VERSION',
        problem: 'is required for CLOVA_MODEL=HCX-NEW: the model catalogue does not know it (it knows HCX-003, HCX-DASH-001, HCX-005, HCX-DASH-002, HCX-007), so its chat API version must be given',
        example: 'v3',
      },
    ]);
    expect(problemsFor({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-NEW' }).map((problem) => problem.variable)).toEqual(['CLOVA_MODEL_API_VERSION', 'MODEL_CONTEXT_WINDOW']);
    // Only the CLOVA provider uses CLOVA_MODEL.
    expect(problemsFor({ CLOVA_MODEL: 'HCX-NEW' })).toEqual([]);
  });

  it('runs an unknown chat model once the environment describes it, trusting MAX_OUTPUT_TOKENS as its output limit', () => {
    const config = loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-NEW', CLOVA_MODEL_API_VERSION: 'v3', MODEL_CONTEXT_WINDOW: '32000', MAX_OUTPUT_TOKENS: '6000' });
    expect(modelInfo(config.CLOVA_MODEL, clovaModelOverrides(config))).toMatchObject({ apiVersion: 'v3', contextWindow: 32_000, maxOutputTokens: 6_000 });
    // A catalogue model keeps its documented output limit.
    const known = loadConfig({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-005', MAX_OUTPUT_TOKENS: '6000' });
    expect(modelInfo(known.CLOVA_MODEL, clovaModelOverrides(known)).maxOutputTokens).toBe(4_096);
  });

  it('rejects an API version that contradicts the catalogue, and an output reserve that leaves no room for the prompt', () => {
    expect(problemsFor({ CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-005', CLOVA_MODEL_API_VERSION: 'v1' })).toEqual([
      { variable: 'CLOVA_MODEL_API_VERSION', problem: 'contradicts the model catalogue: HCX-005 speaks v3 (unset it for a catalogue model)', example: 'v3' },
    ]);
    expect(problemsFor({ MODEL_CONTEXT_WINDOW: '4096', MAX_OUTPUT_TOKENS: '4096' }).map((problem) => problem.variable)).toEqual(['MAX_OUTPUT_TOKENS']);
  });

  it('never puts a secret value into a problem description', () => {
    const error = (() => {
      try {
        loadConfig({ REDIS_URL: 'redis://:hunter2-secret@', SLACK_BOT_TOKEN: 'xoxb-very-secret-token', LLM_PROVIDER: 'nope' });
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error.message).not.toContain('xoxb-very-secret-token');
    expect(error.message).not.toContain('hunter2');
  });

  it('collects every set secret, including a Redis password, for log scrubbing', () => {
    const config = loadConfig({ REDIS_URL: 'redis://:p%40ssword-123@127.0.0.1:6379', CLOVA_STUDIO_API_KEY: 'nv-key-1234567' });
    expect(config.secrets).toEqual(expect.arrayContaining(['nv-key-1234567', 'p@ssword-123']));
  });
});

describe('starting with a bad configuration', () => {
  it('exits non-zero with a readable list of every problem, combinations included, and no stack trace', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, REDIS_URL: 'nonsense', LLM_PROVIDER: 'gpt', SLACK_BOT_TOKEN: 'xoxb-123456' },
      encoding: 'utf8',
      input: '',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('The configuration has 3 problems:');
    expect(run.stderr).toContain('  - LLM_PROVIDER: must be one of: clova, openai, offline (for example: clova)');
    expect(run.stderr).toContain('  - REDIS_URL: must be a URL starting with redis:// or rediss://');
    expect(run.stderr).toContain('  - SLACK_SIGNING_SECRET: is required with SLACK_BOT_TOKEN unless SLACK_APP_TOKEN selects Socket Mode');
    expect(run.stderr).not.toContain('xoxb-123456');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with the problem list, not as a failed start, for a chat model the catalogue does not know', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, CLOVA_STUDIO_API_KEY: 'nv-abcdefgh', CLOVA_MODEL: 'HCX-NEW', MODEL_CONTEXT_WINDOW: '32000' },
      encoding: 'utf8',
      input: '',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('The configuration has 1 problem:');
    expect(run.stderr).toContain('  - CLOVA_MODEL_API_VERSION: is required for CLOVA_MODEL=HCX-NEW');
    expect(run.stderr).not.toContain('could not start');
  });
});
