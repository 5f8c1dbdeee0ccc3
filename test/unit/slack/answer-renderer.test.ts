import { describe, expect, it } from 'vitest';
import type { Answer } from '../../../src/engine/answer.js';
import { ACTION_IDS, renderAnswer, renderBody, renderFailure, renderPreview, renderSources, SLACK_LIMITS } from '../../../adapters/slack/answer-renderer.js';

function answer(overrides: Partial<Answer> = {}): Answer {
  return {
    id: 'answer-1',
    parts: [
      { type: 'text', text: 'Open **Settings** and choose Reset' },
      { type: 'citation', source: 1 },
      { type: 'text', text: '. Codes expire after 10 minutes' },
      { type: 'citation', source: 2 },
      { type: 'text', text: '.' },
    ],
    sources: [
      { docId: 'doc-1', title: 'Reset your password', url: 'https://kb.example.com/reset', snippet: '' },
      { docId: 'doc-2', title: 'Codes | limits\n<internal>', snippet: '' },
    ],
    mode: 'generated',
    notices: [],
    ...overrides,
  };
}

function allText(messages: ReturnType<typeof renderAnswer>): string {
  return JSON.stringify(messages);
}

describe('renderBody', () => {
  it('links citation markers to their source, and leaves sources without a URL as plain numbers', () => {
    expect(renderBody(answer())).toBe('Open *Settings* and choose Reset<https://kb.example.com/reset|[1]>. Codes expire after 10 minutes[2].');
  });

  it('escapes everything the model wrote, so it can never ping anyone', () => {
    const body = renderBody(answer({ parts: [{ type: 'text', text: 'Hey <!channel> and <!here>, ask <@U0ADMIN01> or <!subteam^S1|@ops> <https://evil.example|click>' }] }));
    expect(body).not.toMatch(/<[!@#]/);
    expect(body).not.toContain('<https://evil');
    expect(body).toContain('&lt;!channel&gt;');
  });

  it('never lets a citation link be rewritten by the Markdown conversion', () => {
    const body = renderBody(
      answer({
        parts: [{ type: 'text', text: '# Heading with cite' }, { type: 'citation', source: 1 }],
        sources: [{ docId: 'd', title: 't', url: 'https://kb.example.com/__init__/**x**', snippet: '' }],
      }),
    );
    expect(body).toContain('<https://kb.example.com/__init__/**x**|[1]>');
  });
});

describe('renderSources', () => {
  it('numbers the titles, links those with URLs and sanitises the rest', () => {
    expect(renderSources(answer().sources)).toBe('*Sources*\n1. <https://kb.example.com/reset|Reset your password>\n2. Codes ¦ limits &lt;internal&gt;');
  });

  it('stays within a section for many long titles', () => {
    const sources = Array.from({ length: 60 }, (_, index) => ({ docId: `d${index}`, title: 't'.repeat(200), url: `https://kb.example.com/${index}`, snippet: '' }));
    const text = renderSources(sources);
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionChars);
    expect(text).toMatch(/more_$/);
  });
});

describe('renderAnswer', () => {
  it('puts the answer, the sources and the feedback buttons in one message when it is short', () => {
    const messages = renderAnswer(answer());
    expect(messages).toHaveLength(1);
    const blocks = messages[0]!.blocks!;
    expect(blocks.map((block) => block.type)).toEqual(['section', 'section', 'actions']);
    const actions = blocks[2] as { elements: Array<{ action_id: string; value: string }> };
    expect(actions.elements.map((element) => element.action_id)).toEqual([ACTION_IDS.helpful, ACTION_IDS.notHelpful, ACTION_IDS.startOver, ACTION_IDS.talkToPerson]);
    expect(actions.elements.every((element) => element.value === 'answer-1')).toBe(true);
    expect(messages[0]!.text).toContain('*Sources*');
  });

  it('shows notices (such as compacted history) as a context line on the last message', () => {
    const messages = renderAnswer(answer({ notices: ['Earlier messages in this thread were summarised <to fit>.'] }));
    const context = messages.at(-1)!.blocks!.find((block) => block.type === 'context') as { elements: Array<{ text: string }> };
    expect(context.elements[0]!.text).toBe('_Earlier messages in this thread were summarised &lt;to fit&gt;._');
  });

  it('splits a 12,000-character answer into several messages within every Slack limit, trailer last', () => {
    const paragraphs: string[] = [];
    for (let index = 0; paragraphs.join('\n\n').length < 12_000; index += 1) {
      paragraphs.push(index % 5 === 2 ? `\`\`\`sh\n${Array.from({ length: 12 }, (_, line) => `echo step ${index}.${line}`).join('\n')}\n\`\`\`` : `Paragraph ${index}. ${'Some explanation text. '.repeat(12)}`);
    }
    const messages = renderAnswer(answer({ parts: [{ type: 'text', text: paragraphs.join('\n\n') }, { type: 'citation', source: 1 }] }));
    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const [index, message] of messages.entries()) {
      expect(message.text.length).toBeLessThanOrEqual(4_000);
      expect(message.blocks!.length).toBeLessThanOrEqual(50);
      for (const block of message.blocks!) {
        if (block.type === 'section') expect(block.text!.text.length).toBeLessThanOrEqual(3_000);
      }
      const hasControls = message.blocks!.some((block) => block.type === 'actions');
      expect(hasControls).toBe(index === messages.length - 1);
      expect((message.text.match(/```/g) ?? []).length % 2).toBe(0);
    }
    expect(allText(messages)).toContain('echo step 2.11');
  });
});

describe('previews and failures', () => {
  it('escapes preview text and marks it as unfinished', () => {
    const [preview] = renderPreview('Working on <!here> it');
    expect(preview!.text).toBe('Working on &lt;!here&gt; it …');
    expect(preview!.blocks).toBeUndefined();
  });

  it('renders a failure as one escaped line', () => {
    expect(renderFailure('Try again\n<later>').text).toBe(':warning: Try again &lt;later&gt;');
  });
});
