import { expect } from 'vitest';

/** Half of a surrogate pair without its other half: what a cut through an emoji leaves behind. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string anywhere inside `value`. */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

/** Fails on any string inside `value` that holds half a surrogate pair. */
export function expectWellFormed(value: unknown): void {
  for (const text of stringsIn(value)) expect(LONE_SURROGATE.test(text), `lone surrogate in ${JSON.stringify(text.slice(0, 80))}…`).toBe(false);
}

/** How often `needle` occurs in `text`. */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Zero-width characters, bidirectional overrides, a ZWJ family, a flag, and Korean mixed with English. */
export const TRICKY = '비밀번호 reset 방법은? zero\u200Bwidth\u200D\u2060\uFEFF joiners, \u202Egnp.exe\u202C and \u2067فارسی\u2069 with 👩‍👩‍👧‍👦 🇰🇷 😀 done';

/**
 * Long runs with no space or line break, so every split is a hard cut: one starts on a pair and one
 * a character later, so whatever offset a limit falls on, one of them puts a pair across it.
 */
export function denseRuns(length: number): string[] {
  const unit = '😀가👩‍👩‍👧‍👦a🇰🇷😀';
  const run = unit.repeat(Math.ceil(length / unit.length));
  return [run.slice(0, length - (length % unit.length)), `x${run.slice(0, length - (length % unit.length))}`];
}
