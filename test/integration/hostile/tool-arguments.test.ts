import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answerPlainText } from '../../../src/engine/answer.js';
import type { AnswerRequest } from '../../../src/engine/answerer.js';
import { createEmbeddedRetriever } from '../../../src/knowledge/embedded-retriever.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { ClovaProvider } from '../../../src/providers/clova/index.js';
import type { Retriever, ScoredDoc } from '../../../src/providers/types.js';
import { createRagAnswerer } from '../../../src/rag/rag-answerer.js';
import type { FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { citeSpan, type RagReasoningRequestView, type ScriptedToolCall } from '../../fakes/clova/scripts.js';
import { startFakeClovaProvider } from '../../support/fake-clova-provider.js';
import { answerRequest } from '../../support/answer-request.js';

const chunks = [
  { id: 'kb/refunds.md#0', source: 'kb/refunds.md', documentId: '', title: 'Refunds', text: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.' },
  { id: 'kb/shipping.md#0', source: 'kb/shipping.md', documentId: '', title: 'Shipping', text: 'Orders ship from Seoul within two business days.' },
];

/** Arguments a model may write that are not what the tool schema asks for (`{ query: string }`). */
const MALFORMED: ScriptedToolCall[] = [
  { id: 'call_number', name: 'knowledge_search', arguments: { query: 42 } },
  { id: 'call_missing', name: 'knowledge_search', arguments: { text: 'refund' } },
  { id: 'call_array', name: 'knowledge_search', arguments: { query: ['refund', 'shipping'] } },
  { id: 'call_object', name: 'knowledge_search', arguments: { query: { $ne: null } } },
  { id: 'call_blank', name: 'knowledge_search', arguments: { query: ' \u200B ' } },
];

/** A 10 KB query: valid by type, absurd by size. */
const HUGE_QUERY = `refund ${'policy details '.repeat(730)}`.slice(0, 10_240);

interface ToolResult {
  toolCallId: string;
  result: { search_result: Array<{ id: string; doc: string }>; error?: string; note?: string };
}

function toolResultsOf(view: RagReasoningRequestView): ToolResult[] {
  return view.messages
    .filter((message) => message.role === 'tool')
    .map((message) => ({ toolCallId: message.toolCallId!, result: JSON.parse(message.content as string) as ToolResult['result'] }));
}

/** A retriever that records the queries it was asked, around the real embedded index. */
function recordingRetriever(): Retriever & { queries: string[] } {
  const inner = createEmbeddedRetriever({ chunks });
  const queries: string[] = [];
  return {
    queries,
    async search(query, topK, signal): Promise<ScoredDoc[]> {
      queries.push(query);
      return inner.search(query, topK, signal);
    },
  };
}

function request(text: string): AnswerRequest {
  return answerRequest([{ role: 'user', content: text }]);
}

let fake: FakeClova;
let provider: ClovaProvider;
let closeClova: () => Promise<void>;

beforeAll(async () => {
  ({ fake, provider, close: closeClova } = await startFakeClovaProvider());
});
afterAll(() => closeClova());
beforeEach(() => fake.reset());

function answerer(retriever: Retriever) {
  return createRagAnswerer({
    reasoner: provider.reasoner,
    retriever,
    reranker: provider.reranker,
    tokenCounter: provider.tokenCounter,
    maxRounds: 3,
    topK: 4,
    documentTokenBudget: 2000,
    logger: silentLogger(),
  });
}

describe('tool-call arguments that do not match the schema, over the CLOVA wire', () => {
  it('answers each malformed call with an error result, searches a 10 KB query cut to size, and still answers with citations', async () => {
    fake.scriptRagReasoning((view) => {
      const results = toolResultsOf(view);
      if (results.length === 0) return { toolCalls: [...MALFORMED, { id: 'call_huge', name: 'knowledge_search', arguments: { query: HUGE_QUERY } }] };
      const refund = results.flatMap((entry) => entry.result.search_result).find((entry) => entry.doc.includes('Refunds are issued'));
      if (!refund) return { text: 'I could not find it.' };
      return { text: citeSpan(refund.id, 'Refunds are issued within 30 days of purchase.') };
    });
    const retriever = recordingRetriever();

    const answer = await answerer(retriever).answer(request('How long do refunds take?'));

    const [first, second] = fake.requestsFor('rag-reasoning');
    expect(first).toBeDefined();
    const results = toolResultsOf(second!.body as unknown as RagReasoningRequestView);
    expect(results.map((entry) => entry.toolCallId)).toEqual([...MALFORMED.map((call) => call.id), 'call_huge']);
    for (const entry of results.slice(0, MALFORMED.length)) {
      expect(entry.result.error).toMatch(/^invalid arguments: query /);
      expect(entry.result.search_result).toEqual([]);
    }
    // Only the well-typed call searched, with its query bounded, and found the refund document.
    expect(retriever.queries).toHaveLength(1);
    expect(retriever.queries[0]!.length).toBeLessThanOrEqual(500);
    expect(retriever.queries[0]!.startsWith('refund policy')).toBe(true);
    expect(fake.requestsFor('reranker').every((recorded) => String((recorded.body as { query: string }).query).length <= 500)).toBe(true);
    expect(answer.mode).toBe('generated');
    expect(answerPlainText(answer)).toBe('Refunds are issued within 30 days of purchase.[1]');
    expect(answer.sources.map((source) => source.docId)).toEqual(['kb/refunds.md#0']);
  });

  it('stops a model that only ever writes malformed calls after the round limit and says it found nothing', async () => {
    fake.scriptRagReasoning((view) => {
      if (view.body.toolChoice === 'none') return { text: 'Refunds are always instant.' };
      return { toolCalls: [MALFORMED[toolResultsOf(view).length % MALFORMED.length]!] };
    });
    const retriever = recordingRetriever();

    const answer = await answerer(retriever).answer(request('How long do refunds take?'));

    const calls = fake.requestsFor('rag-reasoning').map((recorded) => (recorded.body as { toolChoice?: unknown }).toolChoice);
    expect(calls).toEqual(['auto', 'auto', 'auto', 'none']);
    expect(retriever.queries).toEqual([]);
    // No document ever backed it, so the model's improvised claim is not posted; the user hears "not found".
    expect(answer.mode).toBe('not-found');
    expect(answer.sources).toEqual([]);
    expect(answerPlainText(answer)).not.toContain('instant');
  });
  it('fails the answer with a typed protocol error, not a crash, when the arguments are not an object at all', async () => {
    for (const shape of [['refund'], 'query=refund', '{"query": "refund"']) {
      fake.reset();
      fake.scriptRagReasoning([{ toolCalls: [{ id: 'call_shape', name: 'knowledge_search', arguments: shape as unknown as Record<string, unknown> }] }]);
      const retriever = recordingRetriever();
      const failure = await answerer(retriever)
        .answer(request('How long do refunds take?'))
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toMatchObject({ code: 'clova_protocol', userMessage: expect.stringContaining('could not read') });
      expect(retriever.queries).toEqual([]);
    }
  });
});
