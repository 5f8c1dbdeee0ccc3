/**
 * The soak's knobs, read from the environment so a quick run and the full 1,000 × 20 run use the
 * same code. Every count and time is bounded so a typo cannot start an endless run.
 */
import { z } from 'zod';

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const milliseconds = (fallback: number) => z.coerce.number().int().min(0).max(10_000).default(fallback);

const schema = z.object({
  SOAK_THREADS: count(150, 5_000),
  SOAK_TURNS: count(20, 100),
  /** Threads with a turn in flight at once (the rest wait their turn). */
  SOAK_CONCURRENCY: count(24, 1_000),
  /** Hard stop: no new turn starts after this; what completed is reported. */
  SOAK_DEADLINE_SECONDS: count(300, 1_800),
  /** Every Nth turn is delivered to both processes at once (dedupe must answer it once). */
  SOAK_DUPLICATE_EVERY: count(10, 1_000_000),
  /** Added to every fake CLOVA call (three per turn: reason, rerank, reason). */
  SOAK_MODEL_LATENCY_MS: milliseconds(40),
  /** Added to every Discord REST call the bots make. */
  SOAK_PLATFORM_LATENCY_MS: milliseconds(0),
  /** How long a turn may take before it counts as lost. */
  SOAK_TURN_TIMEOUT_SECONDS: count(60, 900),
});

export type SoakSettings = z.infer<typeof schema>;

/** The settings from `env`; a bad value stops the run with the variable named. */
export function readSoakSettings(env: NodeJS.ProcessEnv = process.env): SoakSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`bad soak setting: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

/**
 * Questions the bundled user guide can answer, in English and Korean. Each turn picks one by its
 * number and carries a tag (`[soak 12.3]`) so the fake model can attribute its calls to the turn.
 */
const QUESTIONS = [
  'How do I configure Redis for several replicas?',
  'Redis를 어떻게 설정하나요?',
  'What does summary compaction do when a thread gets long?',
  '슬라이딩 윈도 압축은 언제 쓰나요?',
  'Which files can I ingest into the knowledge base?',
  'The bot does not answer in a Slack thread, what should I check?',
  '요청 한도(rate limit)에 걸리면 어떻게 되나요?',
  'How do I connect Discord?',
  'How do citations work in answers?',
  '처음 실행하려면 무엇이 필요한가요?',
];

export function soakQuestion(thread: number, turn: number): string {
  return `[soak ${thread}.${turn}] ${QUESTIONS[(thread + turn) % QUESTIONS.length]}`;
}

/** The `{thread, turn}` a text was tagged with by `soakQuestion`. */
export function soakTagOf(text: string): string | undefined {
  return /\[soak (\d+\.\d+)\]/.exec(text)?.[1];
}
