import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { currentTurnContext } from './turn-context.js';

const requireFromHere = createRequire(import.meta.url);

export type { Logger } from 'pino';

export interface LoggerSettings {
  level: string;
  /** Secret values (tokens, keys) that must never reach a log line, whatever field they hide in. */
  secrets?: readonly string[];
  /** Human-readable output (a terminal); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; standard error by default so piped console answers stay clean on stdout. */
  destination?: NodeJS.WritableStream;
}

/** Field paths that carry credentials in the objects we log (HTTP headers, configs, errors). */
const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["x-ncp-clovastudio-api-key"]',
  'headers["x-ncp-apigw-api-key"]',
  'headers["x-slack-signature"]',
  '*.authorization',
  '*.apiKey',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  'config.*.apiKey',
  'config.*.token',
];

const MIN_SECRET_LENGTH = 6;

/** Replaces every occurrence of each secret in `text`; short values are ignored (they would mask ordinary words). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    scrubbed = scrubbed.split(secret).join('[redacted]');
    // Secrets can also appear JSON-escaped inside a serialised line.
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) scrubbed = scrubbed.split(escaped).join('[redacted]');
  }
  return scrubbed;
}

/**
 * The process logger: pino with credential paths redacted and, as a last line of defence, every
 * configured secret value scrubbed from each serialised line before it is written.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const secrets = (settings.secrets ?? []).filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  const options: LoggerOptions = {
    level: settings.level,
    base: undefined,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Correlation: every line written during a turn names its event and thread, even from provider code.
    mixin: () => {
      const turn = currentTurnContext();
      return turn ? { turn: turn.eventId, threadKey: turn.threadKey } : {};
    },
    hooks: secrets.length > 0 ? { streamWrite: (line) => scrubSecrets(line, secrets) } : {},
  };
  const destination = settings.destination ?? process.stderr;
  if (settings.pretty) {
    // pino-pretty as a synchronous stream (not a worker transport) keeps the streamWrite hook in front of it.
    return pino(options, createPrettyStream(destination));
  }
  return pino(options, destination as pino.DestinationStream);
}

function createPrettyStream(destination: NodeJS.WritableStream): pino.DestinationStream {
  // Loaded on demand: pino-pretty is only needed when a person is watching a terminal.
  const pretty = requireFromHere('pino-pretty') as (options: Record<string, unknown>) => pino.DestinationStream;
  return pretty({ destination, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
}

/** A logger that drops everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
