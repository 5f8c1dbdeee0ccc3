import { afterEach, describe, expect, it } from 'vitest';
import { createSearchApiRetriever, SearchApiError } from '../../../src/knowledge/search-api-retriever.js';
import { startFakeSearchApi, type FakeSearchApi } from '../../fakes/search-api/fake-search-api.js';
import { CONTRACT_CORPUS, describeRetrieverContract } from '../../unit/rag/support/retriever-contract.js';

describeRetrieverContract('search API retriever', async () => {
  const api = await startFakeSearchApi(CONTRACT_CORPUS.map(({ id, content }) => ({ id, content })));
  return { retriever: createSearchApiRetriever({ url: api.url, timeoutMs: 5_000 }), close: () => api.close() };
});

describe('search API retriever', () => {
  let api: FakeSearchApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('sends the documented request body and reads the documented response', async () => {
    api = await startFakeSearchApi(CONTRACT_CORPUS.map(({ id, content }) => ({ id, content })));
    const retriever = createSearchApiRetriever({ url: api.url, timeoutMs: 5_000, headers: { 'x-search-key': 'key-for-test' } });
    const results = await retriever.search('reset password', 4);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]).toMatchObject({ method: 'POST', path: '/search', body: { query: 'reset password', top_k: 4 } });
    expect(api.requests[0]!.headers['content-type']).toBe('application/json');
    expect(api.requests[0]!.headers['x-search-key']).toBe('key-for-test');
    expect(results[0]).toMatchObject({ doc: { id: 'password', source: 'search-api' } });
  });

  it('drops empty, None and NaN documents so they never reach a reranker', async () => {
    api = await startFakeSearchApi([
      { id: '1', content: 'None' },
      { id: '2', content: 'NaN' },
      { id: '3', content: '   ' },
      { id: '4', content: 'refund policy: thirty days' },
    ]);
    api.script({ kind: 'raw', body: JSON.stringify({ result: [{ id: 1, content: 'None' }, { id: 2, content: 'NaN' }, { id: 3, content: null }, { id: 4, content: 'refund policy: thirty days' }] }) });
    const results = await createSearchApiRetriever({ url: api.url, timeoutMs: 5_000 }).search('refund', 5);
    expect(results.map((result) => result.doc.id)).toEqual(['4']);
  });

  it('reports an HTTP failure with its status, without leaking the query string of the URL', async () => {
    api = await startFakeSearchApi([]);
    api.script({ kind: 'status', status: 503 });
    const retriever = createSearchApiRetriever({ url: `${api.url}?token=very-secret-value`, timeoutMs: 5_000 });
    const error = await retriever.search('refund', 3).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SearchApiError);
    expect(error).toMatchObject({ code: 'search_api_http_status', status: 503 });
    expect(String((error as Error).message)).not.toContain('very-secret-value');
    expect((error as SearchApiError).userMessage).toMatch(/could not search/);
  });

  it('times out a search API that does not answer', async () => {
    api = await startFakeSearchApi([]);
    api.script({ kind: 'hang' });
    const error = await createSearchApiRetriever({ url: api.url, timeoutMs: 150 }).search('refund', 3).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'search_api_timeout', kind: 'timeout' });
  });

  it('rejects a response of the wrong shape with a clear reason', async () => {
    api = await startFakeSearchApi([]);
    api.script({ kind: 'raw', body: '{"results": []}' }, { kind: 'raw', body: 'not json' });
    const retriever = createSearchApiRetriever({ url: api.url, timeoutMs: 5_000 });
    await expect(retriever.search('refund', 3)).rejects.toMatchObject({ code: 'search_api_bad_response', message: expect.stringContaining('result') });
    await expect(retriever.search('refund', 3)).rejects.toMatchObject({ code: 'search_api_bad_response', message: expect.stringContaining('not JSON') });
  });

  it('reports an unreachable server', async () => {
    api = await startFakeSearchApi([]);
    const url = api.url;
    await api.close();
    api = undefined;
    await expect(createSearchApiRetriever({ url, timeoutMs: 2_000 }).search('refund', 3)).rejects.toMatchObject({ code: 'search_api_unreachable' });
  });
});
