import { describe, expect, it } from 'vitest';
import { droppedPrefixLength, firstKeptTurn } from '../../../src/compaction/sliding-window.js';
import { groupIntoTurns } from '../../../src/compaction/conversation-turns.js';
import type { ChatMessage } from '../../../src/providers/types.js';
import { HistoryBuilder } from './history-builder.js';

describe('firstKeptTurn (the documented sliding-window rule)', () => {
  // The CLOVA guide's worked example: oldest turns of 100 and 200 tokens, then more history.
  const turns = [100, 200, 300, 400];
  const total = 1_000;

  it('drops both oldest turns when the excess is 200 tokens', () => {
    expect(firstKeptTurn(turns, total - 200)).toBe(2);
  });

  it('drops only the oldest turn when the excess is at most 100 tokens', () => {
    expect(firstKeptTurn(turns, total - 100)).toBe(1);
    expect(firstKeptTurn(turns, total - 1)).toBe(1);
  });

  it('drops nothing when the history fits', () => {
    expect(firstKeptTurn(turns, total)).toBe(0);
  });

  it('never drops the newest turn and reports when even it does not fit', () => {
    expect(firstKeptTurn(turns, 400)).toBe(3);
    expect(firstKeptTurn(turns, 399)).toBeUndefined();
    expect(firstKeptTurn([], 10)).toBe(0);
  });
});

describe('droppedPrefixLength (checking a remote sliding result)', () => {
  const sent: ChatMessage[] = [
    { role: 'system', content: 'summary' },
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
  ];

  it('counts the messages dropped from the front after the system message', () => {
    expect(droppedPrefixLength(sent, sent)).toBe(0);
    expect(droppedPrefixLength(sent, [sent[0]!, sent[2]!, sent[3]!])).toBe(1);
    expect(droppedPrefixLength(sent, [sent[0]!, sent[3]!])).toBe(2);
  });

  it('rejects a result that changed, reordered or lost the system message', () => {
    expect(droppedPrefixLength(sent, [sent[1]!, sent[3]!])).toBeUndefined();
    expect(droppedPrefixLength(sent, [sent[0]!, { role: 'user', content: 'changed' }])).toBeUndefined();
    expect(droppedPrefixLength(sent, [sent[0]!, sent[3]!, sent[2]!])).toBeUndefined();
    expect(droppedPrefixLength(sent, [...sent, { role: 'user', content: 'extra' }])).toBeUndefined();
  });
});

describe('groupIntoTurns', () => {
  const oneToken = () => 1;

  it('starts a turn at each user message and keeps the answer with its question', () => {
    const history = new HistoryBuilder().assistant('hello, I am the bot').user('q1').assistant('a1').user('q2').user('q3').assistant('a3');
    const turns = groupIntoTurns(history.messages, oneToken);
    expect(turns.map((turn) => turn.messages.map((message) => message.content))).toEqual([['hello, I am the bot'], ['q1', 'a1'], ['q2'], ['q3', 'a3']]);
    expect(turns.map((turn) => turn.tokens)).toEqual([1, 2, 1, 2]);
  });

  it('keeps a tool call together with all its results', () => {
    const history = new HistoryBuilder()
      .user('q')
      .toolExchange([
        { id: 'c1', name: 'search', result: 'r1' },
        { id: 'c2', name: 'search', result: 'r2' },
      ])
      .assistant('a');
    const [turn] = groupIntoTurns(history.messages, oneToken);
    expect(turn?.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
  });

  it('removes tool results without their call and calls without their results', () => {
    const history = new HistoryBuilder()
      .user('q')
      .tool('orphan result', 'nowhere')
      .add({ role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'search', arguments: {} }, { id: 'c2', name: 'search', arguments: {} }] })
      .tool('only one result', 'c1')
      .add({ role: 'assistant', content: 'I looked it up', toolCalls: [{ id: 'c3', name: 'search', arguments: {} }] })
      .assistant('final');
    const [turn] = groupIntoTurns(history.messages, oneToken);
    expect(turn?.messages.map((message) => [message.role, message.content, message.toolCalls?.length ?? 0])).toEqual([
      ['user', 'q', 0],
      ['assistant', 'I looked it up', 0],
      ['assistant', 'final', 0],
    ]);
  });
});
