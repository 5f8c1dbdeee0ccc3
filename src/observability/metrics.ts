import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { errorCodeOf } from '../errors.js';

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/**
 * The bot's Prometheus series, on a registry of its own (tests create one each; nothing global).
 * Label values are bounded sets (platform, outcome, kind, code): never user text or ids.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly turns = new Counter({
    name: 'threadline_turns_total',
    help: 'Turns handled, by platform and outcome (answered, duplicate, failed, reset).',
    labelNames: ['platform', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly queueWait = this.latency('threadline_queue_wait_seconds', 'Time a turn waited for its thread lock.');
  readonly retrieval = this.latency('threadline_retrieval_seconds', 'Time of one knowledge search.');
  readonly rerank = this.latency('threadline_rerank_seconds', 'Time of one rerank call.');
  readonly modelFirstToken = this.latency(
    'threadline_model_first_token_seconds',
    'Time from a streamed model request to its first token (thinking or text). Streamed calls only: RAG Reasoning (the CLOVA default) is never streamed, see threadline_model_response_seconds{streamed="false"}.',
  );

  readonly modelResponse = new Histogram({
    name: 'threadline_model_response_seconds',
    help: 'Time from a model request to its complete response, successful calls only, by streamed: "false" for JSON calls (RAG Reasoning, chat without streaming), where no model text reaches the user before it; "true" for streamed chat.',
    labelNames: ['streamed'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly turnDuration = this.latency('threadline_turn_seconds', 'Time from event received to final answer.');

  readonly modelTokens = new Counter({
    name: 'threadline_model_tokens_total',
    help: 'Model tokens, by direction (input, output).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly compactions = new Counter({
    name: 'threadline_compactions_total',
    help: 'History compactions, by kind (sliding, summary, summary_failed).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly rateLimitWaits = new Counter({
    name: 'threadline_rate_limit_waits_total',
    help: 'Times a call waited for a rate limit, by upstream (clova, openai, slack, discord, local_limiter).',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'threadline_errors_total',
    help: 'Errors, by stable error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly knowledgeChunks = new Gauge({
    name: 'threadline_knowledge_chunks',
    help: 'Chunks in a loaded knowledge base, by source (default, or the settings file\'s source).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly knowledgeEmbeddedChunks = new Gauge({
    name: 'threadline_knowledge_embedded_chunks',
    help: 'Chunks of a loaded knowledge base that have an embedding vector so far, by source (rises while vectors are built in the background).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly knowledgeHybrid = new Gauge({
    name: 'threadline_knowledge_hybrid',
    help: 'Whether a knowledge base answers with hybrid (lexical + dense) retrieval: 1, or lexical only: 0, by source.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  /** Error objects already counted: one failure travels through several layers (provider → engine → adapter). */
  private readonly countedErrors = new WeakSet<object>();

  /**
   * Counts an error by its stable code, once per error object, whichever layer sees it first: a
   * refused model call that fails a turn is one error, not one per layer it passed through.
   */
  countError(error: unknown): void {
    if (typeof error === 'object' && error !== null) {
      if (this.countedErrors.has(error)) return;
      this.countedErrors.add(error);
    }
    this.errors.inc({ code: errorCodeOf(error) });
  }

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'threadline_' });
  }

  /** Times `work` into `histogram` (in seconds), whether it succeeds or throws. */
  async time<T>(histogram: Histogram, work: () => Promise<T>): Promise<T> {
    const stop = histogram.startTimer();
    try {
      return await work();
    } finally {
      stop();
    }
  }

  private latency(name: string, help: string): Histogram {
    return new Histogram({ name, help, buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry] });
  }
}
