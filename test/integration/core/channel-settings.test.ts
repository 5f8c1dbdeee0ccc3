import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConversationEngine } from '../../../src/engine/engine.js';
import { createStateBackends } from '../../../src/engine/state-backends.js';
import { createSettingsStore, type SettingsStore } from '../../../src/settings/index.js';
import { createTurnPolicy, processDefaultSettings } from '../../../src/composition/turn-policy.js';
import { buildModelStack } from '../../../src/composition/model-stack.js';
import { loadConfig } from '../../../src/config/config.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { incomingMessage, recordingSink, scriptedAnswerer } from '../../support/engine-fixture.js';

const stores: SettingsStore[] = [];
afterEach(() => stores.splice(0).forEach((store) => store.close()));

async function engineWithSettings(initialYaml: string) {
  const folder = mkdtempSync(join(tmpdir(), 'threadline-settings-'));
  const file = join(folder, 'settings.yaml');
  writeFileSync(file, initialYaml);
  const config = loadConfig({ SETTINGS_FILE: file });
  const logger = silentLogger();
  const settings = createSettingsStore({ file, defaults: processDefaultSettings(config), logger, pollIntervalMs: 0 });
  stores.push(settings);
  const models = await buildModelStack(config, { logger, metrics: new Metrics() });
  const answerer = scriptedAnswerer((request) => ({ text: `persona: ${request.persona ?? 'default'}` }));
  // The real policy, with the scripted answerer standing in for the channel's answerer so the test sees each request.
  const realPolicy = createTurnPolicy(config, settings, models, logger);
  const backends = await createStateBackends({ keyPrefix: 'settings-test', threadTtlMs: 60_000, logger });
  const engine = createConversationEngine({
    store: backends.store,
    coordinator: backends.coordinator,
    answerer,
    compactor: models.compactor,
    budget: models.budget,
    policyFor: async (message) => {
      const policy = await realPolicy(message);
      return policy === 'disabled' ? policy : { ...policy, answerer };
    },
    logger,
    turnTimeoutMs: 10_000,
    maxMessageChars: 8_000,
  });
  return { engine, settings, file, answerer };
}

const scope = (channelId: string) => ({ scope: { workspaceId: 'T1', channelId } });

describe('per-channel settings applied to turns', () => {
  it('keeps the bot silent in a disabled channel and answers elsewhere', async () => {
    const { engine, answerer } = await engineWithSettings('workspaces:\n  T1:\n    channels:\n      C-quiet:\n        enabled: false\n');
    const quiet = await engine.handle(incomingMessage('slack:T1:C-quiet:1.0', 'hello?', scope('C-quiet')), recordingSink());
    expect(quiet.kind).toBe('ignored');
    const loud = await engine.handle(incomingMessage('slack:T1:C-loud:1.0', 'hello?', scope('C-loud')), recordingSink());
    expect(loud.kind).toBe('answered');
    expect(answerer.requests).toHaveLength(1);
  });

  it('takes a changed file into account on the next turn without a restart, and keeps the last good settings when the file breaks', async () => {
    const { engine, settings, file, answerer } = await engineWithSettings('workspaces:\n  T1:\n    channels:\n      C1:\n        systemPrompt: "You are Ada."\n');
    await engine.handle(incomingMessage('slack:T1:C1:1.0', 'who are you?', scope('C1')), recordingSink());
    expect(answerer.requests.at(-1)?.persona).toBe('You are Ada.');

    writeFileSync(file, 'workspaces:\n  T1:\n    channels:\n      C1:\n        systemPrompt: "You are Grace."\n');
    expect(await settings.reload()).toBe('applied');
    await engine.handle(incomingMessage('slack:T1:C1:1.0', 'and now?', scope('C1')), recordingSink());
    expect(answerer.requests.at(-1)?.persona).toBe('You are Grace.');

    writeFileSync(file, 'workspaces:\n  T1:\n    channels:\n      C1:\n        systemPrompt: 42\n        mentionOnyl: true\n');
    expect(await settings.reload()).toBe('rejected');
    await engine.handle(incomingMessage('slack:T1:C1:1.0', 'still Grace?', scope('C1')), recordingSink());
    expect(answerer.requests.at(-1)?.persona).toBe('You are Grace.');
  });

  it('applies a channel history budget on top of the model budget', async () => {
    const { engine, answerer } = await engineWithSettings('workspaces:\n  T1:\n    channels:\n      C-tight:\n        compaction:\n          historyTokenBudget: 1500\n');
    await engine.handle(incomingMessage('slack:T1:C-tight:1.0', 'budget?', scope('C-tight')), recordingSink());
    await engine.handle(incomingMessage('slack:T1:C-wide:1.0', 'budget?', scope('C-wide')), recordingSink());
    expect(answerer.requests[0]!.budget.windowTokens).toBe(1500);
    expect(answerer.requests[1]!.budget.windowTokens).toBeGreaterThan(1500);
  });

  it('ignores a channel budget too small to hold a question next to the output reserve, instead of failing every turn there', async () => {
    const { engine, answerer } = await engineWithSettings('workspaces:\n  T1:\n    channels:\n      C-tiny:\n        compaction:\n          historyTokenBudget: 300\n');
    const outcome = await engine.handle(incomingMessage('slack:T1:C-tiny:1.0', 'budget?', scope('C-tiny')), recordingSink());
    expect(outcome.kind).toBe('answered');
    expect(answerer.requests[0]!.budget.windowTokens).toBeGreaterThan(1024);
  });
});
