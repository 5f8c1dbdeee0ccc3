import { basename, extname } from 'node:path';
import type { SourceDocument } from '../source-document.js';
import { parseCsv } from './csv.js';
import { parseJsonl } from './jsonl.js';
import { parseMarkdown } from './markdown.js';
import { parsePlainText } from './plain-text.js';
import type { ColumnMapping, SkippedRecord } from './records.js';

export type { ColumnMapping, SkippedRecord } from './records.js';

/** File name endings ingestion understands. */
export const SUPPORTED_EXTENSIONS = ['.md', '.markdown', '.csv', '.jsonl', '.ndjson', '.txt', '.text'] as const;

export interface ParsedFile {
  documents: SourceDocument[];
  /** Rows left out of a CSV or JSONL file, with reasons. */
  skipped: SkippedRecord[];
}

/** Whether `path` has an extension ingestion can read. */
export function isSupportedFile(path: string): boolean {
  return (SUPPORTED_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

/**
 * Parses a file by its extension. Throws a plain `Error` whose message is the reason, for the
 * caller to wrap with the path.
 */
export function parseKnowledgeFile(path: string, content: string, columns: ColumnMapping = {}): ParsedFile {
  const extension = extname(path).toLowerCase();
  const fallbackTitle = basename(path, extname(path)).replace(/[-_]+/g, ' ').trim() || basename(path);
  switch (extension) {
    case '.md':
    case '.markdown':
      return { documents: [parseMarkdown(content, fallbackTitle)], skipped: [] };
    case '.csv':
      return parseCsv(content, columns);
    case '.jsonl':
    case '.ndjson':
      return parseJsonl(content, columns);
    case '.txt':
    case '.text':
      return { documents: [parsePlainText(content, fallbackTitle)], skipped: [] };
    default:
      throw new Error(`unsupported file type "${extension || '(none)'}" (supported: ${SUPPORTED_EXTENSIONS.join(', ')})`);
  }
}
