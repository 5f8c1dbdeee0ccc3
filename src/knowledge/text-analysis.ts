/**
 * Turns text into the terms the lexical index matches on. Korean needs more than whitespace words:
 * particles glue onto nouns (`보육료를`, `보육료는`), so each Hangul word also yields a particle-stripped
 * stem and its character bigrams and trigrams, which match across inflections and compounds.
 */

const HANGUL_SYLLABLE = /[\uac00-\ud7a3]/;
const WORD = /[\p{L}\p{N}]+(?:[.'’][\p{L}\p{N}]+)*/gu;

/** Common Korean particles and endings, longest first, stripped from the end of a word to find its stem. */
const KOREAN_SUFFIXES = [
  '으로부터', '에게서는', '이라도', '에서는', '에서도', '으로는', '으로도', '에게는', '까지는', '부터는', '이라는',
  '이에요', '입니까', '합니까', '습니다', '됩니다', '인가요', '입니다', '에요', '예요', '해요', '나요', '까요', '이나', '에서', '에게', '으로', '까지', '부터', '처럼',
  '보다', '라도', '이라', '하고', '이며', '과의', '와의', '에는', '에도', '인데', '은', '는', '이', '가', '을', '를', '의',
  '에', '와', '과', '도', '로', '만', '요',
];

const ENGLISH_STOPWORDS = new Set(
  (
    'a an the and or but if then else of to in on at by for with from as is are was were be been being do does did ' +
    'i you he she it we they me my your our their this that these those there here what which who whom how why when ' +
    'where can could should would will shall may might must have has had not no yes so than too very just about into ' +
    'over under again also any some all each more most other such only own same s t don doesn isn aren wasn ' +
    'please tell know want need get got let use using used its it\'s i\'m hi hello hey thanks thank ok okay ' +
    'actually really still something anything'
  ).split(/\s+/),
);

/** Korean words that carry no topic (question scaffolding); they yield no terms. */
const KOREAN_STOPWORDS = new Set([
  '어떻게', '무엇', '무엇인가요', '무엇이', '어떤', '있나요', '있을까요', '하나요', '되나요', '알려주세요', '알려', '주세요',
  '궁금합니다', '궁금해요', '수', '있는', '있습니다', '합니다', '그리고', '또는', '및', '좀', '제가', '저는', '우리', '어디',
  '언제', '왜', '누가', '방법', '방법은', '것', '건가요', '경우', '때', '해야', '하면', '하려면', '싶어요', '싶은데',
  '안녕하세요', '감사합니다', '고맙습니다',
]);

/** NFKC + lower case: full-width forms, compatibility jamo and case variants compare equal. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** Words of `text` (letters and digits), normalised. */
export function words(text: string): string[] {
  return normalizeText(text).match(WORD) ?? [];
}

export function isHangulWord(word: string): boolean {
  return HANGUL_SYLLABLE.test(word);
}

/** The word without a trailing Korean particle or ending, when what remains is still a word. */
export function koreanStem(word: string): string {
  for (const suffix of KOREAN_SUFFIXES) {
    if (word.length > suffix.length + 1 && word.endsWith(suffix)) return word.slice(0, -suffix.length);
  }
  return word;
}

/** A light English stem: plural and a few inflections, so `tokens`/`token` and `configured`/`configure` meet. */
export function englishStem(word: string): string {
  let stem = word;
  if (stem.length > 5 && stem.endsWith('ies')) stem = `${stem.slice(0, -3)}y`;
  else if (stem.length > 5 && stem.endsWith('ing')) stem = stem.slice(0, -3);
  else if (stem.length > 4 && stem.endsWith('ed')) stem = stem.slice(0, -2);
  else if (stem.length > 3 && stem.endsWith('s') && !stem.endsWith('ss')) stem = stem.slice(0, -1);
  // `configure`, `configured` and `configuring` all end up as `configur`.
  if (stem.length > 4 && stem.endsWith('e')) stem = stem.slice(0, -1);
  return stem;
}

export function isStopword(word: string): boolean {
  return ENGLISH_STOPWORDS.has(word) || KOREAN_STOPWORDS.has(word);
}

/** Character n-grams of one word; a word shorter than `size` yields itself. */
export function characterNgrams(word: string, size: number): string[] {
  const characters = [...word];
  if (characters.length < size) return [];
  const grams: string[] = [];
  for (let start = 0; start + size <= characters.length; start += 1) grams.push(characters.slice(start, start + size).join(''));
  return grams;
}

/** The kinds of terms a text yields; scoring weights each kind separately. */
export interface AnalyzedTerms {
  /** Stemmed content words (stopwords removed). */
  words: string[];
  /** Hangul character bigrams within words. */
  bigrams: string[];
  /** Hangul character trigrams within words. */
  trigrams: string[];
}

/**
 * Analyses text into word, bigram and trigram terms.
 *
 * @example analyzeText('보육료를 신청하려면') → words ['보육료', '신청하려'], bigrams ['보육', '육료', …]
 */
export function analyzeText(text: string): AnalyzedTerms {
  const result: AnalyzedTerms = { words: [], bigrams: [], trigrams: [] };
  for (const word of words(text)) {
    if (isHangulWord(word)) {
      const stem = koreanStem(word);
      // Question scaffolding (`어떻게`, `있나요`) would match nearly every document; it yields no terms at all.
      if (isStopword(word) || isStopword(stem)) continue;
      result.words.push(stem);
      // n-grams come from the stem so a particle never forms a gram of its own with the noun's last syllable.
      result.bigrams.push(...characterNgrams(stem, 2));
      result.trigrams.push(...characterNgrams(stem, 3));
      if ([...stem].length === 1) result.bigrams.push(stem);
    } else if (!isStopword(word)) {
      result.words.push(englishStem(word));
    }
  }
  return result;
}

/** Distinct content terms of a text as one set (words and Hangul bigrams), for overlap measures. */
export function contentTermSet(text: string): Set<string> {
  const terms = analyzeText(text);
  return new Set([...terms.words.map((word) => `w:${word}`), ...terms.bigrams.map((gram) => `b:${gram}`)]);
}
