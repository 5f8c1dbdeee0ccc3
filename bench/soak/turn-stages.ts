/**
 * Splits each answered turn's time into stages from what the harness saw: the signed event going
 * out, the acknowledgement coming back, the model calls (at the fake CLOVA), every update of the reply
 * reaching the fake platform, and the final answer. Model time is the union of the turn's
 * model-call intervals; everything else is the bot's own overhead.
 */
import { summarise } from '../support/redis-for-bench.js';
import type { TurnRecord } from './turn-record.js';
import type { Interval } from './timed-clova.js';

const STAGES = {
  receiveAndAcknowledge:
    'event sent → acknowledgement back (Discord: the deferral, after the signature check and the dedupe claim in Redis; Slack: HTTP 200 after the signature check, before any work)',
  statusEditsInTurn:
    'before and between model calls, waiting until the "Thinking…"/"Searching…"/"Writing…" update was through (the turn awaits it; Discord: an edit of the reply through discord.js\'s REST queue; Slack: assistant.threads.setStatus)',
  engineWorkInTurn: 'the rest of the time before and between model calls (lock, load, persist the user message, compaction, local retrieval, tool results)',
  lastModelCallToFinalEdit: 'last model call → the final answer at the platform (persist the answer, render, post or edit)',
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
