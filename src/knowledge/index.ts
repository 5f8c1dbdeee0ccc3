/**
 * The knowledge base: ingestion, the persisted index and the retrievers behind the `Retriever` spec.
 *
 * @example
 * const retriever = await loadKnowledgeRetriever({ indexFile: config.KNOWLEDGE_INDEX_FILE, logger });
 * const external = createSearchApiRetriever({ url: config.SEARCH_API_URL, timeoutMs: 10_000 });
 */
export { loadKnowledgeRetriever, bundledGuideDir, type LoadKnowledgeOptions } from './load-knowledge.js';
export { createSearchApiRetriever, SearchApiError, type SearchApiRetrieverOptions } from './search-api-retriever.js';
export { createEmbeddedRetriever, type EmbeddedRetriever, type EmbeddedRetrieverOptions } from './embedded-retriever.js';
export { ingestFiles, type IngestOptions, type IngestReport, type IngestProgress } from './ingest.js';
export { isUsableText } from './usable-text.js';
export { splitSentences } from './sentences.js';
