import { describe, expect, it } from 'vitest';
import { analyzeText, koreanStem } from '../../../src/knowledge/text-analysis.js';

describe('text analysis', () => {
  it('strips Korean particles so inflected nouns meet their stem', () => {
    expect(['보육료를', '보육료는', '보육료의', '보육료'].map(koreanStem)).toEqual(['보육료', '보육료', '보육료', '보육료']);
    expect(koreanStem('이')).toBe('이');
  });

  it('yields stemmed words without stopwords and Hangul bigrams from stems', () => {
    const terms = analyzeText('How do I configure the Redis tokens? 보육료를 신청');
    expect(terms.words).toEqual(['configur', 'redi', 'token', '보육료', '신청']);
    expect(terms.bigrams).toEqual(['보육', '육료', '신청']);
    expect(terms.trigrams).toEqual(['보육료']);
  });

  it('treats full-width and case variants alike', () => {
    expect(analyzeText('ＲＥＤＩＳ').words).toEqual(analyzeText('redis').words);
  });
});
