import { describe, expect, it } from 'vitest';
import { clipText, escapeMrkdwn, markdownToMrkdwn, mrkdwnLink, safeLinkUrl, sanitiseLinkLabel } from '../../../adapters/slack/mrkdwn.js';

describe('mrkdwn escaping', () => {
  it('escapes only ampersand and angle brackets', () => {
    expect(escapeMrkdwn('a & b < c > d "quoted" \'single\'')).toBe('a &amp; b &lt; c &gt; d "quoted" \'single\'');
  });

  it('turns every broadcast and mention token into inert text', () => {
    const escaped = escapeMrkdwn('<!channel> <!here> <!everyone> <@U0123ABC> <!subteam^S0123|@oncall> <#C0123>');
    expect(escaped).not.toMatch(/[<>]/);
    expect(escaped).toContain('&lt;!channel&gt;');
  });
});

describe('link labels and URLs', () => {
  it('flattens line breaks, replaces pipes and escapes brackets in titles', () => {
    expect(sanitiseLinkLabel('Reset\npassword | <b>guide</b>')).toBe('Reset password ¦ &lt;b&gt;guide&lt;/b&gt;');
  });

  it('bounds very long titles', () => {
    const label = sanitiseLinkLabel('x'.repeat(500));
    expect(label.length).toBeLessThanOrEqual(150);
    expect(label.endsWith('…')).toBe(true);
  });

  it('accepts only http and https URLs and encodes the characters that would end the token', () => {
    expect(safeLinkUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeLinkUrl('slack://open')).toBeUndefined();
    expect(safeLinkUrl('not a url')).toBeUndefined();
    expect(safeLinkUrl('https://kb.example.com/a|b>c?x=1&y=2')).toBe('https://kb.example.com/a%7Cb%3Ec?x=1&amp;y=2');
  });

  it('falls back to the bare label when the URL is unsafe', () => {
    expect(mrkdwnLink('ftp://files.example.com/x', '[1]')).toBe('[1]');
    expect(mrkdwnLink('https://kb.example.com/x', '[1]')).toBe('<https://kb.example.com/x|[1]>');
  });
});

describe('Markdown to mrkdwn', () => {
  it('converts bold, headings, bullets and links outside code', () => {
    const converted = markdownToMrkdwn(escapeMrkdwn('# Steps\n**Open** settings\n- item [guide](https://kb.example.com/g)'));
    expect(converted).toBe('*Steps*\n*Open* settings\n• item <https://kb.example.com/g|guide>');
  });

  it('leaves fenced and inline code untouched', () => {
    const source = '```\n**not bold** # no\n```\nuse `**raw**` here';
    expect(markdownToMrkdwn(source)).toBe('```\n**not bold** # no\n```\nuse `**raw**` here');
  });

  it('never turns a javascript: link into a clickable one', () => {
    expect(markdownToMrkdwn('[click](javascript:alert(1))')).not.toContain('<javascript');
  });
});

describe('clipText', () => {
  it('cuts before an emoji, never through its surrogate pair, at either parity', () => {
    for (const prefix of ['', 'x']) {
      const clipped = clipText(`${prefix}${'🎉'.repeat(50)}`, 20);
      expect(clipped.length).toBeLessThanOrEqual(20);
      expect(clipped.endsWith('…')).toBe(true);
      expect(clipped.slice(0, -1)).toBe(`${prefix}${'🎉'.repeat(Math.floor((clipped.length - 1 - prefix.length) / 2))}`);
    }
    expect(clipText('short', 20)).toBe('short');
  });
});

describe('links whose label is an address', () => {
  it('shows the real address next to a label naming another host, instead of hiding it behind the label', () => {
    expect(markdownToMrkdwn('[sso.example.com](https://evil.example.net/reset)')).toBe('sso.example.com (<https://evil.example.net/reset>)');
    expect(markdownToMrkdwn('[https://sso.example.com/login](https://evil.example.net/login)')).toBe('https://sso.example.com/login (<https://evil.example.net/login>)');
  });

  it('keeps ordinary labels and labels naming the same host as links', () => {
    expect(markdownToMrkdwn('[reset guide](https://docs.example.com/reset)')).toBe('<https://docs.example.com/reset|reset guide>');
    expect(markdownToMrkdwn('[docs.example.com/reset](https://docs.example.com/reset)')).toBe('<https://docs.example.com/reset|docs.example.com/reset>');
  });
});
