/**
 * `npm run ingest -- <files or folders…>`: builds or updates the knowledge index file that the bot
 * loads at startup (KNOWLEDGE_INDEX_FILE). Re-running with unchanged files does nothing; changed
 * files replace their old chunks; bad files are listed at the end and make the exit code 1. With the
 * bot's embedding model configured (or `--embeddings`), chunks get vectors for hybrid retrieval.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createEmbeddingBackend, embeddingSetupHint, type EmbeddingBackend } from '../composition/embedding-backend.js';
import { loadConfigOrExit } from '../config/load-or-exit.js';
import { createLogger } from '../observability/logger.js';
import { DEFAULT_CHUNKING } from './chunker.js';
import { ingestCommand } from './ingest-command.js';
import { ingestFiles, type IngestProgress, type IngestReport } from './ingest.js';

const USAGE = `Usage: ${ingestCommand(['[options]', '<file or folder>...'])}

Reads Markdown (.md), CSV (.csv), JSON Lines (.jsonl) and text (.txt) files into the knowledge index.

Options:
  --index <file>          index file to create or update (default: $KNOWLEDGE_INDEX_FILE or ./data/knowledge-index.json)
  --embeddings            give every chunk an embedding vector for hybrid retrieval, with the model the bot
                          is configured for (CLOVA_USE_EMBEDDINGS=true, or OPENAI_EMBEDDING_MODEL); on by
                          default when one is configured. Without paths, only fills in missing vectors.
  --no-embeddings         call no embedding model in this run (vectors already in the index are kept)
  --id-column <name>      CSV/JSONL column with a stable document id (default: id, else the row number)
  --title-column <name>   column with the document title (default: title or question)
  --text-column <name>    column with the document text (default: text, content or answer)
  --url-column <name>     column with a link to the document (default: url or link)
  --chunk-tokens <n>      largest chunk, in estimated tokens (default: ${DEFAULT_CHUNKING.maxTokens})
  --overlap-tokens <n>    tokens repeated between consecutive chunks (default: ${DEFAULT_CHUNKING.overlapTokens})
  --prune                 remove files from the index that are not among the given paths
  --rebuild               write a new index instead of updating the file (for a corrupt one); vectors of a
                          readable old file are still reused
  -h, --help              show this help

Vectors are reused for every chunk whose text did not change, and progress is saved while embedding:
an interrupted or rate-limited run continues where it stopped when run again.`;

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
      allowNegative: true,
      options: {
        index: { type: 'string' },
        embeddings: { type: 'boolean' },
        'id-column': { type: 'string' },
        'title-column': { type: 'string' },
        'text-column': { type: 'string' },
        'url-column': { type: 'string' },
        'chunk-tokens': { type: 'string' },
        'overlap-tokens': { type: 'string' },
        prune: { type: 'boolean', default: false },
        rebuild: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || (positionals.length === 0 && values.embeddings !== true)) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.prune && positionals.length === 0) {
    process.stderr.write('--prune needs the files or folders to keep; without them it would empty the index\n');
    return 2;
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

  // The bot's own configuration (and .env) decides the embedding model, so the index matches what the bot will query with.
  let embedding: EmbeddingBackend | undefined;
  if (values.embeddings !== false) {
    const config = loadConfigOrExit();
    const logger = createLogger({ level: config.LOG_LEVEL ?? 'error', secrets: config.secrets, pretty: Boolean(process.stderr.isTTY) });
    embedding = createEmbeddingBackend(config, { logger });
    if (values.embeddings === true && !embedding) {
      process.stderr.write(`--embeddings needs an embedding model: ${embeddingSetupHint(config)}\n`);
      return 2;
    }
  }
  const indexFile = values.index ?? (process.env.KNOWLEDGE_INDEX_FILE?.trim() || './data/knowledge-index.json');
  const columns = {
    ...(values['id-column'] ? { id: values['id-column'] } : {}),
    ...(values['title-column'] ? { title: values['title-column'] } : {}),
    ...(values['text-column'] ? { text: values['text-column'] } : {}),
    ...(values['url-column'] ? { url: values['url-column'] } : {}),
  };

  const interrupted = new AbortController();
  // The first Ctrl-C stops after saving what is done; a second one ends the process at once.
  process.once('SIGINT', () => interrupted.abort(new Error('interrupted')));
  const progress = createProgressReporter(Boolean(process.stderr.isTTY));
  if (embedding) process.stderr.write(`embedding model: ${embedding.name}\n`);
  try {
    const report = await ingestFiles({
      paths: positionals,
      indexFile,
      columns,
      chunking,
      prune: values.prune,
      rebuild: values.rebuild,
      ...(embedding ? { embedding } : {}),
      signal: interrupted.signal,
      onProgress: progress.update,
    });
    progress.stop();
    process.stdout.write(summarise(report, indexFile, embedding !== undefined));
    return report.failures.length > 0 || report.embeddingError ? 1 : 0;
  } catch (error) {
    progress.stop();
    if (!interrupted.signal.aborted) throw error;
    process.stderr.write(`\nInterrupted. What was done is saved in ${indexFile}; run the same command again to continue.\n`);
    return 130;
  } finally {
    await embedding?.close();
  }
}

/** A progress bar with counts and ETA on a terminal; plain lines otherwise (CI logs, pipes). */
function createProgressReporter(interactive: boolean): { update: (event: IngestProgress) => void; stop: () => void } {
  if (!interactive) {
    let lastReported = 0;
    return {
      update(event) {
        if (event.type === 'files-found') process.stderr.write(`found ${event.total} file(s)\n`);
        if (event.type === 'file-finished') process.stderr.write(`${event.outcome.padEnd(9)} ${event.path}${event.reason ? `: ${event.reason}` : ` (${event.chunks} chunks)`}\n`);
        if (event.type === 'embedding-started') process.stderr.write(`embedding ${event.total} chunk(s) with ${event.model} (${event.reused} vector(s) reused)\n`);
        if (event.type === 'embedding-waiting') process.stderr.write(`the embedding provider asked to slow down; waiting ${Math.ceil(event.delayMs / 1000)} s\n`);
        if (event.type === 'embedding-progress' && (event.done === event.total || event.done - lastReported >= 100)) {
          lastReported = event.done;
          process.stderr.write(`embedded ${event.done}/${event.total} chunks\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {value}/{total} {unit} | ETA {eta_formatted} | {detail}', hideCursor: true, clearOnComplete: false, stream: process.stderr, etaBuffer: 50 },
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
      } else if (event.type === 'embedding-started') {
        if (started) bar.stop();
        bar.start(event.total, 0, { unit: 'chunks embedded', detail: `${event.model}, ${event.reused} reused` });
        started = true;
      } else if (event.type === 'embedding-progress') {
        bar.update(event.done);
      } else if (event.type === 'embedding-waiting') {
        bar.update({ detail: `rate-limited; waiting ${Math.ceil(event.delayMs / 1000)} s` });
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function summarise(report: IngestReport, indexFile: string, embeddingOn: boolean): string {
  const lines = [
    `${report.written ? 'Updated' : 'No changes to'} ${indexFile}: ${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged, ${report.removed} removed, ${report.failures.length} failed; ${report.chunkCount} chunks in total.`,
  ];
  if (report.embeddingModel) {
    lines.push(`Vectors (${report.embeddingModel}): ${report.embedded} embedded, ${report.reusedVectors} reused, ${report.chunkCount - report.missingVectors} of ${report.chunkCount} chunks have one.`);
  }
  if (report.embeddingError) {
    lines.push(`Embedding stopped: ${report.embeddingError.message}. The vectors made so far are saved; run the same command again to continue.`);
  } else if (report.missingVectors > 0 && (report.embeddingModel || embeddingOn)) {
    lines.push(`${report.missingVectors} chunk(s) have no vector, so the bot searches this index lexically; add them with: ${ingestCommand(['--embeddings', '--index', indexFile])}`);
  }
  if (report.skippedRows.length > 0) {
    lines.push(`${report.skippedRows.length} row(s) skipped:`);
    for (const row of report.skippedRows.slice(0, 20)) lines.push(`  ${row.path} row ${row.row}: ${row.reason}`);
    if (report.skippedRows.length > 20) lines.push(`  … and ${report.skippedRows.length - 20} more`);
  }
  if (report.failures.length > 0) {
    lines.push('Files that could not be ingested:');
    for (const failure of report.failures) lines.push(`  ${failure.path}: ${failure.reason}`);
  }
  const configured = process.env.KNOWLEDGE_INDEX_FILE?.trim();
  if (report.chunkCount > 0 && (!configured || resolve(configured) !== resolve(indexFile))) {
    lines.push(`The bot loads this index when started with KNOWLEDGE_INDEX_FILE=${indexFile}`);
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
