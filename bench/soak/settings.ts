/**
 * The soak's knobs, read from the environment so a quick run and the full 1,000 × 20 run use the
 * same code. Every count and time is bounded so a typo cannot start an endless run.
 */
import { z } from 'zod';

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const milliseconds = (fallback: number) => z.coerce.number().int().min(0).max(10_000).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['0', '1', 'true', 'false'])
    .default(fallback ? '1' : '0')
    .transform((value) => value === '1' || value === 'true');

const schema = z.object({
  /** Which platform the threads talk on; `both` gives every other thread to Slack. */
  SOAK_PLATFORM: z.enum(['slack', 'discord', 'both']).default('both'),
  SOAK_THREADS: count(150, 5_000),
  SOAK_TURNS: count(20, 100),
  /** Threads with a turn in flight at once (the rest wait their turn). */
  SOAK_CONCURRENCY: count(24, 1_000),
  /** Hard stop: no new turn starts after this; what completed is reported. */
  SOAK_DEADLINE_SECONDS: count(300, 1_800),
  /**
   * Every Nth turn is delivered twice, to both processes (dedupe must answer it once): Discord gets the
   * same interaction at once; Slack alternately gets the `message` twin of the mention at once, or the
   * same envelope again with `X-Slack-Retry-Num` once the first was acknowledged, as Slack retries.
   */
  SOAK_DUPLICATE_EVERY: count(10, 1_000_000),
  /**
   * Run the soak on a Redis of its own with append-only persistence, and restart it (SIGTERM, wait
   * SOAK_REDIS_DOWN_SECONDS, start again on the same port and data) once half the planned turns were sent.
   */
  SOAK_REDIS_RESTART: flag(true),
  SOAK_REDIS_DOWN_SECONDS: count(3, 120),
  /** Added to every fake CLOVA call (three per turn: reason, rerank, reason). */
  SOAK_MODEL_LATENCY_MS: milliseconds(40),
  /** Added to every Discord REST call the bots make. */
  SOAK_PLATFORM_LATENCY_MS: milliseconds(0),
  /** When set, every event's record is written there as JSON lines, for reading a failed run. */
  SOAK_RECORDS_FILE: z.string().min(1).optional(),
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

export function soakQuestion(tag: string, thread: number, turn: number): string {
  return `[soak ${tag}] ${QUESTIONS[(thread + turn) % QUESTIONS.length]}`;
}

/**
 * The tag of one attempt at a turn: `12.3` (thread 12, turn 3), `12.3.1` for the first time the
 * harness sends that turn again (after being told the message could not be taken).
 */
export function soakTag(thread: number, turn: number, attempt: number): string {
  return attempt === 0 ? `${thread}.${turn}` : `${thread}.${turn}.${attempt}`;
}

/** The tag a text was given by `soakQuestion`. */
export function soakTagOf(text: string): string | undefined {
  return /\[soak (\d+\.\d+(?:\.\d+)?)\]/.exec(text)?.[1];
}

/** Removes the tag from a question (it is bookkeeping, not part of what is asked). */
export function withoutSoakTag(text: string): string {
  return text.replace(/\[soak [\d.]+\]\s*/, '');
}

/**
 * The fake model starts every final answer with this line, so the harness can tell which turn an
 * answer on the platform (or in the stored history) belongs to, whatever process posted it when.
 */
export function answerMarker(tag: string): string {
  return `Answer for turn ${tag}:`;
}

/** The tag of the answer `text` carries, if any. */
export function answeredTagOf(text: string): string | undefined {
  return /Answer for turn (\d+\.\d+(?:\.\d+)?):/.exec(text)?.[1];
}
