import { afterEach, describe, expect, it } from 'vitest';
import { ClovaAuthError, createClovaProvider, type ClovaProvider } from '../../../src/providers/clova/index.js';
import { CredentialStatus } from '../../../src/providers/http/credential-status.js';
import { createOpenAiCompatibleProvider } from '../../../src/providers/openai-compatible/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FAKE_CLOVA_API_KEY, startFakeClova } from '../../fakes/clova/fake-clova-server.js';
import { startFakeOpenAi } from '../../fakes/openai/fake-openai-server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const ask = [{ role: 'user' as const, content: '질문' }];

async function clovaProvider(): Promise<{ provider: ClovaProvider; fake: Awaited<ReturnType<typeof startFakeClova>> }> {
  const fake = await startFakeClova();
  const provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', retry: { maxAttempts: 1 }, logger: silentLogger() });
  closers.push(() => fake.close(), () => provider.close());
  return { provider, fake };
}

describe('what the bot learns about its key from its own calls', () => {
  it('remembers a refusal until a call succeeds, or until the hold ends so a replica left without work can try again', () => {
    let now = 1_000;
    const status = new CredentialStatus({ refusalHoldMs: 60_000, now: () => now });
    const refusal = new ClovaAuthError({ kind: 'auth', message: 'Unauthorized', status: 401, providerCode: '40100', retryable: false });
    expect(status.lastRefusal).toBeUndefined();
    status.refused(refusal);
    now += 59_999;
    expect(status.lastRefusal).toBe(refusal);
    status.accepted();
    expect(status.lastRefusal).toBeUndefined();
    status.refused(refusal);
    now += 60_000;
    expect(status.lastRefusal).toBeUndefined();
  });

  it('CLOVA: a 401 refuses, a failure that says nothing about the key leaves it as it was, a success accepts', async () => {
    const { provider, fake } = await clovaProvider();
    fake.injectFaults('chat', { fault: 'status', httpStatus: 401, code: '40100', message: 'Unauthorized' }, { fault: 'http-500' });
    await expect(provider.chatModel.complete(ask, { maxTokens: 10 })).rejects.toBeInstanceOf(ClovaAuthError);
    expect(provider.client.credentials.lastRefusal).toMatchObject({ code: 'clova_auth', providerCode: '40100' });
    await expect(provider.chatModel.complete(ask, { maxTokens: 10 })).rejects.toMatchObject({ code: 'clova_server' });
    expect(provider.client.credentials.lastRefusal).toMatchObject({ code: 'clova_auth' });
    await provider.chatModel.complete(ask, { maxTokens: 10 });
    expect(provider.client.credentials.lastRefusal).toBeUndefined();
  });

  it('CLOVA: a refusal carried in the envelope of an HTTP 200 counts too', async () => {
    const { provider, fake } = await clovaProvider();
    fake.injectFaults('reranker', { fault: 'status', httpStatus: 200, code: '40104', message: 'Invalid key' });
    await expect(provider.reranker.rerank('질문', [{ id: 'a', content: '문서' }])).rejects.toBeInstanceOf(ClovaAuthError);
    expect(provider.client.credentials.lastRefusal).toMatchObject({ providerCode: '40104' });
  });

  it('OpenAI-compatible: a refused key is remembered the same way', async () => {
    const fake = await startFakeOpenAi({ apiKey: 'sk-right-key-0123' });
    const provider = createOpenAiCompatibleProvider({ apiKey: 'sk-wrong-key-0123', baseUrl: fake.url, model: 'local-model', retry: { maxAttempts: 1 }, logger: silentLogger() });
    closers.push(() => fake.close(), () => provider.close());
    await expect(provider.chatModel.complete(ask, { maxTokens: 10 })).rejects.toMatchObject({ code: 'openai_auth', status: 401 });
    expect(provider.credentials.lastRefusal).toMatchObject({ code: 'openai_auth' });
  });
});
