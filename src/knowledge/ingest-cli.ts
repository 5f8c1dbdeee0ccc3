/**
 * `npm run ingest -- <files or folders…>`: builds or updates the knowledge index file that the bot
 * loads at startup (KNOWLEDGE_INDEX_FILE). Re-running with unchanged files does nothing; changed
 * files replace their old chunks; bad files are listed at the end and make the exit code 1.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_CHUNKING } from './chunker.js';
import { ingestFiles, type IngestProgress, type IngestReport } from './ingest.js';

const USAGE = `Usage: npm run ingest -- [options] <file or folder>...

Reads Markdown (.md), CSV (.csv), JSON Lines (.jsonl) and text (.txt) files into the knowledge index.

Options:
  --index <file>          index file to create or update (default: $KNOWLEDGE_INDEX_FILE or ./data/knowledge-index.json)
  --id-column <name>      CSV/JSONL column with a stable document id (default: id, else the row number)
  --title-column <name>   column with the document title (default: title or question)
  --text-column <name>    column with the document text (default: text, content or answer)
  --url-column <name>     column with a link to the document (default: url or link)
  --chunk-tokens <n>      largest chunk, in estimated tokens (default: ${DEFAULT_CHUNKING.maxTokens})
  --overlap-tokens <n>    tokens repeated between consecutive chunks (default: ${DEFAULT_CHUNKING.overlapTokens})
  --prune                 remove files from the index that are not among the given paths
  -h, --help              show this help`;

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return parsed;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        index: { type: 'string' },
        'id-column': { type: 'string' },
        'title-column': { type: 'string' },
        'text-column': { type: 'string' },
        'url-column': { type: 'string' },
        'chunk-tokens': { type: 'string' },
        'overlap-tokens': { type: 'string' },
        prune: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  let chunking;
  try {
    chunking = {
      maxTokens: positiveInteger('chunk-tokens', values['chunk-tokens'], DEFAULT_CHUNKING.maxTokens),
      overlapTokens: positiveInteger('overlap-tokens', values['overlap-tokens'], DEFAULT_CHUNKING.overlapTokens),
    };
    if (chunking.maxTokens < 32) throw new Error('--chunk-tokens must be at least 32');
    if (chunking.overlapTokens >= chunking.maxTokens) throw new Error('--overlap-tokens must be smaller than --chunk-tokens');
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const indexFile = values.index ?? (process.env.KNOWLEDGE_INDEX_FILE?.trim() || './data/knowledge-index.json');
  const columns = {
    ...(values['id-column'] ? { id: values['id-column'] } : {}),
    ...(values['title-column'] ? { title: values['title-column'] } : {}),
    ...(values['text-column'] ? { text: values['text-column'] } : {}),
    ...(values['url-column'] ? { url: values['url-column'] } : {}),
  };

  const progress = createProgressReporter(Boolean(process.stderr.isTTY));
  const report = await ingestFiles({ paths: positionals, indexFile, columns, chunking, prune: values.prune, onProgress: progress.update });
  progress.stop();
  process.stdout.write(summarise(report, indexFile));
  return report.failures.length > 0 ? 1 : 0;
}

/** A progress bar with counts and ETA on a terminal; one plain line per file otherwise (CI logs, pipes). */
function createProgressReporter(interactive: boolean): { update: (event: IngestProgress) => void; stop: () => void } {
  if (!interactive) {
    return {
      update(event) {
        if (event.type === 'files-found') process.stderr.write(`found ${event.total} file(s)\n`);
        if (event.type === 'file-finished') process.stderr.write(`${event.outcome.padEnd(9)} ${event.path}${event.reason ? `: ${event.reason}` : ` (${event.chunks} chunks)`}\n`);
        if (event.type === 'embedding-progress' && (event.done === event.total || event.done % 100 === 0)) process.stderr.write(`embedded ${event.done}/${event.total} chunks\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {value}/{total} {unit} | ETA {eta_formatted} | {detail}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(event) {
      if (event.type === 'files-found') {
        bar.start(event.total, 0, { unit: 'files', detail: '' });
        started = true;
      } else if (event.type === 'file-finished') {
        // Failures are printed above the bar as they happen, so the reason is not lost when the bar redraws.
        if (event.outcome === 'failed') process.stderr.write(`\nfailed    ${event.path}: ${event.reason ?? 'unknown reason'}\n`);
        if (started) bar.increment(1, { detail: `${event.outcome} ${event.path}` });
      } else if (event.type === 'embedding-progress') {
        if (event.done <= 16 || !started) {
          bar.stop();
          bar.start(event.total, event.done, { unit: 'chunks embedded', detail: '' });
          started = true;
        } else {
          bar.update(event.done);
        }
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function summarise(report: IngestReport, indexFile: string): string {
  const lines = [
    `${report.written ? 'Updated' : 'No changes to'} ${indexFile}: ${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged, ${report.removed} removed, ${report.failures.length} failed; ${report.chunkCount} chunks in total.`,
  ];
  if (report.skippedRows.length > 0) {
    lines.push(`${report.skippedRows.length} row(s) skipped:`);
    for (const row of report.skippedRows.slice(0, 20)) lines.push(`  ${row.path} row ${row.row}: ${row.reason}`);
    if (report.skippedRows.length > 20) lines.push(`  … and ${report.skippedRows.length - 20} more`);
  }
  if (report.failures.length > 0) {
    lines.push('Files that could not be ingested:');
    for (const failure of report.failures) lines.push(`  ${failure.path}: ${failure.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`Ingestion failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
