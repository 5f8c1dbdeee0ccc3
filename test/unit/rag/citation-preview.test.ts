import { describe, expect, it } from 'vitest';
import { CitationPreview } from '../../../src/rag/citation-preview.js';

function previewOf(deltas: string[]): string {
  const preview = new CitationPreview();
  return deltas.map((delta) => preview.push(delta)).join('') + preview.flush();
}

describe('CitationPreview', () => {
  const answer = '설정은 <doc-12>REDIS_URL로 합니다</doc-12>. Then <doc3>restart</doc3> it.';
  const expected = '설정은 REDIS_URL로 합니다. Then restart it.';

  it('removes citation tags from streamed text however the stream is cut', () => {
    for (let size = 1; size <= answer.length; size += 1) {
      const deltas: string[] = [];
      for (let start = 0; start < answer.length; start += size) deltas.push(answer.slice(start, start + size));
      expect(previewOf(deltas)).toBe(expected);
    }
  });

  it('never shows a tag fragment mid-stream', () => {
    const preview = new CitationPreview();
    expect(preview.push('see <do')).toBe('see ');
    expect(preview.push('c-7>this</doc-7>')).toBe('this');
  });

  it('keeps a lone angle bracket that never became a tag', () => {
    expect(previewOf(['if a <', ' b then'])).toBe('if a < b then');
    expect(previewOf(['ends with <'])).toBe('ends with <');
  });
});
