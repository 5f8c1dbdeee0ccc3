import type { ModelInfo } from '../model-catalogue.js';
import type { ChatMessage } from '../types.js';
import type { ClovaClient } from './clova-client.js';
import { toV1Messages } from './chat-mapping.js';

// The sliding API documents `maxTokens` ≤ 4,096.
const SLIDING_MAX_OUTPUT_TOKENS = 4_096;

/**
 * Fits `messages` to the model window with CLOVA's sliding-window API. The API sees only roles and
 * text, so its answer is aligned back onto the original messages to keep tool calls and ids.
 */
export async function slideWithClova(client: ClovaClient, info: ModelInfo, messages: ChatMessage[], maxTokens: number, signal?: AbortSignal): Promise<ChatMessage[]> {
  if (messages.length === 0) return [];
  const wire = toV1Messages(messages);
  const response = await client.slidingWindow(
    info.modelId,
    { messages: wire, maxTokens: Math.max(1, Math.min(SLIDING_MAX_OUTPUT_TOKENS, Math.floor(maxTokens))) },
    signal ? { signal } : {},
  );
  const kept: ChatMessage[] = [];
  let cursor = 0;
  for (const returned of response.result.messages) {
    while (cursor < wire.length && !(wire[cursor]?.role === returned.role && wire[cursor]?.content === returned.content)) cursor += 1;
    const original = messages[cursor];
    if (!original) break;
    kept.push(original);
    cursor += 1;
  }
  return kept;
}
