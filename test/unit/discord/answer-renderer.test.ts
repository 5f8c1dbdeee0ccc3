import { describe, expect, it } from 'vitest';
import type { Answer } from '../../../src/engine/answer.js';
import { MAX_ANSWER_CHARS, renderAnswerMarkdown } from '../../../adapters/discord/answer-renderer.js';
import { answerButtons, parseFeedbackCustomId, parseHandoffCustomId } from '../../../adapters/discord/answer-buttons.js';

function answer(overrides: Partial<Answer>): Answer {
  return { id: 'a1', parts: [{ type: 'text', text: 'Hi' }], sources: [], mode: 'generated', notices: [], ...overrides };
}

describe('renderAnswerMarkdown', () => {
  it('renders citation markers and a sources list with preview-suppressed links', () => {
    const markdown = renderAnswerMarkdown(
      answer({
        parts: [{ type: 'text', text: 'Reset it in Settings.' }, { type: 'citation', source: 1 }, { type: 'text', text: ' Tokens expire daily.' }, { type: 'citation', source: 2 }],
        sources: [
          { docId: 'd1', title: 'Password [reset] guide', url: 'https://docs.example.com/reset?a=1', snippet: '' },
          { docId: 'd2', title: 'Token *lifetime*', snippet: '' },
        ],
      }),
    );
    expect(markdown).toContain('Reset it in Settings.[1] Tokens expire daily.[2]');
    expect(markdown).toContain('**Sources**\n[1] [Password \\[reset\\] guide](<https://docs.example.com/reset?a=1>)\n[2] Token \\*lifetime\\*');
  });

  it('defuses mass pings in answer text, notices and titles', () => {
    const markdown = renderAnswerMarkdown(
      answer({
        parts: [{ type: 'text', text: '@everyone look, <@42>' }],
        notices: ['@here notice'],
        sources: [{ docId: 'd', title: '@everyone title', url: 'javascript:alert(1)', snippet: '' }],
      }),
    );
    expect(markdown).not.toMatch(/@everyone|@here|<@\d+>/);
    expect(markdown).not.toContain('javascript:');
    expect(markdown).toContain('-# @\u200bhere notice');
  });

  it('bounds an enormous answer and says it was cut', () => {
    const markdown = renderAnswerMarkdown(answer({ parts: [{ type: 'text', text: 'x'.repeat(50_000) }] }));
    expect(markdown.length).toBeLessThanOrEqual(MAX_ANSWER_CHARS);
    expect(markdown).toContain('was cut');
  });
});

describe('answer buttons', () => {
  it('round-trips the conversation and answer through each custom id', () => {
    const [row] = answerButtons('1234567890', 'answer-1');
    const ids = row?.components.map((button) => button.custom_id) ?? [];
    expect(row?.components.map((button) => button.label)).toEqual(['Helpful', 'Not helpful', 'Talk to a person']);
    expect(ids.slice(0, 2).map(parseFeedbackCustomId)).toEqual([
      { value: 'helpful', conversationChannelId: '1234567890', answerId: 'answer-1' },
      { value: 'not-helpful', conversationChannelId: '1234567890', answerId: 'answer-1' },
    ]);
    expect(parseHandoffCustomId(ids[2]!)).toEqual({ conversationChannelId: '1234567890', answerId: 'answer-1' });
    expect(parseFeedbackCustomId(ids[2]!)).toBeUndefined();
    expect(parseHandoffCustomId(ids[0]!)).toBeUndefined();
    expect(parseFeedbackCustomId('something-else')).toBeUndefined();
    expect(parseHandoffCustomId('handoff:not-a-channel:answer-1')).toBeUndefined();
  });

  it('leaves the buttons out rather than exceed the 100-character custom id limit', () => {
    expect(answerButtons('1234567890', 'x'.repeat(90))).toEqual([]);
  });
});
