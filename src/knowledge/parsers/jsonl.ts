import { recordsToDocuments, type ColumnMapping, type RecordsResult } from './records.js';

/** Reads JSON Lines: one object per line. A line that is not a JSON object is skipped and reported. */
export function parseJsonl(content: string, mapping: ColumnMapping): RecordsResult {
  const records: Record<string, unknown>[] = [];
  const badLines: { row: number; reason: string }[] = [];
  content.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      records.push(value as Record<string, unknown>);
    } catch (error) {
      badLines.push({ row: index + 1, reason: `line ${index + 1} is not a JSON object (${error instanceof Error ? error.message : 'unreadable'})` });
    }
  });
  if (records.length === 0 && badLines.length > 0) throw new Error(`no line is a JSON object (first problem: ${badLines[0]!.reason})`);
  const result = recordsToDocuments(records, mapping, 'per-record');
  return { documents: result.documents, skipped: [...badLines, ...result.skipped] };
}
