import { describe, expect, it } from 'vitest';
import { createChatSummarizer, cutToTokens, SUMMARY_INSTRUCTIONS, summaryPrompt } from '../../../src/compaction/chat-summarizer.js';
import { createExtractiveSummarizer } from '../../../src/compaction/extractive-summarizer.js';
import { estimateTextTokens } from '../../../src/compaction/token-estimator.js';
import type { ChatCompletion, ChatEvent, ChatMessage, ChatModel, ChatParams } from '../../../src/providers/types.js';

/** A chat model that records every call and answers from a script (the summary it "writes"). */
class RecordingChatModel implements ChatModel {
  readonly modelId = 'recording-model';
  readonly calls: Array<{ messages: ChatMessage[]; params: ChatParams }> = [];
  constructor(
    readonly contextWindow: number,
    readonly maxOutputTokens: number,
    private readonly reply: string,
  ) {}

  async complete(messages: ChatMessage[], params: ChatParams): Promise<ChatCompletion> {
    this.calls.push({ messages, params });
    params.signal?.throwIfAborted();
    return { text: this.reply, toolCalls: [], finishReason: 'stop', usage: { inputTokens: 0, outputTokens: 0 } };
  }

  async *stream(messages: ChatMessage[], params: ChatParams): AsyncIterable<ChatEvent> {
    yield { type: 'completed', completion: await this.complete(messages, params) };
  }
}

const CONVERSATION = [
  'User: 안녕하세요. 스마트스토어 정산이 안 들어왔어요.',
  'Assistant: 불편을 드려 죄송합니다. 주문번호를 알려주시겠어요?',
  'User: 주문번호는 2024-0815-7731입니다. 앱 버전 3.2.1 이고 오류 코드 E-1042 가 떠요.',
  'User: 이미 앱을 재설치 해봤는데 똑같아요.',
  'Assistant: 확인 후 내일까지 연락드리겠습니다.',
  'User: 네 감사합니다.',
];

describe('extractive summariser', () => {
  it('keeps the sentences with ids, codes, attempts and promises, in order, within its budget', async () => {
    const summary = await createExtractiveSummarizer({ maxCharacters: 260 }).summarize(CONVERSATION);
    expect(summary.length).toBeLessThanOrEqual(260);
    expect(summary).toContain('2024-0815-7731');
    expect(summary).toContain('재설치');
    expect(summary).toContain('연락드리겠습니다');
    expect(summary).not.toContain('네 감사합니다');
    const lines = summary.split('\n');
    expect(lines.every((line) => line.startsWith('- '))).toBe(true);
    expect(lines.findIndex((line) => line.includes('2024-0815-7731'))).toBeLessThan(lines.findIndex((line) => line.includes('연락드리겠습니다')));
  });

  it('carries the previous summary forward', async () => {
    const summarizer = createExtractiveSummarizer({ maxCharacters: 400 });
    const first = await summarizer.summarize(CONVERSATION.slice(0, 3));
    const second = await summarizer.summarize(['User: 배송은 언제 오나요?', 'Assistant: 모레 도착 예정입니다.'], { priorSummary: first });
    expect(second).toContain('2024-0815-7731');
    expect(second).toContain('배송은 언제 오나요?');
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(createExtractiveSummarizer().summarize(CONVERSATION, { signal: controller.signal })).rejects.toThrow('stop');
  });
});

describe('chat summariser', () => {
  it('asks for the key facts, hands over the previous summary and the new messages, and returns the reply', async () => {
    const model = new RecordingChatModel(4_096, 4_096, '  - 주문번호 2024-0815-7731, 정산 지연 문의  ');
    const summarizer = createChatSummarizer(model, { maxOutputTokens: 500 });
    const summary = await summarizer.summarize(CONVERSATION, { priorSummary: '- 이전 요약: 판매자 계정 문의' });
    expect(summary).toBe('- 주문번호 2024-0815-7731, 정산 지연 문의');
    expect(model.calls).toHaveLength(1);
    const [system, user] = model.calls[0]?.messages ?? [];
    expect(system).toEqual({ role: 'system', content: SUMMARY_INSTRUCTIONS });
    expect(SUMMARY_INSTRUCTIONS).toMatch(/order, ticket.*ids.*versions.*error codes.*already tried.*next step/s);
    expect(user?.content).toContain('Previous summary:\n- 이전 요약: 판매자 계정 문의');
    expect(user?.content).toContain(CONVERSATION[2]);
    expect(model.calls[0]?.params.maxTokens).toBe(500);
  });

  it('cuts the conversation so the prompt fits the summary model’s window', async () => {
    const model = new RecordingChatModel(1_200, 4_096, '- 요약');
    const long = Array.from({ length: 10 }, (_, index) => `User: ${index}번째 아주 긴 메시지 ${'가나다라마바사 '.repeat(100)}`);
    await createChatSummarizer(model, { maxOutputTokens: 300, marginTokens: 100 }).summarize(long);
    const prompt = model.calls[0]?.messages ?? [];
    const promptTokens = prompt.reduce((sum, message) => sum + estimateTextTokens(message.content) + 4, 0);
    expect(promptTokens + 300).toBeLessThanOrEqual(1_200);
    // Every message still gets its share: the newest is not crowded out by the oldest.
    expect(prompt[1]?.content).toContain('9번째');
  });

  it('builds a prompt even without a previous summary', () => {
    const [, user] = summaryPrompt(['User: hi'], undefined, 1_000);
    expect(user?.content).toContain('Previous summary:\n(none yet)');
  });
});

describe('cutToTokens', () => {
  it('returns text that fits unchanged and cuts longer text to the limit with an ellipsis', () => {
    expect(cutToTokens('short', 10)).toBe('short');
    const cut = cutToTokens('가'.repeat(100), 20);
    expect(estimateTextTokens(cut)).toBeLessThanOrEqual(20);
    expect(cut.endsWith('…')).toBe(true);
  });
});
