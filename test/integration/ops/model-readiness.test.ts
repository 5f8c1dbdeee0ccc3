import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { buildModelStack } from '../../../src/composition/model-stack.js';
import { HttpServer } from '../../../src/http/http-server.js';
import { registerHealthRoutes } from '../../../src/observability/health.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { FAKE_CLOVA_API_KEY, startFakeClova } from '../../fakes/clova/fake-clova-server.js';
import { createTestEngine, incomingMessage, recordingSink } from '../../support/engine-fixture.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.json() };
}

describe('/readyz and the model provider', () => {
  it('turns not-ready after CLOVA refuses the key for a turn, and ready again after a later turn succeeds, without probing CLOVA', async () => {
    const clova = await startFakeClova();
    closers.push(() => clova.close());
    const config = loadConfig({ CLOVA_STUDIO_API_KEY: FAKE_CLOVA_API_KEY, CLOVA_STUDIO_BASE_URL: clova.url, RAG_MAX_ROUNDS: '1' });
    const models = await buildModelStack(config, { logger: silentLogger(), metrics: new Metrics() });
    closers.push(() => models.close());
    const testEngine = await createTestEngine({ answerer: models.answerer, compactor: models.compactor });
    closers.push(() => testEngine.close());
    const http = new HttpServer();
    registerHealthRoutes(http, { metrics: new Metrics(), readiness: models.readiness, logger: silentLogger() });
    const url = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
    closers.push(() => http.close());
    const ask = (text: string) => testEngine.engine.handle(incomingMessage('console:readiness', text), recordingSink());

    expect(await readiness(url)).toEqual({ status: 200, body: { status: 'ready', checks: [{ name: 'model-provider', ok: true }] } });

    clova.injectFaults('rag-reasoning', { fault: 'status', httpStatus: 401, code: '40100', message: 'Unauthorized' });
    expect((await ask('How do I configure Redis?')).kind).toBe('failed');
    const callsBeforeProbes = clova.requests.length;
    expect(await readiness(url)).toEqual({ status: 503, body: { status: 'not-ready', checks: [{ name: 'model-provider', ok: false, failure: 'clova_auth' }] } });
    expect(await readiness(url)).toMatchObject({ status: 503 });
    // The probes read what the turn learnt; none of them reached CLOVA.
    expect(clova.requests).toHaveLength(callsBeforeProbes);

    expect((await ask('And how do I configure Redis Cluster?')).kind).toBe('answered');
    expect(await readiness(url)).toEqual({ status: 200, body: { status: 'ready', checks: [{ name: 'model-provider', ok: true }] } });
  });
});
