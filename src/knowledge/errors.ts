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
