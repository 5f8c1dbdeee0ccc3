import type { Embedder } from '../providers/types.js';

/**
 * An embedder with the name its vectors are recorded under in the index file, such as
 * `clova:embedding-v2` or `openai:text-embedding-3-small`. Vectors of different models live in
 * unrelated spaces, so an index is only ever searched with queries embedded by the model that built it.
 */
export interface EmbeddingModel {
  name: string;
  embedder: Embedder;
}

/** The text a chunk is embedded from; its hash decides whether a stored vector can be reused. */
export function embeddingInputOf(chunk: { title: string; text: string }): string {
  return `${chunk.title}\n${chunk.text}`;
}

/** The name CLOVA embedding v2 (bge-m3) vectors are recorded under. */
export const CLOVA_EMBEDDING_MODEL = 'clova:embedding-v2';

/** The name vectors of an OpenAI-compatible embedding model are recorded under. */
export function openAiEmbeddingModel(model: string): string {
  return `openai:${model}`;
}

/** The settings that make the bot embed with `model`, for messages that tell an operator what to set. */
export function settingsFor(model: string): string {
  if (model === CLOVA_EMBEDDING_MODEL) return 'LLM_PROVIDER=clova with CLOVA_USE_EMBEDDINGS=true';
  if (model.startsWith('openai:')) return `LLM_PROVIDER=openai with OPENAI_EMBEDDING_MODEL=${model.slice('openai:'.length)}`;
  return `the embedding model ${model}`;
}
