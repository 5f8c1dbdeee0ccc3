import { silentLogger } from '../../src/observability/logger.js';
import { createClovaProvider, type ClovaProvider } from '../../src/providers/clova/index.js';
import { FAKE_CLOVA_API_KEY, startFakeClova, type FakeClova } from '../fakes/clova/fake-clova-server.js';

export interface FakeClovaProvider {
  fake: FakeClova;
  /** The real CLOVA provider (HCX-005), pointed at `fake`, retrying without waiting. */
  provider: ClovaProvider;
  close(): Promise<void>;
}

/** A fake CLOVA Studio and the real provider talking to it over loopback. */
export async function startFakeClovaProvider(): Promise<FakeClovaProvider> {
  const fake = await startFakeClova();
  const provider = createClovaProvider({ apiKey: FAKE_CLOVA_API_KEY, baseUrl: fake.url, model: 'HCX-005', logger: silentLogger(), sleep: async () => {} });
  return {
    fake,
    provider,
    close: async () => {
      await provider.close();
      await fake.close();
    },
  };
}
