import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config.js';

/**
 * Loads `.env` (when present; real environment variables win) and the configuration. On any
 * problem prints the readable list and exits with status 2 — never a stack trace.
 */
export function loadConfigOrExit(envFile = '.env'): Config {
  if (existsSync(envFile)) {
    try {
      process.loadEnvFile(envFile);
    } catch (error) {
      process.stderr.write(`Could not read ${envFile}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    }
  }
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nFix these environment variables (see the configuration table in README.md) and start again.\n`);
      process.exit(2);
    }
    throw error;
  }
}
