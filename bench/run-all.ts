/**
 * `npm run bench`: runs every benchmark in its own process (so one cannot warm or starve another),
 * one after the other, and writes each one's JSON figures to bench/results/<name>.json plus a
 * combined bench/results/all.json. A benchmark that fails is reported and the others still run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const BENCHMARKS = [
  'engine-overhead',
  'provider-client',
  'compaction',
  'slack-latency',
  'discord-latency',
  'soak',
  'eval-retrieval',
];

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });

interface Outcome {
  name: string;
  seconds: number;
  ok: boolean;
  figures?: unknown;
  error?: string;
}

function run(name: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', (code) => {
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      let figures: unknown;
      try {
        figures = JSON.parse(stdout.slice(stdout.indexOf('{')));
      } catch (error) {
        const why = code === 0 ? `printed no JSON: ${String(error)}` : `exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`;
        resolve({ name, seconds, ok: false, error: why });
        return;
      }
      // A benchmark that measured but found a problem (the soak's verdict) keeps its figures: they show what went wrong.
      writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
      resolve({ name, seconds, ok: code === 0, figures, ...(code === 0 ? {} : { error: `exited with ${code} after printing its figures (see its verdict)` }) });
    });
  });
}

const only = process.argv.slice(2);
const outcomes: Outcome[] = [];
for (const name of BENCHMARKS.filter((candidate) => only.length === 0 || only.includes(candidate))) {
  process.stderr.write(`bench: ${name}…\n`);
  const outcome = await run(name);
  process.stderr.write(`bench: ${name} ${outcome.ok ? 'done' : 'FAILED'} in ${outcome.seconds} s${outcome.error ? ` (${outcome.error})` : ''}\n`);
  outcomes.push(outcome);
}
const combined = Object.fromEntries(
  outcomes.map((outcome) => [outcome.name, outcome.ok ? outcome.figures : outcome.figures ? { error: outcome.error, figures: outcome.figures } : { error: outcome.error }]),
);
writeFileSync(join(resultsDir, 'all.json'), `${JSON.stringify(combined, null, 2)}\n`);
console.log(JSON.stringify(combined, null, 2));
process.exitCode = outcomes.every((outcome) => outcome.ok) ? 0 : 1;
