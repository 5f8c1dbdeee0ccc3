import { describe, expect, it } from 'vitest';
import { parseSettingsText, resolveChannelSettings, type ChannelSettings } from '../../../src/settings/index.js';

const base: ChannelSettings = {
  enabled: true,
  mentionOnly: false,
  answerBots: false,
  systemPrompt: 'from the environment',
  compaction: { strategy: 'summary', historyTokenBudget: 16_000 },
  escalationContacts: {},
};

const parsed = parseSettingsText(
  [
    'defaults:',
    '  answerBots: true',
    '  escalationContacts: { slack: [S0DEFAULT] }',
    'knowledgeSources:',
    '  billing: { searchApiUrl: "https://search.example/billing" }',
    '  handbook: { directory: ./handbook }',
    'workspaces:',
    '  T1:',
    '    mentionOnly: true',
    '    knowledgeSource: handbook',
    '    compaction: { strategy: sliding }',
    '    escalationContacts: { discord: ["&234567890123456789"] }',
    '    channels:',
    '      C-billing:',
    '        mentionOnly: false',
    '        systemPrompt: billing desk',
    '        knowledgeSource: billing',
    '        escalationContacts: { slack: [U0BILLING] }',
    '      C-quiet: { enabled: false }',
    '      C-plain: { knowledgeSource: default }',
  ].join('\n'),
  { sourceName: 'settings.yaml', baseDirectory: '/srv/bot' },
);

describe('resolveChannelSettings', () => {
  it('gives a channel nobody mentions the file defaults over the environment', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T-other', channelId: 'C1' })).toEqual({
      ...base,
      answerBots: true,
      escalationContacts: { slack: ['S0DEFAULT'] },
    });
  });

  it('lets the workspace override the defaults and merges compaction key by key', () => {
    const settings = resolveChannelSettings(base, parsed, { workspaceId: 'T1', channelId: 'C-unlisted' });
    expect(settings.mentionOnly).toBe(true);
    expect(settings.compaction).toEqual({ strategy: 'sliding', historyTokenBudget: 16_000 });
    expect(settings.knowledgeSource).toEqual({ name: 'handbook', kind: 'directory', path: '/srv/bot/handbook' });
    expect(settings.escalationContacts).toEqual({ slack: ['S0DEFAULT'], discord: ['&234567890123456789'] });
  });

  it('lets the channel win over its workspace, replacing contact lists per platform', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T1', channelId: 'C-billing' })).toEqual({
      enabled: true,
      mentionOnly: false,
      answerBots: true,
      systemPrompt: 'billing desk',
      compaction: { strategy: 'sliding', historyTokenBudget: 16_000 },
      knowledgeSource: { name: 'billing', kind: 'search-api', url: 'https://search.example/billing' },
      escalationContacts: { slack: ['U0BILLING'], discord: ['&234567890123456789'] },
    });
  });

  it('switches a channel off while its workspace stays on', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T1', channelId: 'C-quiet' }).enabled).toBe(false);
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T1', channelId: 'C-billing' }).enabled).toBe(true);
  });

  it('returns to the environment knowledge source when a channel says default', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T1', channelId: 'C-plain' }).knowledgeSource).toBeUndefined();
  });

  it('does not apply a channel entry to the same channel id in another workspace', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'T2', channelId: 'C-quiet' }).enabled).toBe(true);
  });

  it('ignores ids that only exist on Object.prototype', () => {
    expect(resolveChannelSettings(base, parsed, { workspaceId: 'constructor', channelId: 'toString' })).toEqual(
      resolveChannelSettings(base, parsed, { workspaceId: 'T-other', channelId: 'C1' }),
    );
  });
});
