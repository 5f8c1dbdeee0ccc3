import { describe, expect, it } from 'vitest';
import { modelInfo, UnknownModelError } from '../../../src/providers/model-catalogue.js';
import { RateLimiter } from '../../../src/providers/http/rate-limiter.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetries } from '../../../src/providers/http/retry.js';

describe('retry policy', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('doubles the backoff per retry, with jitter within the upper half, capped', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });

  it('stops when the next wait would pass the total time budget', async () => {
    const waits: number[] = [];
    let attempts = 0;
    const failing = withRetries(
      async () => {
        attempts += 1;
        throw new Error('busy');
      },
      { policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 10, maxTotalMs: 2_500 }, classify: () => ({ retryable: true, retryAfterMs: 1_000 }), sleep: async (ms) => void waits.push(ms) },
    );
    await expect(failing).rejects.toThrow('busy');
    expect(waits).toEqual([1000, 1000]);
    expect(attempts).toBe(3);
  });

  it('does not retry what is classified as permanent', async () => {
    let attempts = 0;
    await expect(withRetries(async () => { attempts += 1; throw new Error('bad'); }, { policy: DEFAULT_RETRY_POLICY, classify: () => ({ retryable: false }) })).rejects.toThrow('bad');
    expect(attempts).toBe(1);
  });
});

describe('rate limiter', () => {
  it('admits callers first in, first out once the request window has room', async () => {
    const limiter = new RateLimiter({ requestsPerMinute: 2, windowMs: 50 });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4, 5].map((caller) => limiter.acquire(1).then((permit) => { order.push(caller); permit.settle(); })));
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('never lets an admission expire before its response arrived', async () => {
    const limiter = new RateLimiter({ requestsPerMinute: 1, windowMs: 10 });
    const inFlight = await limiter.acquire(1);
    let nextAdmitted = false;
    const next = limiter.acquire(1).then((permit) => { nextAdmitted = true; return permit; });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(nextAdmitted).toBe(false);
    inFlight.settle();
    (await next).settle();
    expect(nextAdmitted).toBe(true);
  });

  it('holds a caller whose tokens would pass the token budget, but never blocks an oversized call forever', async () => {
    const limiter = new RateLimiter({ tokensPerMinute: 100, windowMs: 50 });
    const first = await limiter.acquire(80);
    expect(first.waitedMs).toBe(0);
    first.settle();
    let secondAdmitted = false;
    const second = limiter.acquire(50).then((permit) => { secondAdmitted = true; permit.settle(); });
    expect(limiter.waiting).toBe(1);
    expect(secondAdmitted).toBe(false);
    await second;
    expect(secondAdmitted).toBe(true);
    await expect(limiter.acquire(500)).resolves.toMatchObject({ settle: expect.any(Function) });
  });
});

describe('model catalogue', () => {
  it('knows the documented windows and API versions', () => {
    expect(modelInfo('HCX-003')).toMatchObject({ apiVersion: 'v1', contextWindow: 8_192, maxInputTokens: 7_600 });
    expect(modelInfo('HCX-DASH-001')).toMatchObject({ apiVersion: 'v1', contextWindow: 4_096 });
    expect(modelInfo('HCX-005')).toMatchObject({ apiVersion: 'v3', contextWindow: 128_000, requestsPerMinute: 60 });
    expect(modelInfo('HCX-DASH-002')).toMatchObject({ apiVersion: 'v3', contextWindow: 32_000 });
    expect(modelInfo('HCX-007')).toMatchObject({ apiVersion: 'v3', maxOutputTokens: 32_768, supportsThinking: true });
  });

  it('applies overrides, and names the known models when one is unknown', () => {
    expect(modelInfo('HCX-005', { contextWindow: 4_096 })).toMatchObject({ contextWindow: 4_096, maxInputTokens: 4_096 });
    expect(modelInfo('my-tuned', { apiVersion: 'v3', contextWindow: 16_000 }).contextWindow).toBe(16_000);
    expect(() => modelInfo('HCX-999')).toThrow(UnknownModelError);
    expect(() => modelInfo('HCX-999')).toThrow(/HCX-003, HCX-DASH-001, HCX-005, HCX-DASH-002, HCX-007/);
  });
});
