import { z } from 'zod';
import type { FailedResponse } from '../http/provider-transport.js';
import { ProviderError, boundedText, kindOfHttpStatus, type ProviderErrorDetails } from '../http/provider-error.js';
import { parseRetryAfter } from '../http/retry.js';

/** A failure of an OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, CLOVA's /v1/openai); `kind` says which. */
export class OpenAiCompatibleError extends ProviderError {
  constructor(details: Omit<ProviderErrorDetails, 'provider'>) {
    super({ ...details, provider: 'openai' });
  }
}

export function createOpenAiError(details: Omit<ProviderErrorDetails, 'provider'>): OpenAiCompatibleError {
  return new OpenAiCompatibleError(details);
}

const errorBody = z.object({
  error: z.union([z.string(), z.object({ message: z.string().optional(), code: z.union([z.string(), z.number()]).nullish(), type: z.string().nullish() })]),
});

/** Maps `{error:{message,code}}` (or any body) plus the HTTP status; context overflows are recognised by message. */
export function openAiErrorFromResponse(response: FailedResponse): OpenAiCompatibleError {
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  let message = response.bodyText.trim() === '' ? 'empty response body' : boundedText(response.bodyText.trim(), 200);
  let providerCode: string | undefined;
  try {
    const parsed = errorBody.safeParse(JSON.parse(response.bodyText));
    if (parsed.success) {
      const error = parsed.data.error;
      message = boundedText(typeof error === 'string' ? error : (error.message ?? 'no message'));
      if (typeof error !== 'string' && error.code !== undefined && error.code !== null) providerCode = String(error.code);
    }
  } catch {
    // Not JSON: keep the bounded raw text.
  }
  let { kind, retryable } = response.status >= 200 && response.status < 300 ? { kind: 'protocol' as const, retryable: false } : kindOfHttpStatus(response.status);
  // Servers disagree on codes for an overlong prompt; the wording is what they share.
  if (providerCode === 'context_length_exceeded' || providerCode === '40003' || /context length|maximum context|too many tokens/i.test(message)) {
    kind = 'context_too_long';
    retryable = false;
  }
  return new OpenAiCompatibleError({
    kind,
    retryable,
    message,
    status: response.status,
    ...(providerCode !== undefined ? { providerCode } : {}),
    ...(response.requestId !== undefined ? { requestId: response.requestId } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
