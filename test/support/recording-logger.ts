import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';

/** Every log line a test's logger wrote, kept in memory. */
export interface RecordedLogs {
  logger: Logger;
  /** The raw JSON lines, in order (what an operator's log shipper would receive). */
  lines: string[];
  /** The lines parsed. */
  entries(): Array<Record<string, unknown> & { level?: number; msg?: string }>;
  /** Everything written, as one string (for "never contains" checks). */
  text(): string;
}

/**
 * The real process logger writing into memory. `secrets` are scrubbed as in production; leave them
 * out to see exactly what the code tried to log.
 */
export function recordingLogger(options: { level?: string; secrets?: readonly string[] } = {}): RecordedLogs {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: options.level ?? 'debug', destination, ...(options.secrets ? { secrets: options.secrets } : {}) });
  return {
    logger,
    lines,
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => lines.join('\n'),
  };
}
