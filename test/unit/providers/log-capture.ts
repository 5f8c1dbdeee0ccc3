import type { Logger } from '../../../src/observability/logger.js';
import { recordingLogger } from '../../support/recording-logger.js';

/** A debug-level logger whose lines are kept in memory; no secrets configured, so nothing is scrubbed for us. */
export function captureLogger(): { logger: Logger; output: () => string } {
  const { logger, text } = recordingLogger();
  return { logger, output: text };
}
