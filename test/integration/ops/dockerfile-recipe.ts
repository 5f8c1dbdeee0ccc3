import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';

/**
 * Replays a Dockerfile without a Docker engine, for the subset of instructions our Dockerfile uses:
 * each stage gets its own folder as its file system, COPY copies from the build context or an earlier
 * stage, RUN runs in the stage's WORKDIR with its ENV. What the final stage did not copy in does not
 * exist for the start command, exactly as in the image. Anything outside the subset is an error, so
 * the replay can never silently skip a step the real build would run.
 */

export interface Stage {
  name: string;
  /** The folder standing in for the stage's `/`. */
  root: string;
  image: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  exposedPorts: string[];
  /** Exec-form command of HEALTHCHECK CMD, with its options (`--interval=30s` …). */
  healthcheck?: { options: string[]; command: string[] };
  command?: string[];
}

export interface ReplayOptions {
  dockerfile: string;
  /** The build context, already filtered by .dockerignore. */
  context: string;
  /** Where stage folders are created. */
  workspace: string;
  /** Environment every RUN starts from (the image's own ENV is added on top). */
  baseEnv: Record<string, string>;
  /** Called with each RUN command before it runs, for the test log. */
  onRun?: (stage: string, command: string) => void;
}

const EXPANDED = new Set(['FROM', 'ARG', 'ENV', 'WORKDIR', 'COPY', 'USER', 'EXPOSE', 'LABEL']);

interface Instruction {
  keyword: string;
  argument: string;
  line: number;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), argument: match[2]!, line: startLine });
  });
  return instructions;
}

/** Runs the whole Dockerfile; resolves with every stage, the last one being the image. */
export async function replayDockerfile(options: ReplayOptions): Promise<Stage[]> {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const current = (instruction: Instruction): Stage => {
    if (!stage) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before FROM`);
    return stage;
  };

  for (const instruction of parseDockerfile(readFileSync(options.dockerfile, 'utf8'))) {
    // Like Docker: variables are expanded in these instructions only; RUN and CMD leave `$` to the shell.
    const argument = EXPANDED.has(instruction.keyword) ? substitute(instruction.argument, { ...args, ...stage?.env }) : instruction.argument;
    switch (instruction.keyword) {
      case 'ARG': {
        const [name, value] = splitAssignment(argument);
        if (!(name in args) && value !== undefined) args[name] = value;
        break;
      }
      case 'FROM': {
        const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argument);
        if (!match) throw new Error(`Dockerfile line ${instruction.line}: cannot read FROM ${argument}`);
        const name = match[2] ?? String(stages.length);
        stage = { name, root: join(options.workspace, `stage-${stages.length}-${name}`), image: match[1]!, workdir: '/', env: {}, exposedPorts: [] };
        mkdirSync(stage.root, { recursive: true });
        stages.push(stage);
        break;
      }
      case 'WORKDIR': {
        const target = current(instruction);
        target.workdir = posix.resolve(target.workdir, argument);
        mkdirSync(hostPath(target, target.workdir), { recursive: true });
        break;
      }
      case 'ENV':
        for (const assignment of argument.split(/\s+(?=[A-Za-z_][A-Za-z0-9_]*=)/)) {
          const [name, value] = splitAssignment(assignment);
          current(instruction).env[name] = unquote(value ?? '');
        }
        break;
      case 'COPY':
        copy(current(instruction), argument, stages, options.context, instruction.line);
        break;
      case 'RUN': {
        const target = current(instruction);
        const command = stripFlags(argument, ['--mount']).rest;
        if (command.startsWith('[')) throw new Error(`Dockerfile line ${instruction.line}: exec-form RUN is not replayed; use the shell form`);
        options.onRun?.(target.name, command);
        await run(command, hostPath(target, target.workdir), { ...options.baseEnv, ...target.env }, instruction.line);
        break;
      }
      case 'USER':
        current(instruction).user = argument;
        break;
      case 'EXPOSE':
        current(instruction).exposedPorts.push(...argument.split(/\s+/));
        break;
      case 'HEALTHCHECK': {
        const { flags, rest } = stripFlags(argument, ['--interval', '--timeout', '--start-period', '--start-interval', '--retries']);
        if (!rest.startsWith('CMD ')) throw new Error(`Dockerfile line ${instruction.line}: HEALTHCHECK must be CMD in exec form`);
        current(instruction).healthcheck = { options: flags, command: execForm(rest.slice(4), instruction.line) };
        break;
      }
      case 'CMD':
        current(instruction).command = execForm(argument, instruction.line);
        break;
      case 'LABEL':
        break;
      default:
        throw new Error(`Dockerfile line ${instruction.line}: the replay does not know ${instruction.keyword}; teach test/integration/ops/dockerfile-recipe.ts before using it`);
    }
  }
  if (stages.length === 0) throw new Error('the Dockerfile has no FROM');
  return stages;
}

/** Where a path inside a stage lives on the host. */
export function hostPath(stage: Stage, containerPath: string): string {
  return join(stage.root, posix.resolve(stage.workdir, containerPath));
}

function copy(target: Stage, argument: string, stages: Stage[], context: string, line: number): void {
  const { flags, rest } = stripFlags(argument, ['--from', '--chown', '--chmod', '--link']);
  const words = rest.split(/\s+/);
  if (rest.startsWith('[') || words.length < 2) throw new Error(`Dockerfile line ${line}: COPY needs the shell form \`COPY <source>… <destination>\``);
  const destination = words.pop()!;
  const sourceStage = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  const source = sourceStage === undefined ? undefined : stages.find((candidate) => candidate.name === sourceStage);
  if (sourceStage !== undefined && !source) throw new Error(`Dockerfile line ${line}: COPY --from=${sourceStage} names no earlier stage`);
  const intoFolder = destination.endsWith('/') || words.length > 1;
  for (const word of words) {
    if (/[*?[]/.test(word)) throw new Error(`Dockerfile line ${line}: COPY wildcards are not replayed; name the paths`);
    const from = source ? hostPath(source, word) : join(context, posix.normalize(word));
    let isFolder: boolean;
    try {
      isFolder = statSync(from).isDirectory();
    } catch {
      throw new Error(`Dockerfile line ${line}: COPY source ${word} does not exist ${source ? `in stage ${source.name}` : 'in the build context (tracked files minus .dockerignore)'}`);
    }
    const to = hostPath(target, destination);
    // Docker copies a folder's contents (not the folder) and puts a file inside a destination folder.
    cpSync(from, isFolder || !intoFolder ? to : join(to, basename(from)), { recursive: true, verbatimSymlinks: true });
  }
}

function run(command: string, cwd: string, env: Record<string, string>, line: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`Dockerfile line ${line}: RUN ${command} exited with ${code}\n${output}`));
    });
  });
}

function stripFlags(argument: string, known: string[]): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let rest = argument.trim();
  for (let match = /^(--[a-z-]+)(=\S+)?\s+/.exec(rest); match; match = /^(--[a-z-]+)(=\S+)?\s+/.exec(rest)) {
    if (!known.includes(match[1]!)) throw new Error(`unknown flag ${match[1]} in "${argument}"`);
    flags.push(match[0].trim());
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

function execForm(text: string, line: number): string[] {
  const parsed: unknown = JSON.parse(text.trim());
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`Dockerfile line ${line}: expected the exec form ["program", "argument", …]`);
  }
  return parsed;
}

function splitAssignment(text: string): [string, string | undefined] {
  const at = text.indexOf('=');
  return at < 0 ? [text.trim(), undefined] : [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

function substitute(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    return variables[name] ?? whole;
  });
}
