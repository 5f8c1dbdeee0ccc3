/**
 * Splits each answered turn's time into stages from what the harness saw: the signed event going
 * out, the deferral coming back, the model calls (at the fake CLOVA), every edit of the reply (at
 * the proxy in front of the fake Discord) and the final edit. Model time is the union of the turn's
 * model-call intervals; everything else is the bot's own overhead.
 */
import { summarise } from '../support/redis-for-bench.js';
import type { TurnRecord } from './discord-driver.js';
import type { Interval } from './timed-clova.js';

const STAGES = {
  receiveAndAcknowledge: 'event sent → deferral back (signature check, dedupe claim in Redis)',
  statusEditsInTurn:
    'before and between model calls, waiting until the "Thinking…"/"Searching…"/"Writing…" edit was through (the turn awaits it; includes discord.js REST queueing)',
  engineWorkInTurn: 'the rest of the time before and between model calls (lock, load, persist the user message, compaction, local retrieval, tool results)',
  lastModelCallToFinalEdit: 'last model call → final edit at Discord (persist the answer, render, REST queue)',
} as const;

type StageName = keyof typeof STAGES;

export interface StageFigures {
  modelMs: number[];
  overheadMs: number[];
  stages: Record<StageName, { meaning: string } & ReturnType<typeof summarise>>;
  /** The stage with the largest median, with the model's own time left out. */
  slowestStage: { name: StageName; medianMs: number; meaning: string };
}

export function stageBreakdown(records: TurnRecord[]): StageFigures {
  const modelMs: number[] = [];
  const overheadMs: number[] = [];
  const samples: Record<StageName, number[]> = { receiveAndAcknowledge: [], statusEditsInTurn: [], engineWorkInTurn: [], lastModelCallToFinalEdit: [] };
  for (const record of records) {
    if (record.finalAnswers === 0 || record.finalAt === undefined || record.acknowledgedAt === undefined || record.modelCalls.length === 0) continue;
    const calls = [...record.modelCalls].sort((left, right) => left[0] - right[0]);
    const model = unionLength(calls);
    const lastEnd = Math.max(...calls.map((call) => call[1]));
    // Stretches of the turn outside the model: from the deferral to the first call, then each gap between calls.
    const stretches: Interval[] = [];
    let cursor = record.acknowledgedAt;
    for (const [start, end] of calls) {
      if (start > cursor) stretches.push([cursor, start]);
      cursor = Math.max(cursor, end);
    }
    let statusEdits = 0;
    let engineWork = 0;
    for (const [from, to] of stretches) {
      // The status edit of a stretch is awaited before the work that follows it.
      const editDone = Math.max(from, ...record.edits.filter(([arrived]) => arrived >= from && arrived <= to).map(([, finished]) => Math.min(finished, to)));
      statusEdits += editDone - from;
      engineWork += to - editDone;
    }
    modelMs.push(model);
    overheadMs.push(record.finalAt - record.sentAt - model);
    samples.receiveAndAcknowledge.push(record.acknowledgedAt - record.sentAt);
    samples.statusEditsInTurn.push(statusEdits);
    samples.engineWorkInTurn.push(engineWork);
    samples.lastModelCallToFinalEdit.push(record.finalAt - lastEnd);
  }
  const names = Object.keys(STAGES) as StageName[];
  const stages = Object.fromEntries(names.map((name) => [name, { meaning: STAGES[name], ...summarise(samples[name]) }])) as StageFigures['stages'];
  const slowest = names.reduce((best, name) => (stages[name].median > stages[best].median ? name : best));
  return { modelMs, overheadMs, stages, slowestStage: { name: slowest, medianMs: stages[slowest].median, meaning: STAGES[slowest] } };
}

/** Total length covered by `intervals` (sorted by start), overlaps counted once. */
function unionLength(intervals: Interval[]): number {
  let total = 0;
  let [currentStart, currentEnd] = intervals[0] ?? [0, 0];
  for (const [start, end] of intervals.slice(1)) {
    if (start > currentEnd) {
      total += currentEnd - currentStart;
      currentStart = start;
      currentEnd = end;
    } else {
      currentEnd = Math.max(currentEnd, end);
    }
  }
  return total + (currentEnd - currentStart);
}
