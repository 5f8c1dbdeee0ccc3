import { BotError } from '../errors.js';

/** Which CLOVA chat API a model speaks (`openai` for models served only over an OpenAI-compatible API). */
export type ChatApiVersion = 'v1' | 'v3' | 'openai';

/** What we know about one chat model: budget limits and the documented web/test-key rate limits. */
export interface ModelInfo {
  modelId: string;
  apiVersion: ChatApiVersion;
  /** Context window X: input plus output tokens. */
  contextWindow: number;
  /** Largest prompt the API accepts on its own (HCX-003 caps input below its window). */
  maxInputTokens: number;
  /** Largest `maxTokens` (or `maxCompletionTokens` for reasoning models) the API accepts. */
  maxOutputTokens: number;
  /** Output reserve the API uses when none is sent. */
  defaultOutputTokens: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Whether the model supports function calling. */
  supportsTools: boolean;
  /** Whether the model can return reasoning (`thinking`). */
  supportsThinking: boolean;
}

export type ModelInfoOverrides = Partial<Omit<ModelInfo, 'modelId'>>;

// Figures from the CLOVA Studio API guide (model limits table, 2025-07-17 rate-limit policy for web/test keys).
const CATALOGUE: Record<string, Omit<ModelInfo, 'modelId'>> = {
  'HCX-003': {
    apiVersion: 'v1',
    contextWindow: 8_192,
    maxInputTokens: 7_600,
    maxOutputTokens: 4_096,
    defaultOutputTokens: 100,
    requestsPerMinute: 200,
    tokensPerMinute: 30_000,
    supportsTools: false,
    supportsThinking: false,
  },
  'HCX-DASH-001': {
    apiVersion: 'v1',
    contextWindow: 4_096,
    maxInputTokens: 3_500,
    maxOutputTokens: 4_096,
    defaultOutputTokens: 100,
    requestsPerMinute: 200,
    tokensPerMinute: 30_000,
    supportsTools: false,
    supportsThinking: false,
  },
  'HCX-005': {
    apiVersion: 'v3',
    contextWindow: 128_000,
    maxInputTokens: 128_000,
    maxOutputTokens: 4_096,
    defaultOutputTokens: 512,
    requestsPerMinute: 60,
    tokensPerMinute: 60_000,
    supportsTools: true,
    supportsThinking: false,
  },
  'HCX-DASH-002': {
    apiVersion: 'v3',
    contextWindow: 32_000,
    maxInputTokens: 32_000,
    maxOutputTokens: 4_096,
    defaultOutputTokens: 512,
    requestsPerMinute: 90,
    tokensPerMinute: 80_000,
    supportsTools: true,
    supportsThinking: false,
  },
  'HCX-007': {
    apiVersion: 'v3',
    contextWindow: 128_000,
    maxInputTokens: 128_000,
    maxOutputTokens: 32_768,
    defaultOutputTokens: 5_120,
    requestsPerMinute: 60,
    tokensPerMinute: 60_000,
    supportsTools: true,
    supportsThinking: true,
  },
};

/** Thrown for a model id the catalogue does not know and no override describes. */
export class UnknownModelError extends BotError {
  readonly modelId: string;
  readonly knownModels: string[];

  constructor(modelId: string, knownModels: string[]) {
    super({
      code: 'model_unknown',
      message: `Unknown model "${modelId}". Known models: ${knownModels.join(', ')}. To use another model set CLOVA_MODEL_API_VERSION (v1 or v3) and MODEL_CONTEXT_WINDOW.`,
      userMessage: 'The bot is configured with a model it does not know. Please tell the operator.',
    });
    this.modelId = modelId;
    this.knownModels = knownModels;
  }
}

/** Model ids in the catalogue. */
export function knownModelIds(): string[] {
  return Object.keys(CATALOGUE);
}

/**
 * Limits of `modelId`, with any `overrides` applied. An unknown model is accepted only when the
 * overrides give at least its API version and context window; otherwise `UnknownModelError`.
 *
 * @example modelInfo('HCX-005', { contextWindow: 32_000 }).contextWindow // 32000
 */
export function modelInfo(modelId: string, overrides: ModelInfoOverrides = {}): ModelInfo {
  const known = CATALOGUE[modelId];
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as ModelInfoOverrides;
  if (known) {
    const merged: ModelInfo = { modelId, ...known, ...defined };
    // A smaller configured window also caps the input limit; a larger one lifts it for models whose input equals the window.
    if (defined.contextWindow !== undefined && defined.maxInputTokens === undefined) {
      merged.maxInputTokens = known.maxInputTokens === known.contextWindow ? defined.contextWindow : Math.min(known.maxInputTokens, defined.contextWindow);
    }
    return merged;
  }
  if (defined.apiVersion === undefined || defined.contextWindow === undefined) {
    throw new UnknownModelError(modelId, knownModelIds());
  }
  const contextWindow = defined.contextWindow;
  const maxOutputTokens = defined.maxOutputTokens ?? Math.min(4_096, Math.floor(contextWindow / 2));
  return {
    modelId,
    apiVersion: defined.apiVersion,
    contextWindow,
    maxInputTokens: defined.maxInputTokens ?? contextWindow,
    maxOutputTokens,
    defaultOutputTokens: defined.defaultOutputTokens ?? Math.min(512, maxOutputTokens),
    requestsPerMinute: defined.requestsPerMinute ?? 60,
    tokensPerMinute: defined.tokensPerMinute ?? 60_000,
    supportsTools: defined.supportsTools ?? true,
    supportsThinking: defined.supportsThinking ?? false,
  };
}
