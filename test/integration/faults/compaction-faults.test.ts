import { afterEach, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../../src/history/thread-state.js';
import { waitFor } from '../../fakes/discord/discord-test-bed.js';
import { requireRedisUrl } from '../../support/redis.js';
import { createFaultBed, type FaultBed } from './support/fault-bed.js';

/** Twelve earlier turns of an ordinary support conversation, as the store would hold them. */
function earlierTurns(startedAt: number): StoredMessage[] {
  return Array.from({ length: 12 }, (_, turn) => [
    { id: `earlier-${turn}`, role: 'user' as const, content: `Question ${turn}: our staging replicas lose the thread history after a deploy; which Redis setting keeps it across restarts?`, createdAt: startedAt + turn * 2, authorId: 'U1', status: 'answered' as const },
    { id: `answer-earlier-${turn}`, role: 'assistant' as const, content: `Answer ${turn}: point every replica at the same REDIS_URL and keep THREAD_TTL_SECONDS long enough; history then survives a deploy.`, createdAt: startedAt + turn * 2 + 1 },
  ]).flat();
}

describe('a whole turn when the summariser hangs', () => {
  let bed: FaultBed | undefined;
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('slides instead of waiting, answers completely with a notice, loses no stored message, and summarises on a later turn', async () => {
    bed = await createFaultBed({ redisUrl: requireRedisUrl(), historyTokens: 600, summaryTimeoutMs: 300 });
    const first = await bed.ask('How do I configure Redis for several replicas?');
    const opened = await bed.stored(first.threadId);
    if (!opened) throw new Error('the first turn stored nothing');
    await bed.backends.store.save({ ...opened, messages: [...earlierTurns(opened.createdAt - 1_000), ...opened.messages] });
    bed.clova.injectFaults('summarization', { fault: 'slow-first-byte', delayMs: 10_000 });

    const hung = await bed.ask('Redis를 어떻게 설정하나요?', first.threadId);

    expect(hung.reply.components.length).toBeGreaterThan(0);
    expect(hung.reply.content).toContain('Earlier messages in this thread were left out');
    expect(bed.finalRepliesSent(hung.token)).toHaveLength(1);
    expect(bed.clova.requestsFor('summarization')).toHaveLength(1);
    const clova = bed.clova;
    await waitFor('the abandoned summary request to close', () => clova.activeResponses() === 0);
    const afterHang = await bed.stored(first.threadId);
    expect(afterHang?.messages).toHaveLength(24 + 4);
    expect(afterHang?.messages.filter((message) => message.role === 'user').every((message) => message.status === 'answered')).toBe(true);
    expect(afterHang?.summary).toBeUndefined();
    expect(afterHang?.compaction?.summaryRetryPending).toBe(true);
    const sent = bed.clova.requestsFor('rag-reasoning').at(-1)?.body as { messages: Array<{ role: string }> };
    expect(sent.messages.filter((message) => message.role === 'user').length).toBeLessThan(14);

    const later = await bed.ask('And which key prefix should I use?', first.threadId);
    expect(later.reply.components.length).toBeGreaterThan(0);
    const afterRecovery = await bed.stored(first.threadId);
    expect(afterRecovery?.messages).toHaveLength(24 + 6);
    expect(afterRecovery?.summary?.text.length).toBeGreaterThan(0);
  });
});
