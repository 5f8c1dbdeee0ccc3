import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerPlainText } from '../../../src/engine/answer.js';
import type { ReplyEvent } from '../../../src/engine/types.js';
import { createEmbeddedRetriever } from '../../../src/knowledge/embedded-retriever.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { ClovaProvider } from '../../../src/providers/clova/index.js';
import { createLocalReranker, createRagAnswerer, SEARCH_TOOL_NAME } from '../../../src/rag/index.js';
import type { FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { citeSpan, type ChatRequestView } from '../../fakes/clova/scripts.js';
import { startFakeClovaProvider } from '../../support/fake-clova-provider.js';
import { answerRequest } from '../../support/answer-request.js';

const chunks = [
  { id: 'kb/redis.md#0', source: 'kb/redis.md', documentId: '', title: 'Redis', text: 'Set REDIS_URL to share thread memory between replicas. Restart the bot afterwards.' },
  { id: 'kb/slack.md#0', source: 'kb/slack.md', documentId: '', title: 'Slack', text: 'Socket Mode needs an app-level token with connections:write.' },
];

function aliasOfDocument(view: ChatRequestView, text: string): string | undefined {
  for (const message of view.messages) {
    if (message.role !== 'tool' || typeof message.content !== 'string') continue;
    const found = (JSON.parse(message.content) as { search_result: { id: string; doc: string }[] }).search_result.find((entry) => entry.doc.includes(text));
    if (found) return found.id;
  }
  return undefined;
}

describe('a streamed answer with function calling (chat model, RAG Reasoning off)', () => {
  let fake: FakeClova;
  let provider: ClovaProvider;
  let closeClova: () => Promise<void>;
  beforeAll(async () => {
    ({ fake, provider, close: closeClova } = await startFakeClovaProvider());
  });
  afterAll(() => closeClova());

  it('streams the final answer as readable previews (no citation tags) and still ends with checked citations', async () => {
    fake.scriptChat((view) => {
      const alias = aliasOfDocument(view, 'Set REDIS_URL');
      if (!alias) return { toolCalls: [{ name: SEARCH_TOOL_NAME, arguments: { query: 'REDIS_URL replicas' } }] };
      // Small SSE chunks, so tags are split across deltas.
      return { text: `You need Redis. ${citeSpan(alias, 'Set REDIS_URL to share thread memory between replicas.')} Then restart.`, byteChunkSize: 3 };
    });
    const events: ReplyEvent[] = [];
    const request = answerRequest([{ role: 'user', content: 'How do replicas share memory?' }], { events });
    const answer = await createRagAnswerer({
      reasoner: provider.chatReasoner,
      retriever: createEmbeddedRetriever({ chunks }),
      reranker: createLocalReranker(),
      tokenCounter: provider.tokenCounter,
      maxRounds: 3,
      topK: 4,
      documentTokenBudget: 2000,
      logger: silentLogger(),
    }).answer(request);

    const deltas = events.filter((event) => event.type === 'text-delta').map((event) => (event.type === 'text-delta' ? event.text : ''));
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join('')).toBe('You need Redis. Set REDIS_URL to share thread memory between replicas. Then restart.');
    expect(deltas.join('')).not.toContain('<');
    expect(fake.requestsFor('chat').every((recorded) => recorded.headers.accept === 'text/event-stream')).toBe(true);
    expect(answer.sources.map((source) => source.docId)).toEqual(['kb/redis.md#0']);
    expect(answerPlainText(answer)).toBe('You need Redis. Set REDIS_URL to share thread memory between replicas.[1] Then restart.');
  });
});
