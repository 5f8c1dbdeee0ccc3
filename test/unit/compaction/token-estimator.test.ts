import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTokenEstimator, estimateMessageTokens, estimateTextTokens, MESSAGE_OVERHEAD_TOKENS } from '../../../src/compaction/token-estimator.js';
import { FAKE_MESSAGE_OVERHEAD_TOKENS, fakeContentTokens, fakeTokenCount } from '../../fakes/clova/fake-token-count.js';
import { randomText, seededRandom } from './history-builder.js';

// Counts quoted by the CLOVA Studio API guide for its chat tokenizers.
const DOCUMENTED_CONTENT_COUNTS = [
  { text: '안녕하세요, 이름이 무엇입니까?', tokens: 10 },
  { text: '저는 HyperCLOVA X 입니다.', tokens: 9 },
];
const DOCUMENTED_V3_MESSAGE = { text: '내일 서울 날씨 어때?', tokens: 12 };

function faqAnswers(limit: number): string[] {
  return readFileSync(new URL('../../../../shared/eval/smartstore_faq.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, limit)
    .map((line) => (JSON.parse(line) as { answer: string }).answer);
}

describe('token estimator', () => {
  it('over-estimates the documented HyperCLOVA X tokenizer counts, by at most 1.8×', () => {
    for (const { text, tokens } of DOCUMENTED_CONTENT_COUNTS) {
      const estimate = estimateTextTokens(text);
      expect(estimate).toBeGreaterThanOrEqual(tokens);
      expect(estimate / tokens).toBeLessThanOrEqual(1.8);
    }
    const message = estimateMessageTokens({ role: 'user', content: DOCUMENTED_V3_MESSAGE.text });
    expect(message).toBeGreaterThanOrEqual(DOCUMENTED_V3_MESSAGE.tokens);
    expect(message / DOCUMENTED_V3_MESSAGE.tokens).toBeLessThanOrEqual(1.8);
  });

  it('counts Korean at about one token per syllable, the cautious end of "1 token ≈ 1–2 characters"', () => {
    const text = '스마트스토어센터회원가입은어떻게하나요';
    expect(estimateTextTokens(text)).toBe(text.length);
  });

  it('is never below the pessimistic byte rule on real Korean support text', () => {
    const answers = faqAnswers(400);
    expect(answers.length).toBe(400);
    let estimated = 0;
    let pessimistic = 0;
    for (const answer of answers) {
      const estimate = estimateTextTokens(answer);
      expect(estimate).toBeGreaterThanOrEqual(fakeTokenCount(answer));
      estimated += estimate;
      pessimistic += fakeTokenCount(answer);
    }
    // Conservative, but not absurdly so: within 25% of the pessimistic rule overall.
    expect(estimated / pessimistic).toBeLessThan(1.25);
  });

  it('is never below the pessimistic byte rule on random Korean, English and mixed messages', () => {
    const random = seededRandom(7);
    for (let index = 0; index < 2_000; index += 1) {
      const content = randomText(random, 1 + Math.floor(random() * 40));
      const estimate = estimateMessageTokens({ role: 'user', content });
      expect(estimate).toBeGreaterThanOrEqual(fakeContentTokens({ role: 'user', content }) + FAKE_MESSAGE_OVERHEAD_TOKENS);
    }
  });

  it('charges English by letters, digits one by one, and short ASCII runs between Korean words a whole token', () => {
    expect(estimateTextTokens('Hello, how are you?')).toBe(7);
    expect(estimateTextTokens('1234567890')).toBe(10);
    // The space between Korean words and "ID" glued to a particle cannot merge into a Latin word.
    expect(estimateTextTokens('가 나')).toBe(3);
    expect(estimateTextTokens('ID를')).toBe(2);
    expect(estimateTextTokens('')).toBe(0);
  });

  it('charges emoji and CJK ideographs more than Hangul, since they often fall back to bytes', () => {
    expect(estimateTextTokens('😀')).toBe(3);
    expect(estimateTextTokens('漢字')).toBe(4);
  });

  it('adds the per-message overhead and counts tool calls and tool call ids', async () => {
    const estimator = createTokenEstimator();
    const [plain, withCall, result] = await estimator.countMessages([
      { role: 'user', content: 'abc' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'search', arguments: { query: '환불' } }] },
      { role: 'tool', content: 'abc', toolCallId: 'call_1' },
    ]);
    expect(plain).toBe(MESSAGE_OVERHEAD_TOKENS + 1);
    expect(withCall).toBeGreaterThan(MESSAGE_OVERHEAD_TOKENS + 10);
    expect(result).toBeGreaterThan(plain ?? 0);
    expect(estimator.source).toBe('estimate');
    expect(createTokenEstimator({ messageOverheadTokens: 10 }).countText('abc')).toBe(1);
  });
});
