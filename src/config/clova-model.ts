import { knownModelIds, type ModelInfoOverrides } from '../providers/model-catalogue.js';

/** What the environment says about the CLOVA chat model (CLOVA_MODEL and the variables that describe it). */
export interface ClovaModelSettings {
  CLOVA_MODEL: string;
  CLOVA_MODEL_API_VERSION?: 'v1' | 'v3' | undefined;
  CLOVA_MODEL_REQUESTS_PER_MINUTE?: number | undefined;
  CLOVA_MODEL_TOKENS_PER_MINUTE?: number | undefined;
  MODEL_CONTEXT_WINDOW?: number | undefined;
  MAX_OUTPUT_TOKENS: number;
}

/** Whether the model catalogue describes `modelId` on its own. */
export function isCatalogueModel(modelId: string): boolean {
  return knownModelIds().includes(modelId);
}

/**
 * The catalogue overrides the environment asks for: the context window, the local limiter's requests
 * and tokens per minute, and for a model the catalogue does not know, its API version and output
 * limit. Nothing documents an unknown model's output limit, so the output reserve the operator chose
 * (MAX_OUTPUT_TOKENS) is taken as what its API accepts rather than silently clamped.
 *
 * @example modelInfo(config.CLOVA_MODEL, clovaModelOverrides(config))
 */
export function clovaModelOverrides(settings: ClovaModelSettings): ModelInfoOverrides {
  const overrides: ModelInfoOverrides = {};
  if (settings.CLOVA_MODEL_API_VERSION !== undefined) overrides.apiVersion = settings.CLOVA_MODEL_API_VERSION;
  if (settings.MODEL_CONTEXT_WINDOW !== undefined) overrides.contextWindow = settings.MODEL_CONTEXT_WINDOW;
  if (settings.CLOVA_MODEL_REQUESTS_PER_MINUTE !== undefined) overrides.requestsPerMinute = settings.CLOVA_MODEL_REQUESTS_PER_MINUTE;
  if (settings.CLOVA_MODEL_TOKENS_PER_MINUTE !== undefined) overrides.tokensPerMinute = settings.CLOVA_MODEL_TOKENS_PER_MINUTE;
  if (!isCatalogueModel(settings.CLOVA_MODEL)) overrides.maxOutputTokens = settings.MAX_OUTPUT_TOKENS;
  return overrides;
}
