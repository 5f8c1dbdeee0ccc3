/**
 * `npm run eval`: retrieval quality of the embedded index on the public welfare QA set
 * (../shared/eval: 9,547 Korean questions labelled with the title of the programme page that answers
 * them, over 464 pages). Prints one JSON object: recall@1, recall@5, MRR, query latency p50/p99 and
 * index build time; with `--reranker local`, the same figures after reranking the top 20 locally.
 *
 * Options: --limit N (first N questions; default all), --reranker none|local.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { chunkDocuments, DEFAULT_CHUNKING } from '../src/knowledge/chunker.js';
import { createEmbeddedRetriever } from '../src/knowledge/embedded-retriever.js';
import { parseKnowledgeFile } from '../src/knowledge/parsers/parse-file.js';
import { createLocalReranker } from '../src/rag/local-reranker.js';
import type { Reranker, ScoredDoc } from '../src/providers/types.js';

const EVAL_DIR = resolve(import.meta.dirname, '../../shared/eval');
const RETRIEVE_DEPTH = 40;
const RERANK_DEPTH = 20;

const { values } = parseArgs({ options: { limit: { type: 'string' }, reranker: { type: 'string', default: 'none' } } });
const limit = values.limit ? Number(values.limit) : Infinity;
if (!['none', 'local'].includes(values.reranker ?? 'none')) throw new Error('--reranker must be none or local');

/** Labels and titles are joined as the corpus README says: NFC + trim, then ignoring spacing and punctuation variants. */
const joinKey = (text: string) => text.normalize('NFC').trim().replace(/[\p{P}\p{S}\s]+/gu, '');

const docsPath = resolve(EVAL_DIR, 'welfare_docs.jsonl');
const parsed = parseKnowledgeFile(docsPath, readFileSync(docsPath, 'utf8'), { id: 'id', title: 'title', text: 'text' });
const buildStarted = performance.now();
const chunks = chunkDocuments('welfare', parsed.documents, DEFAULT_CHUNKING);
const retriever = createEmbeddedRetriever({ chunks });
const buildMs = performance.now() - buildStarted;
// Measured side by side: BM25 over Hangul bigrams alone, no words, no title field (the reference point).
const bigramOnly = createEmbeddedRetriever({ chunks, lexicalWeights: { words: 0, bigrams: 1, trigrams: 0, title: 0, k1: 1.2, b: 0.75 } });

const titleKeyOfDocument = new Map(parsed.documents.map((document) => [document.documentId, joinKey(document.title)]));
const documentOfChunk = new Map(chunks.map((chunk) => [chunk.id, chunk.documentId]));
const knownTitleKeys = new Set(titleKeyOfDocument.values());

const rows = parse(readFileSync(resolve(EVAL_DIR, 'welfare_qa.csv'), 'utf8'), { columns: true, bom: true }) as { Question: string; Documents: string }[];
const questions = rows.filter((row) => knownTitleKeys.has(joinKey(row.Documents))).slice(0, limit);
const unjoinable = rows.length - rows.filter((row) => knownTitleKeys.has(joinKey(row.Documents))).length;

interface Figures {
  recallAt1: number;
  recallAt5: number;
  mrr: number;
  latencyMs: { p50: number; p99: number };
}

async function evaluate(reranker: Reranker | undefined, searcher = retriever): Promise<Figures> {
  let hitsAt1 = 0;
  let hitsAt5 = 0;
  let reciprocalRanks = 0;
  const latencies: number[] = [];
  for (const row of questions) {
    const started = performance.now();
    let results: ScoredDoc[] = await searcher.search(row.Question, RETRIEVE_DEPTH);
    if (reranker) {
      const head = results.slice(0, RERANK_DEPTH);
      const reranked = await reranker.rerank(row.Question, head.map((result) => result.doc));
      const rerankedIds = new Set(reranked.ranked.map((entry) => entry.doc.id));
      // Documents the reranker judged irrelevant keep their retrieval order behind the ones it kept.
      results = [...reranked.ranked, ...results.filter((result) => !rerankedIds.has(result.doc.id))];
    }
    latencies.push(performance.now() - started);
    const rankedDocuments: string[] = [];
    for (const result of results) {
      const document = documentOfChunk.get(result.doc.id)!;
      if (!rankedDocuments.includes(document)) rankedDocuments.push(document);
    }
    const gold = joinKey(row.Documents);
    const rank = rankedDocuments.findIndex((document) => titleKeyOfDocument.get(document) === gold);
    if (rank === 0) hitsAt1 += 1;
    if (rank >= 0 && rank < 5) hitsAt5 += 1;
    if (rank >= 0) reciprocalRanks += 1 / (rank + 1);
  }
  latencies.sort((left, right) => left - right);
  const percentile = (share: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(share * latencies.length))] ?? 0, 2);
  const count = questions.length;
  return { recallAt1: round(hitsAt1 / count, 4), recallAt5: round(hitsAt5 / count, 4), mrr: round(reciprocalRanks / count, 4), latencyMs: { p50: percentile(0.5), p99: percentile(0.99) } };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const embedded = await evaluate(undefined);
const baseline = await evaluate(undefined, bigramOnly);
const reranked = values.reranker === 'local' ? await evaluate(createLocalReranker({ minimumCoverage: 0, maxResults: RERANK_DEPTH })) : undefined;
process.stdout.write(
  `${JSON.stringify(
    {
      dataset: 'welfare_qa (../shared/eval)',
      questions: questions.length,
      questionsWithoutMatchingTitle: unjoinable,
      documents: parsed.documents.length,
      chunks: chunks.length,
      chunking: DEFAULT_CHUNKING,
      indexBuildMs: round(buildMs, 1),
      embeddedIndex: embedded,
      ...(reranked ? { withLocalReranker: reranked } : {}),
      bigramOnlyBaseline: baseline,
    },
    null,
    2,
  )}\n`,
);
