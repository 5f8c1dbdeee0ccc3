import { describe, expect, it } from 'vitest';
import type { Retriever } from '../../../../src/providers/types.js';

/** The corpus every retriever under contract is loaded with (ids, titles and texts). */
export const CONTRACT_CORPUS = [
  { id: 'refunds', title: 'Refunds', content: 'Refunds are issued within 30 days of purchase. Gift cards cannot be refunded.' },
  { id: 'shipping', title: 'Shipping', content: 'Orders ship from Seoul within two business days. Tracking numbers arrive by email.' },
  { id: 'password', title: 'Password reset', content: 'To reset your password, open Settings, choose Security, then press Reset password.' },
  { id: 'ko-refunds', title: '환불 안내', content: '환불은 구매일로부터 30일 이내에 신청할 수 있습니다. 기프트 카드는 환불되지 않습니다.' },
  { id: 'ko-delivery', title: '배송 안내', content: '배송은 영업일 기준 2일 이내에 출고되며 송장 번호는 이메일로 안내됩니다.' },
  { id: 'ko-account', title: '계정 보안', content: '비밀번호를 재설정하려면 설정 메뉴에서 보안을 선택하세요.' },
] as const;

/**
 * The behaviour every `Retriever` must show, whatever is behind it. Each implementation runs this
 * suite once, loaded with `CONTRACT_CORPUS`.
 */
export function describeRetrieverContract(name: string, setup: () => Promise<{ retriever: Retriever; close?: () => Promise<void> }>): void {
  describe(`${name} (retriever contract)`, () => {
    const withRetriever = async (check: (retriever: Retriever) => Promise<void>) => {
      const { retriever, close } = await setup();
      try {
        await check(retriever);
      } finally {
        await close?.();
      }
    };

    it('ranks the document that answers an English question first', () =>
      withRetriever(async (retriever) => {
        const results = await retriever.search('How do I reset my password?', 3);
        expect(results[0]?.doc.id).toBe('password');
      }));

    it('matches Korean text across particles and endings', () =>
      withRetriever(async (retriever) => {
        const results = await retriever.search('환불을 받으려면 며칠 안에 신청해야 하나요?', 3);
        expect(results[0]?.doc.id).toBe('ko-refunds');
        const delivery = await retriever.search('송장 번호는 어디서 보나요', 3);
        expect(delivery[0]?.doc.id).toBe('ko-delivery');
      }));

    it('returns at most topK results, best first, with their text and stable ids', () =>
      withRetriever(async (retriever) => {
        const first = await retriever.search('refund password shipping 환불 배송', 2);
        expect(first.length).toBeLessThanOrEqual(2);
        expect(first.length).toBeGreaterThan(0);
        for (let index = 1; index < first.length; index += 1) expect(first[index]!.score).toBeLessThanOrEqual(first[index - 1]!.score);
        for (const result of first) {
          const original = CONTRACT_CORPUS.find((entry) => entry.id === result.doc.id);
          expect(original).toBeDefined();
          expect(result.doc.content).toContain(original!.content.slice(0, 20));
        }
        const again = await retriever.search('refund password shipping 환불 배송', 2);
        expect(again.map((result) => result.doc.id)).toEqual(first.map((result) => result.doc.id));
      }));

    it('returns nothing for a blank query or a zero topK', () =>
      withRetriever(async (retriever) => {
        expect(await retriever.search('   ', 5)).toEqual([]);
        expect(await retriever.search('refund', 0)).toEqual([]);
      }));

    it('rejects when the turn was already aborted', () =>
      withRetriever(async (retriever) => {
        const controller = new AbortController();
        controller.abort();
        await expect(retriever.search('refund', 3, controller.signal)).rejects.toThrow();
      }));

    it('bounds an oversized query instead of failing', () =>
      withRetriever(async (retriever) => {
        const results = await retriever.search(`password reset ${'x'.repeat(50_000)}`, 3);
        expect(results.length).toBeLessThanOrEqual(3);
      }));
  });
}
