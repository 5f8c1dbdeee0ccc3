import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../src/observability/logger.js';

/**
 * Bolt (and the WebClient and Socket Mode client under it) log through this bridge into our pino
 * logger, so their lines get the same secret scrubbing and format as ours.
 */
export function boltLogger(logger: Logger): BoltLogger {
  let child = logger.child({ component: 'slack-bolt' });
  const write = (level: 'debug' | 'info' | 'warn' | 'error', parts: unknown[]) => {
    const errors = parts.filter((part): part is Error => part instanceof Error);
    const text = parts
      .filter((part) => !(part instanceof Error))
      .map((part) => (typeof part === 'string' ? part : safeJson(part)))
      .join(' ');
    if (errors[0]) child[level]({ err: errors[0] }, text || errors[0].message);
    else child[level](text);
  };
  return {
    debug: (...parts: unknown[]) => write('debug', parts),
    info: (...parts: unknown[]) => write('info', parts),
    warn: (...parts: unknown[]) => write('warn', parts),
    error: (...parts: unknown[]) => write('error', parts),
    // The level is the process logger's to decide; Bolt asking to change it is ignored.
    setLevel: () => {},
    getLevel: () => boltLevelOf(child.level),
    setName: (name: string) => {
      child = logger.child({ component: name });
    },
  };
}

function boltLevelOf(level: string): LogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return LogLevel.DEBUG;
    case 'info':
      return LogLevel.INFO;
    case 'warn':
      return LogLevel.WARN;
    default:
      return LogLevel.ERROR;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
