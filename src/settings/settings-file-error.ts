import { BotError } from '../errors.js';

/** One thing wrong with a settings file: where, what, and a line that would be right. */
export interface SettingsProblem {
  /** Dotted path inside the file (`workspaces.T0123ABCD.channels.C042.mentionOnly`), or `(file)` for the file as a whole. */
  path: string;
  /** 1-based line and column in the file, when the problem points at a spot in it. */
  line?: number;
  column?: number;
  problem: string;
  /** A correct line to copy, in the file's own syntax family (YAML; JSON files accept the same keys). */
  example: string;
}

/**
 * A settings file that cannot be used. At startup it stops the process; on a reload it is logged and the
 * last good settings stay in force.
 */
export class SettingsFileError extends BotError {
  constructor(
    readonly file: string,
    readonly problems: readonly SettingsProblem[],
    cause?: unknown,
  ) {
    super({ code: 'settings_invalid', message: formatSettingsProblems(file, problems), cause });
  }
}

/** Renders problems one per line, `file:line:column path: problem (for example: …)`, for logs and startup errors. */
export function formatSettingsProblems(file: string, problems: readonly SettingsProblem[]): string {
  const lines = problems.map((problem) => {
    const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
    return `  - ${where} ${problem.path}: ${problem.problem} (for example: ${problem.example})`;
  });
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return [`The settings file ${file} has ${count}:`, ...lines].join('\n');
}
