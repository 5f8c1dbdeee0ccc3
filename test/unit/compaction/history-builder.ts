import { emptyThreadState, type StoredMessage, type ThreadState } from '../../../src/history/thread-state.js';

/** A small seeded generator (mulberry32), so property tests replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds stored messages with unique ids and increasing timestamps. */
export class HistoryBuilder {
  private next = 0;
  readonly messages: StoredMessage[] = [];

  user(content: string, extra: Partial<StoredMessage> = {}): this {
    return this.add({ role: 'user', content, ...extra });
  }

  assistant(content: string, extra: Partial<StoredMessage> = {}): this {
    return this.add({ role: 'assistant', content, ...extra });
  }

  /** An assistant tool call followed by one result per call id. */
  toolExchange(calls: Array<{ id: string; name: string; result: string }>): this {
    this.add({ role: 'assistant', content: '', toolCalls: calls.map((call) => ({ id: call.id, name: call.name, arguments: { query: call.name } })) });
    for (const call of calls) this.add({ role: 'tool', content: call.result, toolCallId: call.id });
    return this;
  }

  tool(content: string, toolCallId: string): this {
    return this.add({ role: 'tool', content, toolCallId });
  }

  add(message: Omit<StoredMessage, 'id' | 'createdAt'> & Partial<Pick<StoredMessage, 'id' | 'createdAt'>>): this {
    this.next += 1;
    this.messages.push({ id: `m${this.next}`, createdAt: 1_700_000_000_000 + this.next, ...message });
    return this;
  }

  state(threadKey = 'test:thread'): ThreadState {
    return { ...emptyThreadState(threadKey, 1_700_000_000_000), messages: [...this.messages] };
  }
}

const KOREAN_WORDS = ['주문', '배송', '환불', '결제가', '안', '돼요', '확인해', '주세요', '스마트스토어', '판매자', '정산', '문의드립니다', '로그인이', '계속', '실패합니다'];
const ENGLISH_WORDS = ['order', 'refund', 'the', 'payment', 'failed', 'again', 'please', 'check', 'account', 'settings', 'error', 'when', 'I', 'try', 'to', 'login'];

/** A random sentence-ish text of about `words` words, Korean, English or mixed. */
export function randomText(random: () => number, words: number): string {
  const parts: string[] = [];
  const mode = random();
  for (let index = 0; index < words; index += 1) {
    const korean = mode < 0.4 || (mode < 0.8 && random() < 0.5);
    const pool = korean ? KOREAN_WORDS : ENGLISH_WORDS;
    parts.push(pool[Math.floor(random() * pool.length)] ?? 'x');
    if (random() < 0.1) parts.push(String(Math.floor(random() * 100_000)));
  }
  return `${parts.join(' ')}${random() < 0.5 ? '?' : '.'}`;
}

/**
 * A random well-formed thread of `turns` turns: each a user message, sometimes a tool exchange,
 * usually an assistant answer; the last turn is a lone user message (the one being answered).
 */
export function randomThread(random: () => number, turns: number, maxWordsPerMessage: number): HistoryBuilder {
  const builder = new HistoryBuilder();
  for (let turn = 0; turn < turns; turn += 1) {
    builder.user(randomText(random, 1 + Math.floor(random() * maxWordsPerMessage)));
    if (turn === turns - 1) break;
    if (random() < 0.25) {
      const calls = Array.from({ length: 1 + Math.floor(random() * 2) }, (_, index) => ({
        id: `call-${turn}-${index}`,
        name: 'search',
        result: randomText(random, 1 + Math.floor(random() * maxWordsPerMessage)),
      }));
      builder.toolExchange(calls);
    }
    if (random() < 0.9) builder.assistant(randomText(random, 1 + Math.floor(random() * maxWordsPerMessage)));
  }
  return builder;
}
