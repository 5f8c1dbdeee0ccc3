import { existsSync } from 'node:fs';
import { z } from 'zod';
import {
  boolean,
  integer,
  oneOf,
  optionalInteger,
  optionalString,
  optionalUrl,
  ratio,
  urlWithDefault,
  variable,
  type VariableSpec,
} from './variables.js';
import { parseClusterNodes } from '../redis/cluster-nodes.js';
import { knownModelIds, modelInfo } from '../providers/model-catalogue.js';
import { isCatalogueModel } from './clova-model.js';

/**
 * Every environment variable the bot reads, in one table. The README's configuration section
 * mirrors it; `loadConfig` reports every bad value at once.
 */
export const VARIABLES = {
  LLM_PROVIDER: variable({
    name: 'LLM_PROVIDER',
    schema: oneOf(['clova', 'openai', 'offline'] as const),
    example: 'clova',
    description:
      'Which model backend answers: `clova`, `openai` (any OpenAI-compatible server) or `offline` (extractive, no model). Default: `clova` when CLOVA_STUDIO_API_KEY is set, else `openai` when OPENAI_API_KEY is set, else `offline`.',
  }),
  LOG_LEVEL: variable({
    name: 'LOG_LEVEL',
    schema: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    example: 'info',
    description: 'Log verbosity. User text is logged only at `debug` and below. Default `info` (`warn` for the console chat).',
  }),
  REDIS_URL: variable({
    name: 'REDIS_URL',
    schema: optionalUrl(['redis:', 'rediss:']),
    example: 'redis://127.0.0.1:6379',
    description: 'Redis for thread memory, dedupe, locks and the CLOVA and Slack rate budgets (shared by all replicas). Unset: in-process memory (one process only).',
    secret: true,
  }),
  REDIS_CLUSTER_NODES: variable({
    name: 'REDIS_CLUSTER_NODES',
    schema: z.preprocess(
      (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
      z
        .string()
        .superRefine((value, context) => {
          const problem = parseClusterNodes(value).problem;
          if (problem) context.addIssue({ code: 'custom', message: problem });
        })
        .transform((value) => value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
        .optional(),
    ) as z.ZodType<string[] | undefined>,
    example: 'redis://10.0.0.1:7000,redis://10.0.0.2:7000,redis://10.0.0.3:7000',
    description:
      'Redis Cluster instead of a single Redis: comma-separated `redis://` (or `rediss://`) root nodes; the rest of the cluster is discovered from them. A password may be given in the URLs (one for the whole cluster). Excludes REDIS_URL.',
    secret: true,
  }),
  REDIS_KEY_PREFIX: variable({
    name: 'REDIS_KEY_PREFIX',
    schema: z.preprocess((value) => (value === '' ? undefined : value), z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, `_`, `.` or `-`').default('threadline')),
    example: 'threadline',
    description: 'Prefix of every Redis key this bot writes, so several bots can share one Redis.',
  }),
  THREAD_TTL_SECONDS: variable({
    name: 'THREAD_TTL_SECONDS',
    schema: integer(30 * 24 * 3600, { min: 60, max: 365 * 24 * 3600 }),
    example: '2592000',
    description: 'How long a quiet thread is remembered; refreshed on every turn. Default 30 days.',
  }),
  TURN_TIMEOUT_MS: variable({
    name: 'TURN_TIMEOUT_MS',
    schema: integer(180_000, { min: 1_000, max: 3_600_000 }),
    example: '180000',
    description: 'Longest one answer may take before the user is told it timed out.',
  }),
  SHUTDOWN_DEADLINE_MS: variable({
    name: 'SHUTDOWN_DEADLINE_MS',
    schema: integer(25_000, { min: 1_000, max: 3_600_000 }),
    example: '25000',
    description: 'How long SIGTERM lets running answers (and Discord interactions that still arrive) finish; after it they are cancelled and their users are told so. Keep it a few seconds under the orchestrator\'s grace period (Kubernetes: 30 s by default; compose.yaml: 30 s), which ends in SIGKILL.',
  }),
  THREAD_LOCK_TTL_MS: variable({
    name: 'THREAD_LOCK_TTL_MS',
    schema: integer(30_000, { min: 1_000, max: 600_000 }),
    example: '30000',
    description: 'Expiry of a thread\'s lock (renewed every third of it while a turn runs): how long a thread stays blocked after the process answering it died.',
  }),
  RECOVERY_SWEEP_MS: variable({
    name: 'RECOVERY_SWEEP_MS',
    schema: integer(60_000, { min: 0, max: 3_600_000 }),
    example: '60000',
    description: 'How often to look for replies a stopped process left unfinished and finish them (`0`: only at startup).',
  }),
  MAX_MESSAGE_CHARS: variable({
    name: 'MAX_MESSAGE_CHARS',
    schema: integer(8_000, { min: 100, max: 100_000 }),
    example: '8000',
    description: 'Longer user messages are cut to this many characters (the reply says so).',
  }),
  SYSTEM_PROMPT: variable({
    name: 'SYSTEM_PROMPT',
    schema: optionalString,
    example: 'You are the support assistant of ACME. Answer briefly.',
    description: 'Replaces the built-in persona (the instructions about citations are always kept).',
  }),
  CLOVA_STUDIO_API_KEY: variable({
    name: 'CLOVA_STUDIO_API_KEY',
    schema: optionalString,
    example: 'nv-0123456789abcdef',
    description: 'CLOVA Studio API key (`nv-…` keys use `Authorization: Bearer`; older keys need CLOVA_STUDIO_APIGW_KEY too).',
    secret: true,
  }),
  CLOVA_STUDIO_APIGW_KEY: variable({
    name: 'CLOVA_STUDIO_APIGW_KEY',
    schema: optionalString,
    example: 'abcdefgh1234',
    description: 'Legacy API Gateway key, sent as `X-NCP-APIGW-API-KEY` with a legacy (non-`nv-`) CLOVA key.',
    secret: true,
  }),
  CLOVA_STUDIO_BASE_URL: variable({
    name: 'CLOVA_STUDIO_BASE_URL',
    schema: urlWithDefault(['http:', 'https:'], 'https://clovastudio.stream.ntruss.com'),
    example: 'https://clovastudio.stream.ntruss.com',
    description: 'CLOVA Studio host (change for VPC proxies, the gov cloud or a local fake).',
  }),
  CLOVA_STUDIO_PATH_PREFIX: variable({
    name: 'CLOVA_STUDIO_PATH_PREFIX',
    schema: oneOf(['none', '/testapp', '/serviceapp'] as const),
    example: '/testapp',
    description: 'Legacy path prefix for apps created before 2025. Default none.',
  }),
  CLOVA_STUDIO_APP_ID: variable({
    name: 'CLOVA_STUDIO_APP_ID',
    schema: optionalString,
    example: '0190be7adfa24c7a9e10b1ac2edebd78',
    description: 'Legacy app id appended to api-tools paths for old test/service apps.',
  }),
  CLOVA_MODEL: variable({
    name: 'CLOVA_MODEL',
    schema: z.preprocess((value) => (value === '' ? undefined : value), z.string().default('HCX-005')),
    example: 'HCX-005',
    description: 'Chat model: HCX-005, HCX-007, HCX-DASH-002 (v3) or HCX-003, HCX-DASH-001 (v1).',
  }),
  CLOVA_MODEL_API_VERSION: variable({
    name: 'CLOVA_MODEL_API_VERSION',
    schema: oneOf(['v1', 'v3'] as const),
    example: 'v3',
    description: 'Which chat API CLOVA_MODEL speaks. Required, with MODEL_CONTEXT_WINDOW, for a model the catalogue does not know (a newer or tuned model); its MAX_OUTPUT_TOKENS is then trusted as the model\'s output limit.',
  }),
  CLOVA_MODEL_REQUESTS_PER_MINUTE: variable({
    name: 'CLOVA_MODEL_REQUESTS_PER_MINUTE',
    schema: optionalInteger({ min: 1, max: 100_000 }),
    example: '300',
    description: 'Chat requests per minute the bot lets itself send to CLOVA_MODEL (callers queue instead of collecting 429s). Default: the documented web/test-key limit (60 for HCX-005/007, 90 for HCX-DASH-002, 200 for v1 models); raise it for a service app.',
  }),
  CLOVA_MODEL_TOKENS_PER_MINUTE: variable({
    name: 'CLOVA_MODEL_TOKENS_PER_MINUTE',
    schema: optionalInteger({ min: 1_000, max: 100_000_000 }),
    example: '180000',
    description: 'Tokens per minute (prompt + requested output) the bot lets itself send to CLOVA_MODEL; also caps the default request size. Default: the documented web/test-key limit (60,000 for HCX-005/007, 80,000 for HCX-DASH-002, 30,000 for v1 models).',
  }),
  CLOVA_USE_RAG_REASONING: variable({
    name: 'CLOVA_USE_RAG_REASONING',
    schema: boolean(true),
    example: 'true',
    description: 'Use the RAG Reasoning API for the search-and-answer loop (false: the chat model with function calling).',
  }),
  CLOVA_USE_RERANKER: variable({
    name: 'CLOVA_USE_RERANKER',
    schema: boolean(true),
    example: 'true',
    description: 'Rerank retrieved documents with the CLOVA reranker (false: the local reranker).',
  }),
  CLOVA_USE_EMBEDDINGS: variable({
    name: 'CLOVA_USE_EMBEDDINGS',
    schema: boolean(false),
    example: 'false',
    description: 'Add CLOVA embedding v2 (bge-m3) vectors to the knowledge index for hybrid retrieval.',
  }),
  CLOVA_EMBEDDING_REQUESTS_PER_MINUTE: variable({
    name: 'CLOVA_EMBEDDING_REQUESTS_PER_MINUTE',
    schema: optionalInteger({ min: 1, max: 100_000 }),
    example: '540',
    description: 'Embedding v2 requests per minute the bot lets itself send (queries and background index builds; with Redis, all replicas together). Default: 60, the test-key limit; raise it for a service app (540).',
  }),
  OPENAI_API_KEY: variable({
    name: 'OPENAI_API_KEY',
    schema: optionalString,
    example: 'sk-…',
    description: 'Key for an OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, CLOVA\'s /v1/openai).',
    secret: true,
  }),
  OPENAI_BASE_URL: variable({
    name: 'OPENAI_BASE_URL',
    schema: urlWithDefault(['http:', 'https:'], 'https://api.openai.com/v1'),
    example: 'http://127.0.0.1:11434/v1',
    description: 'Base URL of the OpenAI-compatible API (the part before `/chat/completions`).',
  }),
  OPENAI_MODEL: variable({
    name: 'OPENAI_MODEL',
    schema: z.preprocess((value) => (value === '' ? undefined : value), z.string().default('gpt-4o-mini')),
    example: 'gpt-4o-mini',
    description: 'Model name sent to the OpenAI-compatible server.',
  }),
  OPENAI_EMBEDDING_MODEL: variable({
    name: 'OPENAI_EMBEDDING_MODEL',
    schema: optionalString,
    example: 'text-embedding-3-small',
    description: 'Embedding model for hybrid retrieval with the OpenAI-compatible provider. Unset: lexical retrieval only.',
  }),
  MODEL_CONTEXT_WINDOW: variable({
    name: 'MODEL_CONTEXT_WINDOW',
    schema: optionalInteger({ min: 512, max: 2_000_000 }),
    example: '32000',
    description: 'Overrides the model catalogue\'s context window (tokens, input + output).',
  }),
  MAX_OUTPUT_TOKENS: variable({
    name: 'MAX_OUTPUT_TOKENS',
    schema: integer(1024, { min: 16, max: 32_768 }),
    example: '1024',
    description: 'Output reserve per answer (`maxTokens`).',
  }),
  HISTORY_TOKEN_BUDGET: variable({
    name: 'HISTORY_TOKEN_BUDGET',
    schema: optionalInteger({ min: 256, max: 2_000_000 }),
    example: '16000',
    description: 'Caps a request below the model window (prompt + output), for cost and TPM control.',
  }),
  COMPACTION: variable({
    name: 'COMPACTION',
    schema: oneOf(['sliding', 'summary'] as const),
    example: 'summary',
    description: 'How long threads are fitted to the budget: drop the oldest turns (`sliding`) or fold them into a rolling summary (`summary`, default).',
  }),
  COMPACTION_TRIGGER_RATIO: variable({
    name: 'COMPACTION_TRIGGER_RATIO',
    schema: ratio(0.8),
    example: '0.8',
    description: 'With `summary`: summarise once the history passes this fraction of its budget (before it would overflow).',
  }),
  SUMMARIZER: variable({
    name: 'SUMMARIZER',
    schema: oneOf(['clova', 'chat', 'extractive'] as const),
    example: 'clova',
    description: 'Who writes rolling summaries: the CLOVA summarization API, the chat model, or a local extractive summariser. Default: by provider.',
  }),
  KNOWLEDGE_DIR: variable({
    name: 'KNOWLEDGE_DIR',
    schema: optionalString,
    example: './knowledge',
    description: 'Folder of Markdown/CSV/JSONL/text documents to index at startup. Default: the bundled user guide.',
  }),
  KNOWLEDGE_INDEX_FILE: variable({
    name: 'KNOWLEDGE_INDEX_FILE',
    schema: optionalString,
    example: './data/knowledge-index.json',
    description: 'Index written by `npm run ingest`; loaded at startup when present.',
  }),
  SEARCH_API_URL: variable({
    name: 'SEARCH_API_URL',
    schema: optionalUrl(['http:', 'https:']),
    example: 'https://search.internal/api/search',
    description: 'An external search API (`POST {query, top_k}` → `{result: [{id, content}]}`) used instead of the embedded index.',
  }),
  RAG_MAX_ROUNDS: variable({
    name: 'RAG_MAX_ROUNDS',
    schema: integer(3, { min: 1, max: 10 }),
    example: '3',
    description: 'Most search rounds the reasoning loop may run for one answer.',
  }),
  RAG_TOP_K: variable({
    name: 'RAG_TOP_K',
    schema: integer(8, { min: 1, max: 50 }),
    example: '8',
    description: 'Documents retrieved per search before reranking.',
  }),
  DOCUMENT_TOKEN_BUDGET: variable({
    name: 'DOCUMENT_TOKEN_BUDGET',
    schema: integer(3000, { min: 200, max: 100_000 }),
    example: '3000',
    description: 'Tokens of retrieved documents one answer may carry; counted against the compaction budget.',
  }),
  SLACK_BOT_TOKEN: variable({
    name: 'SLACK_BOT_TOKEN',
    schema: optionalString,
    example: 'xoxb-…',
    description: 'Slack bot token; enables the Slack adapter.',
    secret: true,
  }),
  SLACK_SIGNING_SECRET: variable({
    name: 'SLACK_SIGNING_SECRET',
    schema: optionalString,
    example: '8f742231b10e8888abcd99yyyzzz85a5',
    description: 'Slack signing secret for the HTTP Events API mode (verified on every request).',
    secret: true,
  }),
  SLACK_APP_TOKEN: variable({
    name: 'SLACK_APP_TOKEN',
    schema: optionalString,
    example: 'xapp-…',
    description: 'App-level token (`connections:write`); when set, Slack runs in Socket Mode.',
    secret: true,
  }),
  SLACK_API_URL: variable({
    name: 'SLACK_API_URL',
    schema: optionalUrl(['http:', 'https:']),
    example: 'https://slack.com/api/',
    description: 'Overrides the Slack Web API base (GovSlack, proxies, tests).',
  }),
  REQUIRE_MENTION: variable({
    name: 'REQUIRE_MENTION',
    schema: boolean(false),
    example: 'false',
    description: 'Answer thread follow-ups only when the bot is mentioned again (Slack and Discord; per channel: `mentionOnly` in the settings file).',
  }),
  ANSWER_BOTS: variable({
    name: 'ANSWER_BOTS',
    schema: boolean(false),
    example: 'false',
    description: 'Answer messages written by other bots, never its own (Slack and Discord; per channel: `answerBots` in the settings file).',
  }),
  DISCORD_TOKEN: variable({
    name: 'DISCORD_TOKEN',
    schema: optionalString,
    example: 'MTE…',
    description: 'Discord bot token; enables the Discord adapter (gateway).',
    secret: true,
  }),
  DISCORD_APPLICATION_ID: variable({
    name: 'DISCORD_APPLICATION_ID',
    schema: optionalString,
    example: '1234567890123456789',
    description: 'Discord application id (command registration, HTTP interactions).',
  }),
  DISCORD_PUBLIC_KEY: variable({
    name: 'DISCORD_PUBLIC_KEY',
    schema: z.preprocess((value) => (value === '' ? undefined : value), z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the 64-hex-digit public key from the Developer Portal').optional()),
    example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    description: 'Enables the HTTP interactions endpoint (`POST /discord/interactions`), Ed25519-verified.',
  }),
  DISCORD_API_URL: variable({
    name: 'DISCORD_API_URL',
    schema: optionalUrl(['http:', 'https:']),
    example: 'https://discord.com/api',
    description: 'Overrides the Discord REST base (proxies, tests).',
  }),
  DISCORD_GATEWAY: variable({
    name: 'DISCORD_GATEWAY',
    schema: boolean(true),
    example: 'false',
    description: 'Log in to the Discord gateway (thread follow-ups, mentions, DMs). `false` runs an HTTP-interactions-only replica behind a load balancer.',
  }),
  DISCORD_GUILD_ID: variable({
    name: 'DISCORD_GUILD_ID',
    schema: optionalString,
    example: '987654321098765432',
    description: 'With `npm run discord:register`: register commands in this guild only (instant; for development).',
  }),
  PORT: variable({
    name: 'PORT',
    schema: integer(3000, { min: 0, max: 65535 }),
    example: '3000',
    description: 'HTTP port for Slack events, Discord interactions, `/metrics`, `/healthz` and `/readyz`.',
  }),
  SETTINGS_FILE: variable({
    name: 'SETTINGS_FILE',
    schema: optionalString,
    example: './settings.yaml',
    description: 'Per-channel settings (YAML or JSON), reloaded on change.',
  }),
} as const;

type Variables = typeof VARIABLES;
type ParsedVariables = { [Name in keyof Variables]: Variables[Name] extends VariableSpec<infer T> ? T : never };

export interface ConfigProblem {
  variable: string;
  problem: string;
  example: string;
}

/** Thrown by `loadConfig` with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((problem) => `  - ${problem.variable}: ${problem.problem} (for example: ${problem.example})`);
  return [`The configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:`, ...lines].join('\n');
}

export type LlmProvider = 'clova' | 'openai' | 'offline';

export type Config = ParsedVariables & {
  provider: LlmProvider;
  compaction: 'sliding' | 'summary';
  /** Every secret value set, for log scrubbing. */
  secrets: string[];
};

/**
 * Parses and validates the environment. Never prints a secret: problems name the variable and what
 * was wrong with it, not its value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: ConfigProblem[] = [];
  const parsed: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(VARIABLES) as [string, VariableSpec<unknown>][]) {
    const result = spec.schema.safeParse(env[name]);
    if (result.success) {
      parsed[name] = result.data;
    } else {
      problems.push({ variable: name, problem: result.error.issues.map((issue) => issue.message).join('; '), example: spec.example });
    }
  }
  const values = parsed as ParsedVariables;
  const failed = new Set(problems.map((problem) => problem.variable));
  problems.push(...crossCheck(values, failed));
  if (problems.length > 0) throw new ConfigError(problems);

  const provider = resolveProvider(values);
  const secrets = (Object.values(VARIABLES) as VariableSpec<unknown>[])
    .filter((spec) => spec.secret)
    .map((spec) => env[spec.name])
    .filter((value): value is string => typeof value === 'string' && value.trim() !== '');
  for (const url of [values.REDIS_URL, ...(values.REDIS_CLUSTER_NODES ?? [])]) {
    const password = url ? passwordOf(url) : undefined;
    if (password) secrets.push(password);
  }
  return { ...values, provider, compaction: values.COMPACTION ?? 'summary', secrets };
}

function resolveProvider(values: Pick<ParsedVariables, 'LLM_PROVIDER' | 'CLOVA_STUDIO_API_KEY' | 'OPENAI_API_KEY'>): LlmProvider {
  return values.LLM_PROVIDER ?? (values.CLOVA_STUDIO_API_KEY ? 'clova' : values.OPENAI_API_KEY ? 'openai' : 'offline');
}

/** What an operator must add to run a model the catalogue does not know. */
function unknownModelProblem(values: ParsedVariables, missing: 'CLOVA_MODEL_API_VERSION' | 'MODEL_CONTEXT_WINDOW'): ConfigProblem {
  const what = missing === 'CLOVA_MODEL_API_VERSION' ? 'its chat API version' : 'its context window';
  return {
    variable: missing,
    problem: `is required for CLOVA_MODEL=${values.CLOVA_MODEL}: the model catalogue does not know it (it knows ${knownModelIds().join(', ')}), so ${what} must be given`,
    example: VARIABLES[missing].example,
  };
}

/** One combination rule: the problems it finds among values that each parsed on their own. */
type CombinationCheck = (values: ParsedVariables) => ConfigProblem | undefined;

const COMBINATION_CHECKS: readonly CombinationCheck[] = [
  (values) =>
    values.REDIS_URL && values.REDIS_CLUSTER_NODES
      ? { variable: 'REDIS_CLUSTER_NODES', problem: 'cannot be used together with REDIS_URL (set one: REDIS_URL for a single Redis, REDIS_CLUSTER_NODES for a cluster)', example: VARIABLES.REDIS_CLUSTER_NODES.example }
      : undefined,
  (values) =>
    values.LLM_PROVIDER === 'clova' && !values.CLOVA_STUDIO_API_KEY
      ? { variable: 'CLOVA_STUDIO_API_KEY', problem: 'is required when LLM_PROVIDER=clova', example: VARIABLES.CLOVA_STUDIO_API_KEY.example }
      : undefined,
  (values) =>
    values.LLM_PROVIDER === 'openai' && !values.OPENAI_API_KEY && values.OPENAI_BASE_URL === 'https://api.openai.com/v1'
      ? { variable: 'OPENAI_API_KEY', problem: 'is required for api.openai.com (set OPENAI_BASE_URL for a local server that needs no key)', example: VARIABLES.OPENAI_API_KEY.example }
      : undefined,
  (values) =>
    values.CLOVA_STUDIO_API_KEY && !values.CLOVA_STUDIO_API_KEY.startsWith('nv-') && !values.CLOVA_STUDIO_APIGW_KEY
      ? { variable: 'CLOVA_STUDIO_APIGW_KEY', problem: 'is required with a legacy (non `nv-`) CLOVA key', example: VARIABLES.CLOVA_STUDIO_APIGW_KEY.example }
      : undefined,
  (values) =>
    values.SLACK_BOT_TOKEN && !values.SLACK_APP_TOKEN && !values.SLACK_SIGNING_SECRET
      ? { variable: 'SLACK_SIGNING_SECRET', problem: 'is required with SLACK_BOT_TOKEN unless SLACK_APP_TOKEN selects Socket Mode', example: VARIABLES.SLACK_SIGNING_SECRET.example }
      : undefined,
  (values) =>
    (values.SLACK_APP_TOKEN || values.SLACK_SIGNING_SECRET) && !values.SLACK_BOT_TOKEN
      ? { variable: 'SLACK_BOT_TOKEN', problem: 'is required when SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set', example: VARIABLES.SLACK_BOT_TOKEN.example }
      : undefined,
  (values) => {
    if (values.DISCORD_APPLICATION_ID) return undefined;
    if (values.DISCORD_TOKEN) return { variable: 'DISCORD_APPLICATION_ID', problem: 'is required with DISCORD_TOKEN (interaction replies are addressed by it)', example: VARIABLES.DISCORD_APPLICATION_ID.example };
    if (values.DISCORD_PUBLIC_KEY) return { variable: 'DISCORD_APPLICATION_ID', problem: 'is required with DISCORD_PUBLIC_KEY', example: VARIABLES.DISCORD_APPLICATION_ID.example };
    return undefined;
  },
  (values) =>
    !values.DISCORD_GATEWAY && !values.DISCORD_PUBLIC_KEY && values.DISCORD_TOKEN
      ? { variable: 'DISCORD_PUBLIC_KEY', problem: 'is required with DISCORD_GATEWAY=false (the replica serves only HTTP interactions)', example: VARIABLES.DISCORD_PUBLIC_KEY.example }
      : undefined,
  (values) =>
    values.DISCORD_PUBLIC_KEY && !values.DISCORD_TOKEN
      ? { variable: 'DISCORD_TOKEN', problem: 'is required with DISCORD_PUBLIC_KEY (follow-up edits use the bot token)', example: VARIABLES.DISCORD_TOKEN.example }
      : undefined,
  (values) =>
    resolveProvider(values) === 'clova' && !isCatalogueModel(values.CLOVA_MODEL) && values.CLOVA_MODEL_API_VERSION === undefined
      ? unknownModelProblem(values, 'CLOVA_MODEL_API_VERSION')
      : undefined,
  (values) =>
    resolveProvider(values) === 'clova' && !isCatalogueModel(values.CLOVA_MODEL) && values.MODEL_CONTEXT_WINDOW === undefined
      ? unknownModelProblem(values, 'MODEL_CONTEXT_WINDOW')
      : undefined,
  (values) => {
    if (resolveProvider(values) !== 'clova' || values.CLOVA_MODEL_API_VERSION === undefined || !isCatalogueModel(values.CLOVA_MODEL)) return undefined;
    const documented = modelInfo(values.CLOVA_MODEL).apiVersion;
    return documented === values.CLOVA_MODEL_API_VERSION
      ? undefined
      : { variable: 'CLOVA_MODEL_API_VERSION', problem: `contradicts the model catalogue: ${values.CLOVA_MODEL} speaks ${documented} (unset it for a catalogue model)`, example: documented };
  },
  (values) =>
    values.MODEL_CONTEXT_WINDOW !== undefined && values.MAX_OUTPUT_TOKENS >= values.MODEL_CONTEXT_WINDOW
      ? { variable: 'MAX_OUTPUT_TOKENS', problem: `must be smaller than MODEL_CONTEXT_WINDOW (${values.MODEL_CONTEXT_WINDOW}), which also holds the prompt`, example: VARIABLES.MAX_OUTPUT_TOKENS.example }
      : undefined,
  (values) =>
    values.HISTORY_TOKEN_BUDGET !== undefined && values.HISTORY_TOKEN_BUDGET <= values.MAX_OUTPUT_TOKENS
      ? { variable: 'HISTORY_TOKEN_BUDGET', problem: `must be larger than MAX_OUTPUT_TOKENS (${values.MAX_OUTPUT_TOKENS})`, example: '16000' }
      : undefined,
  (values) =>
    values.KNOWLEDGE_DIR && !existsSync(values.KNOWLEDGE_DIR)
      ? { variable: 'KNOWLEDGE_DIR', problem: 'names a folder that does not exist', example: VARIABLES.KNOWLEDGE_DIR.example }
      : undefined,
  (values) =>
    values.SETTINGS_FILE && !existsSync(values.SETTINGS_FILE)
      ? { variable: 'SETTINGS_FILE', problem: 'names a file that does not exist', example: VARIABLES.SETTINGS_FILE.example }
      : undefined,
];

/**
 * Runs every combination rule over the values that parsed, so one start lists every problem. A rule
 * that reads a variable which failed to parse is skipped: that variable is reported already, and its
 * absence would make the rule misfire (a bad DISCORD_GATEWAY would read as `false`).
 */
function crossCheck(values: ParsedVariables, failed: ReadonlySet<string>): ConfigProblem[] {
  return COMBINATION_CHECKS.flatMap((check) => {
    let readAFailedVariable = false;
    const watched = new Proxy(values, {
      get(target, name, receiver) {
        if (typeof name === 'string' && failed.has(name)) readAFailedVariable = true;
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const problem = check(watched);
    return problem && !readAFailedVariable ? [problem] : [];
  });
}

function passwordOf(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
