import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answerPlainText } from '../../../src/engine/answer.js';
import { createEmbeddedRetriever } from '../../../src/knowledge/embedded-retriever.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { ClovaProvider } from '../../../src/providers/clova/index.js';
import type { ChatMessage } from '../../../src/providers/types.js';
import { createRagAnswerer } from '../../../src/rag/rag-answerer.js';
import type { FakeClova } from '../../fakes/clova/fake-clova-server.js';
import { citeSpan, type RagReasoningRequestView } from '../../fakes/clova/scripts.js';
import { startFakeClovaProvider } from '../../support/fake-clova-provider.js';
import { answerRequest } from '../../support/answer-request.js';

const chunks = [
  { id: 'kb/refunds.md#0', source: 'kb/refunds.md', documentId: '', title: '환불 안내', text: '환불은 구매일로부터 30일 이내에 신청할 수 있습니다. 기프트 카드는 환불되지 않습니다.' },
  { id: 'kb/shipping.md#0', source: 'kb/shipping.md', documentId: '', title: '배송 안내', text: '배송은 영업일 기준 2일 이내에 출고됩니다. 송장 번호는 이메일로 안내됩니다.' },
  { id: 'kb/exports.md#0', source: 'kb/exports.md', documentId: '', title: '보고서 내보내기', text: '보고서를 내보내려면 보고서 메뉴에서 내보내기 버튼을 누릅니다.' },
  { id: 'kb/exports.md#1', source: 'kb/exports.md', documentId: '', title: '보고서 내보내기 › 되돌리기', text: '내보내기는 되돌릴 수 없지만 내보낸 보고서 파일은 보고서 메뉴에서 삭제할 수 있습니다.' },
];

/** The documents (alias and text) the model has been given so far, read from the tool messages it was sent. */
function documentsSeen(request: RagReasoningRequestView): { id: string; doc: string }[] {
  return request.messages
    .filter((message) => message.role === 'tool' && typeof message.content === 'string')
    .flatMap((message) => (JSON.parse(message.content as string) as { search_result: { id: string; doc: string }[] }).search_result);
}

function aliasOf(request: RagReasoningRequestView, text: string): string {
  const found = documentsSeen(request).find((entry) => entry.doc.includes(text));
  if (!found) throw new Error(`the model was not given a document containing "${text}"`);
  return found.id;
}

function toolMessagesOf(body: Record<string, unknown>): { toolCallId: string; content: string }[] {
  return (body.messages as { role: string; toolCallId: string; content: string }[]).filter((message) => message.role === 'tool');
}

let fake: FakeClova;
let provider: ClovaProvider;
let closeClova: () => Promise<void>;

beforeAll(async () => {
  ({ fake, provider, close: closeClova } = await startFakeClovaProvider());
});
afterAll(() => closeClova());
beforeEach(() => fake.reset());

function answerer() {
  return createRagAnswerer({
    reasoner: provider.reasoner,
    retriever: createEmbeddedRetriever({ chunks }),
    reranker: provider.reranker,
    tokenCounter: provider.tokenCounter,
    maxRounds: 3,
    topK: 4,
    documentTokenBudget: 2000,
    logger: silentLogger(),
  });
}

/** Cites the sent documents whose text contains the query's first word, as a reranker that understood the query would. */
function rerankByKeyword(request: { query: string; documents: { id: string; doc: string }[] }) {
  const keyword = request.query.split(/\s+/)[0]!;
  return { citedIds: request.documents.filter((document) => document.doc.includes(keyword)).map((document) => document.id) };
}

describe('RAG flow against the fake CLOVA server', () => {
  it('turns a two-question message into two tool calls, each searched and reranked on its own, and one answer citing both', async () => {
    fake.scriptRagReasoning((view) => {
      if (documentsSeen(view).length === 0) {
        return {
          toolCalls: [
            { id: 'call_refund', name: 'knowledge_search', arguments: { query: '환불 기간' } },
            { id: 'call_shipping', name: 'knowledge_search', arguments: { query: '배송 출고' } },
          ],
        };
      }
      return { text: `${citeSpan(aliasOf(view, '환불은'), '환불은 구매일로부터 30일 이내에 신청할 수 있습니다.')} ${citeSpan(aliasOf(view, '배송은'), '배송은 영업일 기준 2일 이내에 출고됩니다.')}` };
    });
    fake.scriptReranker((view) => rerankByKeyword(view));

    const answer = await answerer().answer(answerRequest([{ role: 'user', content: '환불은 며칠 안에 되나요? 그리고 배송은 얼마나 걸리나요?' }]));

    const reranks = fake.requestsFor('reranker').map((recorded) => recorded.body as { query: string; documents: { id: string }[] });
    expect(reranks.map((body) => body.query).sort()).toEqual(['배송 출고', '환불 기간']);
    const reasoning = fake.requestsFor('rag-reasoning');
    expect(reasoning).toHaveLength(2);
    const toolMessages = toolMessagesOf(reasoning[1]!.body as Record<string, unknown>);
    expect(toolMessages.map((message) => message.toolCallId)).toEqual(['call_refund', 'call_shipping']);
    expect(toolMessages[0]!.content).toContain('환불은');
    expect(toolMessages[0]!.content).not.toContain('배송은');
    expect(toolMessages[1]!.content).toContain('배송은');
    expect(toolMessages[1]!.content).not.toContain('환불은');

    expect(answer.mode).toBe('generated');
    expect(answer.sources.map((source) => source.docId)).toEqual(['kb/refunds.md#0', 'kb/shipping.md#0']);
    expect(answerPlainText(answer)).toBe('환불은 구매일로부터 30일 이내에 신청할 수 있습니다.[1] 배송은 영업일 기준 2일 이내에 출고됩니다.[2]');
  });

  it('answers a follow-up with the earlier turns in the final call', async () => {
    fake.scriptRagReasoning((view) => {
      if (documentsSeen(view).length === 0) return { toolCalls: [{ name: 'knowledge_search', arguments: { query: '내보내기 되돌리기' } }] };
      return { text: citeSpan(aliasOf(view, '되돌릴 수 없지만'), '내보내기는 되돌릴 수 없지만 내보낸 파일은 삭제할 수 있습니다.') };
    });
    fake.scriptReranker((view) => rerankByKeyword(view));
    const history: ChatMessage[] = [
      { role: 'user', content: '보고서는 어떻게 내보내나요?' },
      { role: 'assistant', content: '보고서 메뉴에서 내보내기 버튼을 누르면 됩니다.[1]' },
      { role: 'user', content: '그럼 그걸 되돌리려면요?' },
    ];
    const answer = await answerer().answer(answerRequest(history));
    const finalMessages = (fake.requestsFor('rag-reasoning').at(-1)!.body as { messages: { role: string; content: string }[] }).messages;
    expect(finalMessages.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'tool']);
    expect(finalMessages.slice(1, 4).map((message) => message.content)).toEqual(history.map((message) => message.content));
    expect(answer.sources.map((source) => source.docId)).toEqual(['kb/exports.md#1']);
  });

  it('re-searches with the suggested queries once, then answers "not found" honestly', async () => {
    fake.scriptRagReasoning([{ toolCalls: [{ name: 'knowledge_search', arguments: { query: '펭귄 사료 환불' } }] }]);
    fake.scriptReranker(() => ({ citedIds: [], suggestedQueries: ['기프트 카드 환불', '반려동물 환불'] }));
    const answer = await answerer().answer(answerRequest([{ role: 'user', content: '펭귄 사료도 환불되나요?' }]));
    expect(fake.requestsFor('reranker').map((recorded) => (recorded.body as { query: string }).query)).toEqual(['펭귄 사료 환불', '기프트 카드 환불', '반려동물 환불']);
    expect(fake.requestsFor('rag-reasoning')).toHaveLength(1);
    expect(answer.mode).toBe('not-found');
    expect(answer.sources).toEqual([]);
    expect(answerPlainText(answer)).toContain('지식 베이스에서 해당 내용을 찾지 못했습니다.');
  });

  it('renders a reply citing an id it was never given without that citation', async () => {
    fake.scriptRagReasoning((view) => {
      if (documentsSeen(view).length === 0) return { toolCalls: [{ name: 'knowledge_search', arguments: { query: '환불 기간' } }] };
      return { text: `${citeSpan(aliasOf(view, '환불은'), '환불은 30일 이내에 신청할 수 있습니다.')} ${citeSpan('doc-179', '기프트 카드도 환불됩니다.')}` };
    });
    fake.scriptReranker((view) => rerankByKeyword(view));
    const answer = await answerer().answer(answerRequest([{ role: 'user', content: '환불 기간이 어떻게 되나요?' }]));
    expect(answerPlainText(answer)).toBe('환불은 30일 이내에 신청할 수 있습니다.[1] 기프트 카드도 환불됩니다.');
    expect(answer.citationIssues).toEqual({ unknownIds: 1, unsupportedSpans: 0 });
    expect(answer.sources.map((source) => source.docId)).toEqual(['kb/refunds.md#0']);
  });
});
