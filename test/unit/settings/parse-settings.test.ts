import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettingsText, SettingsFileError, type SettingsProblem } from '../../../src/settings/index.js';

const options = { sourceName: 'settings.yaml', baseDirectory: '/etc/threadline' };

function problemsOf(text: string): readonly SettingsProblem[] {
  try {
    parseSettingsText(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsFileError);
    expect((error as SettingsFileError).code).toBe('settings_invalid');
    return (error as SettingsFileError).problems;
  }
  throw new Error('expected the settings to be rejected');
}

describe('parseSettingsText', () => {
  it('accepts the documented example file', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../../settings.example.yaml'), 'utf8');
    const parsed = parseSettingsText(text, { sourceName: 'settings.example.yaml', baseDirectory: '/srv/bot' });
    expect(parsed.workspaces.get('T0123ABCD')?.channels.get('C0789IJKL')).toEqual({ enabled: false });
    expect(parsed.knowledgeSources.get('handbook')).toEqual({ name: 'handbook', kind: 'index-file', path: '/srv/bot/knowledge-handbook.json' });
    expect(parsed.workspaces.get('987654321098765432')?.channels.has('123456789012345678')).toBe(true);
  });

  it('takes a file that only names its version as no overrides at all', () => {
    const parsed = parseSettingsText('version: 1\n', options);
    expect(parsed.defaults).toBeUndefined();
    expect(parsed.workspaces.size).toBe(0);
  });

  it('rejects an empty file, which is more often half-written than meant', () => {
    expect(problemsOf('# nothing yet\n')).toEqual([
      { path: '(file)', problem: 'is empty (or only comments); write `version: 1` for a file that sets nothing on purpose', example: 'version: 1' },
    ]);
    expect(problemsOf('')).toHaveLength(1);
  });

  it('reads JSON with the same keys', () => {
    const parsed = parseSettingsText('{"workspaces": {"T1": {"channels": {"C1": {"mentionOnly": true}}}}}', options);
    expect(parsed.workspaces.get('T1')?.channels.get('C1')).toEqual({ mentionOnly: true });
  });

  it('keeps unquoted Discord ids exact instead of rounding them to floating point', () => {
    const parsed = parseSettingsText(
      ['workspaces:', '  987654321098765432:', '    escalationContacts: { discord: [123456789012345678] }', '    channels:', '      223456789012345679: { enabled: false }'].join('\n'),
      options,
    );
    const guild = parsed.workspaces.get('987654321098765432');
    expect(guild?.override.escalationContacts?.discord).toEqual(['123456789012345678']);
    expect([...(guild?.channels.keys() ?? [])]).toEqual(['223456789012345679']);
  });

  it('names a misspelt key with its line and the key it probably meant', () => {
    const problems = problemsOf(['defaults:', '  enabled: true', '  mention_only: true'].join('\n'));
    expect(problems).toEqual([
      { path: 'defaults.mention_only', line: 3, column: 3, problem: 'is not a known setting (did you mean `mentionOnly`?)', example: 'mentionOnly: true' },
    ]);
  });

  it('reports every bad value at once, each with where it is and an example', () => {
    const problems = problemsOf(
      [
        'workspaces:',
        '  T0123ABCD:',
        '    compaction: { strategy: rolling, historyTokenBudget: 100 }',
        '    channels:',
        '      C042:',
        '        enabled: "no"',
        '        escalationContacts: { slack: [alice] }',
      ].join('\n'),
    );
    expect(problems.map((problem) => [problem.path, problem.line, problem.problem])).toEqual([
      ['workspaces.T0123ABCD.compaction.strategy', 3, 'must be one of: sliding, summary'],
      ['workspaces.T0123ABCD.compaction.historyTokenBudget', 3, 'must be at least 256'],
      ['workspaces.T0123ABCD.channels.C042.enabled', 6, 'must be true or false'],
      ['workspaces.T0123ABCD.channels.C042.escalationContacts.slack.0', 7, 'must be a Slack user id (U…, W…) or user-group id (S…)'],
    ]);
    expect(problems.map((problem) => problem.example)).toEqual([
      'strategy: sliding',
      'historyTokenBudget: 16000',
      'enabled: false',
      'slack: [U0123ABCD, S0456EFGH]',
    ]);
  });

  it('rejects a YAML syntax error with its position', () => {
    const problems = problemsOf('defaults:\n  enabled: [true\nworkspaces: {}\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: '(file)', line: 3 });
    expect(problems[0]?.problem).toMatch(/^is not valid YAML or JSON: /);
  });

  it('rejects a key written twice instead of silently keeping one of them', () => {
    expect(problemsOf('defaults:\n  enabled: true\n  enabled: false\n')[0]).toMatchObject({ line: 3, problem: expect.stringContaining('unique') });
  });

  it('rejects a file that is not a mapping', () => {
    expect(problemsOf('- T0123ABCD\n')[0]?.problem).toBe('must be a mapping with any of: version, defaults, knowledgeSources, workspaces');
    expect(problemsOf('null\n')[0]?.problem).toBe('must be a mapping with any of: version, defaults, knowledgeSources, workspaces');
  });

  it('rejects a channel that names a knowledge source nobody defined', () => {
    const problems = problemsOf(
      ['knowledgeSources:', '  billing: { searchApiUrl: "https://search.example/api" }', 'workspaces:', '  T1:', '    channels:', '      C1: { knowledgeSource: biling }'].join('\n'),
    );
    expect(problems).toEqual([
      {
        path: 'workspaces.T1.channels.C1.knowledgeSource',
        line: 6,
        column: 30,
        problem: 'names the knowledge source `biling`, which is not defined under knowledgeSources (defined: billing)',
        example: 'knowledgeSource: handbook   # a name under knowledgeSources, or `default`',
      },
    ]);
  });

  it('requires exactly one kind per knowledge source and reserves the name default', () => {
    const problems = problemsOf(['knowledgeSources:', '  both: { directory: ./a, indexFile: ./b.json }', '  default: { directory: ./c }'].join('\n'));
    expect(problems.map((problem) => [problem.path, problem.problem])).toEqual([
      ['knowledgeSources.both', 'must set exactly one of indexFile, directory or searchApiUrl'],
      ['knowledgeSources', 'must not define `default` (it always means the process default)'],
    ]);
  });

  it('refuses ids that could reach Object.prototype', () => {
    const problems = problemsOf('workspaces:\n  __proto__: { enabled: false }\n');
    expect(problems[0]).toMatchObject({ path: '__proto__', line: 2, column: 3, problem: 'is not allowed as a key' });
  });

  it('bounds the persona length', () => {
    const problems = problemsOf(`defaults:\n  systemPrompt: "${'x'.repeat(8_001)}"\n`);
    expect(problems[0]).toMatchObject({ path: 'defaults.systemPrompt', problem: 'must be at most 8000 characters' });
  });

  it('freezes what it returns so no reader can change the settings of another', () => {
    const parsed = parseSettingsText('defaults:\n  escalationContacts: { slack: [U0123ABCD] }\n', options);
    expect(() => parsed.defaults?.escalationContacts?.slack?.push('U999')).toThrow(TypeError);
  });
});
