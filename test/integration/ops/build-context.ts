import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Builds what `docker build .` would send from a fresh clone: the tracked files (`git ls-files`) minus
 * what .dockerignore excludes, copied into `destination`. Reads the repository, never writes to it.
 */
export function createBuildContext(repository: string, destination: string): string[] {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repository, encoding: 'utf8' }).split('\0').filter(Boolean);
  const ignoreFile = join(repository, '.dockerignore');
  const rules = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  const copied: string[] = [];
  for (const path of tracked) {
    const from = join(repository, path);
    // A tracked file deleted in the working tree is not in a fresh clone's next commit either.
    if (!existsSync(from) || lstatSync(from).isDirectory() || isIgnored(path, rules)) continue;
    mkdirSync(dirname(join(destination, path)), { recursive: true });
    cpSync(from, join(destination, path), { verbatimSymlinks: true });
    copied.push(path);
  }
  return copied;
}

interface IgnoreRule {
  pattern: RegExp;
  exclude: boolean;
}

/** .dockerignore lines as rules: `#` comments, `!` re-includes, `*`, `?` and `**` as Docker reads them. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const pattern = (exclude ? line : line.slice(1)).replace(/^\.?\//, '').replace(/\/+$/, '');
      return { pattern: globToRegExp(pattern), exclude };
    });
}

/** The last matching rule wins; a rule that matches a folder covers everything inside it. */
export function isIgnored(path: string, rules: readonly IgnoreRule[]): boolean {
  const segments = path.split('/');
  const prefixes = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.pattern.test(prefix))) ignored = rule.exclude;
  }
  return ignored;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index += 1) {
    const character = glob[index]!;
    if (character === '*' && glob[index + 1] === '*') {
      source += '.*';
      index += glob[index + 2] === '/' ? 2 : 1;
    } else if (character === '*') source += '[^/]*';
    else if (character === '?') source += '[^/]';
    else source += character.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
