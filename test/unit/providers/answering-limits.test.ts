import { describe, expect, it } from 'vitest';
import { clovaAnsweringLimits } from '../../../src/providers/clova/answering-limits.js';
import { modelInfo } from '../../../src/providers/model-catalogue.js';

describe('clovaAnsweringLimits', () => {
  it('uses RAG Reasoning limits when it answers: output clamped to 1,024–4,095, window under the per-minute allowance', () => {
    const limits = clovaAnsweringLimits(modelInfo('HCX-005'), true, 512);
    expect(limits).toMatchObject({ maxOutputTokens: 1_024, maxWindowTokens: 128_000, defaultWindowTokens: 60_000, exactCountsAvailable: false, remoteSlidingSupported: false });
    expect(clovaAnsweringLimits(modelInfo('HCX-005'), true, 8_000).maxOutputTokens).toBe(4_095);
  });

  it('respects a chat model input cap below its window (HCX-DASH-001 takes 3,500 of 4,096) and offers remote sliding on v1', () => {
    const limits = clovaAnsweringLimits(modelInfo('HCX-DASH-001'), false, 256);
    expect(limits).toMatchObject({ maxOutputTokens: 256, maxWindowTokens: 3_756, exactCountsAvailable: true, remoteSlidingSupported: true });
    expect(clovaAnsweringLimits(modelInfo('HCX-005'), false, 1_024).remoteSlidingSupported).toBe(false);
  });
});
