import { describe, expect, it } from 'vitest';
import { extractKeyFacts, formatKeyFacts, mergeKeyFacts, parseKeyFacts, type KeyFact } from '../../../src/compaction/key-facts.js';

function factsOf(content: string, role: 'user' | 'assistant' = 'user'): KeyFact[] {
  return extractKeyFacts([{ role, content }]);
}

describe('key facts', () => {
  it('finds Korean order, tracking and other numbered references, named by their noun', () => {
    expect(factsOf('제 주문번호는 2024-0815-7731입니다. 배송이 안 와요.')).toEqual([{ label: '주문번호', value: '2024-0815-7731' }]);
    expect(factsOf('송장 번호: 601234567890 으로 조회가 안 됩니다.')).toEqual([{ label: '송장번호', value: '601234567890' }]);
    expect(factsOf('회원번호가 A12345 인데 로그인이 안돼요')).toContainEqual({ label: '회원번호', value: 'A12345' });
  });

  it('finds English order and ticket numbers in their common spellings', () => {
    expect(factsOf('My order number is A-99812.')).toEqual([{ label: 'order number', value: 'A-99812' }]);
    expect(factsOf('see order #55123 please')).toEqual([{ label: 'order number', value: '55123' }]);
    expect(factsOf('Ticket #TCK-20931 was opened yesterday.')).toContainEqual({ label: 'ticket number', value: 'TCK-20931' });
    expect(factsOf('tracking no. 1Z999AA10123456784 shows nothing')).toContainEqual({ label: 'tracking number', value: '1Z999AA10123456784' });
  });

  it('finds error codes in Korean and English, including exception and errno names', () => {
    expect(factsOf('앱에서 오류 코드: E-1042 가 떠요')).toContainEqual({ label: 'error code', value: 'E-1042' });
    expect(factsOf('에러코드 40003 이 나옵니다')).toContainEqual({ label: 'error code', value: '40003' });
    expect(factsOf('the app shows error code 40003 and then NullPointerException')).toEqual([
      { label: 'error code', value: '40003' },
      { label: 'error code', value: 'NullPointerException' },
    ]);
    expect(factsOf('request failed: ECONNRESET')).toContainEqual({ label: 'error code', value: 'ECONNRESET' });
  });

  it('finds products with their versions', () => {
    expect(factsOf('앱 버전 3.2.1 쓰고 있고 iOS 17.2 입니다.')).toEqual([
      { label: '앱 버전', value: '3.2.1' },
      { label: 'iOS version', value: '17.2' },
    ]);
    expect(factsOf('Chrome 120.0.6099 on Windows')).toEqual([{ label: 'Chrome version', value: '120.0.6099' }]);
    expect(factsOf('since v2.4.0 it breaks')).toEqual([{ label: 'version', value: '2.4.0' }]);
  });

  it('finds prefixed ids and email addresses', () => {
    expect(factsOf('INC-4411 관련 문의입니다. 연락은 kim@example.co.kr 로 주세요.')).toEqual([
      { label: 'id', value: 'INC-4411' },
      { label: 'email', value: 'kim@example.co.kr' },
    ]);
  });

  it('keeps what the user tried and what the assistant promised, as sentences', () => {
    expect(factsOf('이미 재설치 해봤는데 안돼요. 감사합니다.')).toEqual([{ label: 'already tried', value: '이미 재설치 해봤는데 안돼요.' }]);
    expect(factsOf('I already restarted the router twice.')).toEqual([{ label: 'already tried', value: 'I already restarted the router twice.' }]);
    expect(factsOf('확인 후 내일까지 연락드리겠습니다. I will escalate this to billing.', 'assistant')).toEqual([
      { label: 'promised next step', value: '확인 후 내일까지 연락드리겠습니다.' },
      { label: 'promised next step', value: 'I will escalate this to billing.' },
    ]);
    // A promise counts only from the assistant, an attempt only from the user.
    expect(factsOf('확인 후 연락드리겠습니다.', 'user')).toEqual([]);
  });

  it('ignores dates, prices, quantities and tool output', () => {
    expect(factsOf('2024년 8월 15일에 주문했어요. 가격은 12,000원이었고 3개 샀어요.')).toEqual([]);
    expect(extractKeyFacts([{ role: 'tool', content: 'order number 12345' }])).toEqual([]);
  });

  it('round-trips through the summary block and merges without duplicates, most recent last', () => {
    const prior = [
      { label: '주문번호', value: '2024-0815-7731' },
      { label: 'error code', value: '40003' },
    ];
    const merged = mergeKeyFacts(prior, [{ label: 'error code', value: '40003' }, { label: 'ticket number', value: 'TCK-1' }]);
    expect(merged).toEqual([
      { label: '주문번호', value: '2024-0815-7731' },
      { label: 'error code', value: '40003' },
      { label: 'ticket number', value: 'TCK-1' },
    ]);
    const block = formatKeyFacts(merged);
    expect(parseKeyFacts(`${block}\nSummary:\n- text`)).toEqual(merged);
    expect(parseKeyFacts('no block here')).toEqual([]);
    expect(formatKeyFacts([])).toBe('');
  });

  it('bounds each group, dropping the facts unmentioned for longest', () => {
    const many = Array.from({ length: 40 }, (_, index) => ({ label: 'order number', value: `A${1000 + index}` }));
    const tried = Array.from({ length: 6 }, (_, index) => ({ label: 'already tried', value: `attempt ${index}` }));
    const merged = mergeKeyFacts(many, tried);
    expect(merged.filter((fact) => fact.label === 'order number')).toHaveLength(30);
    expect(merged[0]).toEqual({ label: 'order number', value: 'A1010' });
    expect(merged.filter((fact) => fact.label === 'already tried').map((fact) => fact.value)).toEqual(['attempt 2', 'attempt 3', 'attempt 4', 'attempt 5']);
  });
});
