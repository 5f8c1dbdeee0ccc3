/**
 * Key facts of a support case (order and ticket numbers, ids, error codes, product versions, what was
 * tried, the promised next step), found with patterns in Korean and English text and carried forward
 * explicitly from one rolling summary to the next, so no amount of re-summarising can lose them.
 */

/** One fact: a short label ("order number", "주문번호", "error code") and its value. */
export interface KeyFact {
  label: string;
  value: string;
}

/** A message as the extractor sees it. */
export interface FactSource {
  role: 'user' | 'assistant' | 'tool' | 'system';
  content: string;
}

/** The header that opens the facts block of a summary; `parseKeyFacts` looks for it. */
export const KEY_FACTS_HEADER = 'Key facts so far:';

const TRIED_LABEL = 'already tried';
const NEXT_STEP_LABEL = 'promised next step';
const MAX_IDENTIFIER_FACTS = 30;
const MAX_TRIED_FACTS = 4;
const MAX_NEXT_STEP_FACTS = 2;
const MAX_SENTENCE_CHARACTERS = 160;
const MAX_VALUE_CHARACTERS = 80;

// An identifier value: starts with a letter or digit, then letters, digits, dashes, dots, slashes or underscores.
const VALUE = String.raw`([A-Za-z0-9][A-Za-z0-9._/-]{2,}[A-Za-z0-9]|[A-Za-z0-9]{3})`;

interface FactPattern {
  pattern: RegExp;
  /** Builds the label from the match (for "X번호" the Korean noun names the fact). */
  label: (match: RegExpExecArray) => string;
  /** Which capture group holds the value. */
  valueGroup: number;
}

const PATTERNS: FactPattern[] = [
  {
    // "order number 12345", "ticket #TCK-991", "tracking no. 1Z999", "case id: 88812".
    pattern: new RegExp(
      String.raw`\b(order|ticket|case|tracking|invoice|reference|ref|booking|reservation|account|serial|transaction|refund|payment|customer|member|user)\s*(?:number|no\.?|num|#|id)\s*(?:is|was|:)?\s*#?\s*` + VALUE,
      'gi',
    ),
    label: (match) => `${(match[1] ?? '').toLowerCase()} number`,
    valueGroup: 2,
  },
  {
    // "order #A-1234" / "ticket: 5521" without the word "number".
    pattern: new RegExp(String.raw`\b(order|ticket|case|invoice)\s*(?:#|:)\s*` + VALUE, 'gi'),
    label: (match) => `${(match[1] ?? '').toLowerCase()} number`,
    valueGroup: 2,
  },
  {
    // "주문번호는 2024-0815-7731", "송장 번호: 6012…", "회원 번호 A123" (any Korean noun before 번호).
    pattern: new RegExp(String.raw`([가-힣]{1,6})\s*번호\s*(?:는|은|가|이|:|#|으로|로)?\s*(?:는|은)?\s*#?\s*` + VALUE, 'g'),
    label: (match) => `${match[1] ?? ''}번호`,
    valueGroup: 2,
  },
  {
    // "error code 40003", "오류 코드: E-1042", "error: ECONNRESET", "에러 코드는 0x80070005".
    pattern: new RegExp(String.raw`(?:\berror|\berr|오류|에러|\bstatus)\s*(?:code|코드)?\s*(?:는|은|가|:|=|#)?\s*` + String.raw`(0x[0-9A-Fa-f]+|[A-Z]{1,6}[-_]?\d{2,6}|\d{3,6}|E[A-Z]{3,})\b`, 'gi'),
    label: () => 'error code',
    valueGroup: 1,
  },
  {
    // Exception and errno names, which are codes in their own right: "NullPointerException", "ETIMEDOUT".
    pattern: /\b([A-Z][A-Za-z]+(?:Exception|Error)|E(?:CONNRESET|CONNREFUSED|TIMEDOUT|NOTFOUND|ACCES|PERM|PIPE|ADDRINUSE|NOENT))\b/g,
    label: () => 'error code',
    valueGroup: 1,
  },
  {
    // A product with its version: "iOS 17.2", "Chrome 120.0.6099", "앱 버전 3.2.1", "v2.4.0".
    pattern: /((?:[A-Za-z][A-Za-z0-9+]{1,24}|[가-힣]{1,10})(?:\s+(?:version|ver\.?|버전))?\s+v?|\bv|(?:version|버전)\s*)(\d+(?:\.\d+){1,3}[A-Za-z0-9-]*)/g,
    label: (match) => versionLabel(match[1] ?? ''),
    valueGroup: 2,
  },
  {
    // Dash-separated ids with a letter prefix: "TCK-20931", "INC-4411", "ORD-2024-118".
    pattern: /\b([A-Z]{2,10}-\d[\dA-Z-]{1,20})\b/g,
    label: () => 'id',
    valueGroup: 1,
  },
  {
    pattern: /\b([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b/g,
    label: () => 'email',
    valueGroup: 1,
  },
];

const TRIED_CUES = /\b(?:tried|already|restarted|reinstalled|re-installed|cleared|rebooted|updated|reset|logged out|downgraded)\b|해\s?봤|해\s?보았|했는데|했지만|시도|재설치|재부팅|재시작|초기화|껐다\s?켜|삭제\s?후|로그아웃/i;
const NEXT_STEP_CUES = /\b(?:I will|I'll|we will|we'll|will (?:send|check|follow|get back|escalate|contact)|next step)\b|드리겠습니다|하겠습니다|예정입니다|연락\s?드리|안내해\s?드릴|확인\s?후\s?(?:연락|안내)|전달하겠습니다/i;

/** Finds key facts in `sources` (oldest first); facts repeat in the result only once. */
export function extractKeyFacts(sources: readonly FactSource[]): KeyFact[] {
  const facts: KeyFact[] = [];
  for (const source of sources) {
    if (source.role === 'tool' || source.role === 'system') continue;
    facts.push(...identifierFacts(source.content));
    for (const sentence of sentencesOf(source.content)) {
      if (source.role === 'user' && TRIED_CUES.test(sentence)) facts.push({ label: TRIED_LABEL, value: clip(sentence, MAX_SENTENCE_CHARACTERS) });
      if (source.role === 'assistant' && NEXT_STEP_CUES.test(sentence)) facts.push({ label: NEXT_STEP_LABEL, value: clip(sentence, MAX_SENTENCE_CHARACTERS) });
    }
  }
  return mergeKeyFacts([], facts);
}

function identifierFacts(text: string): KeyFact[] {
  const found: Array<{ at: number; fact: KeyFact }> = [];
  const seenValues = new Set<string>();
  for (const { pattern, label, valueGroup } of PATTERNS) {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const value = match[valueGroup]?.replace(/[.\-/_]+$/, '');
      if (!value || value.length < 3 || !/\d|[A-Z]{3,}|@|Exception|Error/.test(value)) continue;
      // The first pattern that claims a value names it ("order number" beats the generic "id").
      const key = value.toLowerCase();
      if (seenValues.has(key)) continue;
      seenValues.add(key);
      found.push({ at: match.index, fact: { label: label(match), value: clip(value, MAX_VALUE_CHARACTERS) } });
    }
  }
  return found.sort((left, right) => left.at - right.at).map((entry) => entry.fact);
}

// Words that often stand before a version number without naming a product.
const NOT_PRODUCTS = new Set(['since', 'in', 'on', 'at', 'from', 'to', 'with', 'of', 'the', 'and', 'or', 'use', 'using', 'is', 'was', 'after', 'before', 'upgraded', 'updated', 'installed', 'running', 'latest', 'new', 'old']);

function versionLabel(prefix: string): string {
  const product = prefix.replace(/\s*(?:version|ver\.?|버전)\s*$/i, '').replace(/\s+v?$/i, '').trim();
  if (product === '' || /^(?:v|version|ver\.?|버전)$/i.test(product) || NOT_PRODUCTS.has(product.toLowerCase())) return 'version';
  return /[가-힣]/.test(product) ? `${product} 버전` : `${product} version`;
}

/**
 * Merges `next` into `prior`: a fact seen again moves to the end (it is current), and each group is
 * bounded, dropping the longest-unmentioned facts first, so the block stays small over hundreds of turns.
 */
export function mergeKeyFacts(prior: readonly KeyFact[], next: readonly KeyFact[]): KeyFact[] {
  const byKey = new Map<string, KeyFact>();
  for (const fact of [...prior, ...next]) {
    const key = `${fact.label.toLowerCase()}\u0000${fact.value.toLowerCase()}`;
    byKey.delete(key);
    byKey.set(key, fact);
  }
  const all = [...byKey.values()];
  const tried = all.filter((fact) => fact.label === TRIED_LABEL).slice(-MAX_TRIED_FACTS);
  const nextSteps = all.filter((fact) => fact.label === NEXT_STEP_LABEL).slice(-MAX_NEXT_STEP_FACTS);
  const identifiers = all.filter((fact) => fact.label !== TRIED_LABEL && fact.label !== NEXT_STEP_LABEL).slice(-MAX_IDENTIFIER_FACTS);
  return [...identifiers, ...tried, ...nextSteps];
}

/** The facts block of a summary: the header, then one `- label: value` line per fact. Empty when there are none. */
export function formatKeyFacts(facts: readonly KeyFact[]): string {
  if (facts.length === 0) return '';
  return [KEY_FACTS_HEADER, ...facts.map((fact) => `- ${fact.label}: ${oneLine(fact.value)}`)].join('\n');
}

/** Reads the facts block back from a summary written by `formatKeyFacts` (anything else yields none). */
export function parseKeyFacts(summary: string): KeyFact[] {
  const lines = summary.split('\n');
  const start = lines.findIndex((line) => line.trim() === KEY_FACTS_HEADER);
  if (start < 0) return [];
  const facts: KeyFact[] = [];
  for (const line of lines.slice(start + 1)) {
    const match = /^- ([^:]{1,60}): (.+)$/.exec(line.trim());
    if (!match) break;
    facts.push({ label: match[1] ?? '', value: match[2] ?? '' });
  }
  return facts;
}

/** Splits text into sentences (Korean and English punctuation, line breaks). */
export function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[.!?。？！])\s+|\n+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

function clip(text: string, limit: number): string {
  const flat = oneLine(text);
  // Cut before an emoji, not through it: half a surrogate pair corrupts whatever message quotes the fact.
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1).replace(/[\uD800-\uDBFF]$/, '').trimEnd()}…`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
