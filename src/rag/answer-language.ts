/** The two languages the bot's own sentences come in; picked from the user's message. */
export type AnswerLanguage = 'ko' | 'en';

/** Korean when at least a fifth of the letters are Hangul (Korean messages often carry English terms). */
export function detectLanguage(text: string): AnswerLanguage {
  const letters = text.match(/\p{L}/gu) ?? [];
  if (letters.length === 0) return 'en';
  const hangul = letters.filter((letter) => /[\uac00-\ud7a3\u3131-\u318e]/.test(letter)).length;
  return hangul / letters.length >= 0.2 ? 'ko' : 'en';
}

/** The bot's own sentences in offline and not-found answers. */
export const PHRASES = {
  extractiveNotice: {
    en: 'This answer is extractive: sentences quoted from the knowledge base, chosen without a language model.',
    ko: '이 답변은 추출형입니다. 언어 모델 없이 지식 베이스의 문장을 그대로 골라 인용했습니다.',
  },
  notFound: {
    en: 'I could not find that in the knowledge base.',
    ko: '지식 베이스에서 해당 내용을 찾지 못했습니다.',
  },
  notFoundFor: {
    en: (question: string) => `I could not find anything about “${question}” in the knowledge base.`,
    ko: (question: string) => `“${question}”에 대한 내용은 지식 베이스에서 찾지 못했습니다.`,
  },
  trySuggestions: {
    en: (queries: string[]) => `You could try asking about: ${queries.join(', ')}.`,
    ko: (queries: string[]) => `다음과 같이 물어보실 수 있습니다: ${queries.join(', ')}.`,
  },
  unsupportedNotice: {
    en: (count: number) => `${count} statement${count === 1 ? ' was' : 's were'} left out because the cited document did not support ${count === 1 ? 'it' : 'them'}.`,
    ko: (count: number) => `인용한 문서가 뒷받침하지 않는 문장 ${count}개를 답변에서 뺐습니다.`,
  },
} as const;
