import type { SourceDocument } from '../source-document.js';
import { isUsableText } from '../usable-text.js';

/** Which columns (CSV) or fields (JSONL) hold each part of a document. Unset: the usual names are tried. */
export interface ColumnMapping {
  id?: string;
  title?: string;
  text?: string;
  url?: string;
}

const CANDIDATES: Required<Record<keyof ColumnMapping, string[]>> = {
  id: ['id', 'doc_id', 'document_id'],
  title: ['title', 'question', 'subject', 'name'],
  text: ['text', 'content', 'answer', 'body', 'doc'],
  url: ['url', 'link', 'source_url'],
};

/** A row that was left out, and why. */
export interface SkippedRecord {
  row: number;
  reason: string;
}

export interface RecordsResult {
  documents: SourceDocument[];
  skipped: SkippedRecord[];
}

/**
 * Maps table rows or JSON objects to documents. A row without usable text (empty, `None`, `NaN`)
 * is skipped and reported; a file whose text column cannot be found at all is an error.
 */
export function recordsToDocuments(records: readonly Record<string, unknown>[], mapping: ColumnMapping, fieldNames: readonly string[] | 'per-record'): RecordsResult {
  // JSON Lines objects need not share fields (an FAQ next to an article), so they resolve one by one.
  const shared = fieldNames === 'per-record' ? undefined : resolveColumns(mapping, fieldNames);
  const documents: SourceDocument[] = [];
  const skipped: SkippedRecord[] = [];
  const seenIds = new Set<string>();
  let lastColumnProblem: Error | undefined;
  records.forEach((record, index) => {
    const row = index + 1;
    let columns = shared;
    if (!columns) {
      try {
        columns = resolveColumns(mapping, Object.keys(record));
      } catch (error) {
        lastColumnProblem = error as Error;
        skipped.push({ row, reason: (error as Error).message });
        return;
      }
    }
    const text = record[columns.text];
    if (!isUsableText(text)) {
      skipped.push({ row, reason: `no usable text in "${columns.text}"` });
      return;
    }
    const rawId = columns.id === undefined ? undefined : record[columns.id];
    const documentId = rawId === undefined || rawId === null || String(rawId).trim() === '' ? `row-${row}` : String(rawId).trim();
    if (seenIds.has(documentId)) {
      skipped.push({ row, reason: `duplicate id "${documentId}"` });
      return;
    }
    seenIds.add(documentId);
    const rawTitle = columns.title === undefined ? undefined : record[columns.title];
    const title = isUsableText(rawTitle) ? rawTitle.trim() : firstWords(text);
    const rawUrl = columns.url === undefined ? undefined : record[columns.url];
    const url = isUsableText(rawUrl) && /^https?:\/\//i.test(rawUrl.trim()) ? rawUrl.trim() : undefined;
    documents.push({ documentId, title, ...(url ? { url } : {}), sections: [{ headings: [], text: text.trim() }] });
  });
  if (documents.length === 0 && lastColumnProblem) throw lastColumnProblem;
  return { documents, skipped };
}

function resolveColumns(mapping: ColumnMapping, fieldNames: readonly string[]): { id?: string; title?: string; text: string; url?: string } {
  const find = (key: keyof ColumnMapping): string | undefined => {
    const wanted = mapping[key];
    if (wanted !== undefined) {
      if (!fieldNames.includes(wanted)) throw new Error(`the ${key} column "${wanted}" does not exist (found: ${fieldNames.join(', ') || 'none'})`);
      return wanted;
    }
    return CANDIDATES[key].map((candidate) => fieldNames.find((name) => name.trim().toLowerCase() === candidate)).find((name) => name !== undefined);
  };
  const text = find('text');
  if (text === undefined) throw new Error(`no text column (tried ${CANDIDATES.text.join(', ')}; found: ${fieldNames.join(', ') || 'none'}); name it with --text-column`);
  const id = find('id');
  const title = find('title');
  const url = find('url');
  return { text, ...(id ? { id } : {}), ...(title ? { title } : {}), ...(url ? { url } : {}) };
}

function firstWords(text: string): string {
  const line = text.trim().split(/\r?\n/)[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}
