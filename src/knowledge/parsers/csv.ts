import { parse } from 'csv-parse/sync';
import { recordsToDocuments, type ColumnMapping, type RecordsResult } from './records.js';

/** Reads a CSV file with a header row (quoted fields, embedded newlines and a BOM are fine). */
export function parseCsv(content: string, mapping: ColumnMapping): RecordsResult {
  const records = parse(content, { columns: true, bom: true, skip_empty_lines: true, relax_column_count: true }) as Record<string, string>[];
  const header = parse(content, { bom: true, to_line: 1 }) as string[][];
  return recordsToDocuments(records, mapping, header[0] ?? []);
}
