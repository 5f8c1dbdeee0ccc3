import { randomUUID } from 'node:crypto';
import type { Answerer, AnswerRequest } from '../engine/answerer.js';
import type { Answer } from '../engine/answer.js';
import type { ChatModel, TokenCounter } from '../providers/types.js';
import { SystemMessageTokens } from './system-message-tokens.js';

export interface ChatAnswererOptions {
  model: ChatModel;
  systemPrompt: string;
  tokenCounter: TokenCounter;
  temperature?: number;
}

/** The persona used when no SYSTEM_PROMPT is configured. */
export const DEFAULT_PERSONA =
  'You are a helpful, concise support assistant in a team chat. Answer in the language of the question. Say so plainly when you do not know.';

/**
 * Plain conversation with a chat model, streamed: no knowledge base, no citations. Used where
 * retrieval is switched off, and as the simplest complete answerer over any `ChatModel`.
 */
export function createChatAnswerer(options: ChatAnswererOptions): Answerer {
  const systemMessage = { role: 'system' as const, content: options.systemPrompt };
  const systemMessageTokens = new SystemMessageTokens(options.tokenCounter);
  return {
    reservedTokens: options.tokenCounter.countText(options.systemPrompt) + 8,
    async answer(request: AnswerRequest): Promise<Answer> {
      let firstDelta = true;
      const system = request.persona ? { role: 'system' as const, content: request.persona } : systemMessage;
      for await (const event of options.model.stream([system, ...request.history], {
        maxTokens: request.budget.maxOutputTokens,
        temperature: options.temperature,
        signal: request.signal,
      })) {
        if (event.type === 'text-delta') {
          if (firstDelta) {
            firstDelta = false;
            await request.progress({ type: 'status-changed', status: 'writing', text: 'Writing…' });
          }
          await request.progress({ type: 'text-delta', text: event.text });
        } else if (event.type === 'completed') {
          const { completion } = event;
          const notices = completion.finishReason === 'length' ? ['The answer was cut off at the output limit; ask me to continue.'] : [];
          const answer: Answer = {
            id: randomUUID(),
            parts: [{ type: 'text', text: completion.text }],
            sources: [],
            mode: 'chat',
            notices,
            usage: completion.usage,
          };
          // One call whose prompt is the system message plus the history: its figure is clean.
          const promptTokens = await systemMessageTokens.report(completion.usage.inputTokens, system.content, request.signal);
          if (promptTokens) answer.promptTokens = promptTokens;
          return answer;
        }
      }
      throw new Error('the chat stream ended without a completed event');
    },
  };
}
