import { describe, expect, it } from 'vitest';
import { BotError } from '../../../src/errors.js';
import { Metrics } from '../../../src/observability/metrics.js';

async function errorCount(metrics: Metrics, code: string): Promise<number> {
  const values = (await metrics.errors.get()).values;
  return values.find((value) => value.labels.code === code)?.value ?? 0;
}

describe('Metrics.countError', () => {
  it('counts one failure once, however many layers report it', async () => {
    const metrics = new Metrics();
    const refused = new BotError({ code: 'clova_auth', message: 'refused' });
    metrics.countError(refused); // the provider call
    metrics.countError(refused); // the engine failing the turn with the same error
    expect(await errorCount(metrics, 'clova_auth')).toBe(1);
    metrics.countError(new BotError({ code: 'clova_auth', message: 'refused again' }));
    expect(await errorCount(metrics, 'clova_auth')).toBe(2);
  });

  it('labels anything that is not ours by a generic code', async () => {
    const metrics = new Metrics();
    metrics.countError('a string was thrown');
    metrics.countError(new Error('plain'));
    expect(await errorCount(metrics, 'unexpected')).toBe(2);
  });
});
