import { describe, expect, it } from 'vitest';
import { readServerSentEvents, SseBufferError } from '../../../src/providers/http/sse-reader.js';
import { collect } from '../../support/collect.js';

const body = [
  'id:1\nevent:token\ndata:{"message":{"content":"안녕"}}\n\n',
  'id: 2\r\nevent: token\r\ndata: {"message":{"content":"하세요 😀"}}\r\n\r\n',
  ': a comment line\n',
  'id:3\nevent:signal\ndata:{"data":"[DONE]"}\n\n',
].join('');
const bytes = new TextEncoder().encode(body);

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

function readAll(parts: Uint8Array[]) {
  return collect(readServerSentEvents(chunks(parts)));
}

describe('readServerSentEvents', () => {
  it('parses the same events whatever byte the body is split at, including inside Hangul and emoji', async () => {
    const whole = await readAll([bytes]);
    expect(whole.map((event) => [event.id, event.event, event.data])).toEqual([
      ['1', 'token', '{"message":{"content":"안녕"}}'],
      ['2', 'token', '{"message":{"content":"하세요 😀"}}'],
      ['3', 'signal', '{"data":"[DONE]"}'],
    ]);
    for (let split = 1; split < bytes.length; split += 1) {
      expect(await readAll([bytes.subarray(0, split), bytes.subarray(split)])).toEqual(whole);
    }
    expect(await readAll(Array.from(bytes, (byte) => Uint8Array.of(byte)))).toEqual(whole);
  });

  it('dispatches a last event that lacks its blank line once the body ends', async () => {
    const events = await readAll([new TextEncoder().encode('event:result\ndata:{"a":1}')]);
    expect(events).toEqual([{ event: 'result', data: '{"a":1}', id: undefined }]);
  });

  it('fails instead of buffering without bound', async () => {
    const endless = new TextEncoder().encode(`data:${'x'.repeat(5_000)}`);
    const reading = (async () => {
      for await (const event of readServerSentEvents(chunks([endless]), { maxBufferSize: 1_000 })) void event;
    })();
    await expect(reading).rejects.toBeInstanceOf(SseBufferError);
  });
});
