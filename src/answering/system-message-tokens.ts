import type { Logger } from '../observability/logger.js';
import type { PromptTokenReport } from '../compaction/types.js';
import type { TokenCounter } from '../providers/types.js';

/** Most distinct system prompts (the default plus channel personas) whose counts are kept. */
const MAX_REMEMBERED_PROMPTS = 64;

/**
 * Tokens of a system prompt as a chat message, counted the way the history is (per-message special
 * tokens included) and remembered per prompt text: the prompt rarely changes and the counter may be
 * a remote tokenizer. Undefined when counting fails, which only costs this turn's correction.
 */
export class SystemMessageTokens {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly counter: TokenCounter,
    private readonly logger?: Logger,
  ) {}

  /**
   * The figure for correcting stored counts from one call: its reported prompt size beside what it
   * added around the history (the system prompt, plus `otherAddedTokens` such as tool schemas).
   * Undefined when the call reported no usage or the prompt could not be counted.
   */
  async report(reportedTokens: number, systemPrompt: string, signal: AbortSignal, otherAddedTokens = 0): Promise<PromptTokenReport | undefined> {
    if (!(reportedTokens > 0)) return undefined;
    const systemTokens = await this.of(systemPrompt, signal);
    return systemTokens === undefined ? undefined : { reportedTokens, addedTokens: systemTokens + otherAddedTokens };
  }

  async of(systemPrompt: string, signal: AbortSignal): Promise<number | undefined> {
    const known = this.known.get(systemPrompt);
    if (known !== undefined) return known;
    try {
      const [count] = await this.counter.countMessages([{ role: 'system', content: systemPrompt }], signal);
      if (count === undefined || !Number.isFinite(count)) return undefined;
      if (this.known.size >= MAX_REMEMBERED_PROMPTS) this.known.clear();
      this.known.set(systemPrompt, count);
      return count;
    } catch (error) {
      if (signal.aborted) throw error;
      this.logger?.debug({ err: error instanceof Error ? error.message : String(error) }, 'could not count the system prompt; token counts stay as they are this turn');
      return undefined;
    }
  }
}
