import type { ModelInfo } from '../model-catalogue.js';
import type { ChatMessage, TokenCounter } from '../types.js';
import { estimateClovaTokens, type ClovaClient } from './clova-client.js';
import { toV1Messages, toV3Messages } from './chat-mapping.js';

/**
 * Counts message tokens with CLOVA's chat tokenizer (v1 or v3 by model). Counts are content only:
 * the chat APIs add a few special tokens per message on top, which compaction learns from usage.
 */
export class ClovaTokenCounter implements TokenCounter {
  readonly source = 'tokenizer' as const;

  constructor(
    private readonly client: ClovaClient,
    private readonly info: ModelInfo,
  ) {}

  async countMessages(messages: ChatMessage[], signal?: AbortSignal): Promise<number[]> {
    if (messages.length === 0) return [];
    const options = signal ? { signal } : {};
    if (this.info.apiVersion === 'v1') {
      const response = await this.client.tokenizeV1(this.info.modelId, toV1Messages(messages), options);
      return response.result.messages.map((message) => message.count);
    }
    // The v3 tokenizer would merge system messages like the chat call does; count each message alone instead.
    const wire = messages.map((message) => toV3Messages([message])[0] ?? { role: message.role, content: message.content });
    const response = await this.client.tokenizeV3(this.info.modelId, { messages: wire }, options);
    return response.result.messages.map((message) =>
      Array.isArray(message.content) ? message.content.reduce((sum, part) => sum + part.count, 0) : message.content.count,
    );
  }

  /** A local estimate (one token per Hangul syllable, one per 4 bytes otherwise); no network. */
  countText(text: string): number {
    return estimateClovaTokens(text);
  }
}
