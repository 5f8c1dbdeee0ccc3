import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClovaProvider } from '../../../src/providers/clova/index.js';
import { createChatAnswerer } from '../../../src/answering/chat-answerer.js';
import { createTokenEstimator } from '../../../src/compaction/index.js';
import { startFakeClova, FAKE_CLOVA_API_KEY, type FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { createTestEngine, incomingMessage, recordingSink } from '../../support/engine-fixture.js';
import { recordingLogger } from '../../support/recording-logger.js';

describe('log correlation', () => {
  let clova: FakeClova;
  beforeAll(async () => {
    clova = await startFakeClova();
  });
  afterAll(() => clova.close());

  it('tags every line written during a turn — the provider request with its CLOVA request id too — with the event id, and never logs user text below debug', async () => {
    const recorded = recordingLogger({ level: 'debug', secrets: [FAKE_CLOVA_API_KEY] });
    const logger = recorded.logger;
    const provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: clova.url, model: 'HCX-005', logger });
    clova.scriptChat([{ text: '안녕하세요, 무엇을 도와드릴까요?' }]);
    const fixture = await createTestEngine({
      answerer: createChatAnswerer({ model: provider.chatModel, systemPrompt: 'Be brief.', tokenCounter: createTokenEstimator() }),
      logger,
    });
    try {
      const message = incomingMessage('console:correlation', 'my order 12345 is late, secret words here');
      await fixture.engine.handle(message, recordingSink());
      const lines = recorded.entries();
      const providerLines = lines.filter((line) => line.msg === 'provider request');
      expect(providerLines.length).toBeGreaterThan(0);
      expect(providerLines[0]).toMatchObject({ turn: message.eventId, threadKey: message.threadKey });
      expect(providerLines[0]?.requestId).toEqual(expect.any(String));
      expect(lines.find((line) => line.msg === 'turn answered')).toMatchObject({ turn: message.eventId });
      const infoAndAbove = lines.filter((line) => (line.level as number) >= 30).map((line) => JSON.stringify(line));
      expect(infoAndAbove.join('\n')).not.toContain('secret words here');
      expect(lines.map((line) => JSON.stringify(line)).join('\n')).not.toContain(FAKE_CLOVA_API_KEY);
    } finally {
      await fixture.close();
      await provider.close();
    }
  });
});
