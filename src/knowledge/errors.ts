import { BotError } from '../errors.js';

/** A knowledge file that could not be read or parsed; ingestion reports it and moves on. */
export class KnowledgeFileError extends BotError {
  readonly path: string;
  readonly reason: string;

  constructor(options: { path: string; reason: string; cause?: unknown }) {
    super({
      code: 'knowledge_file_invalid',
      message: `${options.path}: ${options.reason}`,
      userMessage: 'One of the knowledge base files could not be read.',
      cause: options.cause,
    });
    this.path = options.path;
    this.reason = options.reason;
  }
}

/** The persisted index file exists but cannot be used (corrupt JSON, unknown version, wrong shape). */
export class KnowledgeIndexError extends BotError {
  readonly path: string;

  constructor(options: { path: string; reason: string; cause?: unknown }) {
    super({
      code: 'knowledge_index_invalid',
      message: `Knowledge index ${options.path}: ${options.reason}`,
      userMessage: 'The knowledge base index could not be loaded.',
      cause: options.cause,
    });
    this.path = options.path;
  }
}

/**
 * The index holds vectors of a different embedding model than the one configured for queries:
 * searching it would compare vectors from unrelated spaces, so the loader refuses it.
 */
export class KnowledgeEmbeddingMismatchError extends BotError {
  readonly path: string;
  readonly indexModel: string;
  readonly indexDimensions: number;
  readonly configuredModel: string;

  constructor(options: { path: string; indexModel: string; indexDimensions: number; configuredModel: string; remedy: string }) {
    super({
      code: 'knowledge_embedding_mismatch',
      message:
        `Knowledge index ${options.path} was embedded with ${options.indexModel} (${options.indexDimensions} dimensions), ` +
        `but queries would be embedded with ${options.configuredModel}; vectors of different models cannot be compared. ${options.remedy}`,
      userMessage: 'The knowledge base index could not be loaded.',
    });
    this.path = options.path;
    this.indexModel = options.indexModel;
    this.indexDimensions = options.indexDimensions;
    this.configuredModel = options.configuredModel;
  }
}

/** Embedding chunks failed for good (the provider refused, or kept failing after waiting as asked). */
export class KnowledgeEmbeddingError extends BotError {
  /** Chunks that got a vector before the failure. */
  readonly done: number;
  readonly total: number;

  constructor(options: { done: number; total: number; cause: unknown }) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super({
      code: 'knowledge_embedding_failed',
      message: `embedding stopped after ${options.done} of ${options.total} chunks: ${reason}`,
      userMessage: 'The knowledge base could not be embedded.',
      cause: options.cause,
    });
    this.done = options.done;
    this.total = options.total;
  }
}
