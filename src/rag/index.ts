/**
 * Retrieval-augmented answering: the reasoning loop, the offline extractive answerer, the local
 * reranker, and citation parsing and verification.
 *
 * @example
 * const answerer = createRagAnswerer({ reasoner: clova.reasoner, retriever, reranker: clova.reranker, tokenCounter: clova.tokenCounter,
 *   maxRounds: config.RAG_MAX_ROUNDS, topK: config.RAG_TOP_K, documentTokenBudget: config.DOCUMENT_TOKEN_BUDGET, logger });
 */
export { createRagAnswerer, type RagAnswererOptions } from './rag-answerer.js';
export { createOfflineAnswerer, type OfflineAnswererOptions } from './offline-answerer.js';
export { createLocalReranker, type LocalRerankerOptions } from './local-reranker.js';
export { parseCitationMarkup, type MarkupSegment } from './citation-markup.js';
export { buildCitedAnswer } from './cited-answer.js';
export { SEARCH_TOOL, SEARCH_TOOL_NAME } from './search-tool.js';
export { buildSystemPrompt, DEFAULT_PERSONA } from './system-prompt.js';
