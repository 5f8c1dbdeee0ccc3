import { describe, expect, it } from 'vitest';
import { defuseMentions, mentionsBotInText, stripBotMention } from '../../../adapters/discord/mentions.js';

describe('defuseMentions', () => {
  it('breaks @everyone, @here, user and role mentions', () => {
    const defused = defuseMentions('Hey @everyone and @HERE, ask <@123> or <@!456> or <@&789>');
    expect(defused).not.toMatch(/@everyone|@here/i);
    expect(defused).not.toMatch(/<@!?&?\d+>/);
    expect(defused.replace(/\u200b/g, '')).toBe('Hey @everyone and @HERE, ask <@123> or <@!456> or <@&789>');
  });

  it('leaves e-mail addresses and channel links alone', () => {
    expect(defuseMentions('mail ops@example.com in <#42>')).toBe('mail ops@example.com in <#42>');
  });
});

describe('stripBotMention', () => {
  it('removes both mention forms of the bot and keeps other mentions', () => {
    expect(stripBotMention('<@100> how do I  reset <@!100> my password? cc <@200>', '100')).toBe('how do I reset my password? cc <@200>');
  });
});

describe('mentionsBotInText', () => {
  it('finds the bot in either mention form, but not another user, a role with its id, or a longer id', () => {
    expect(mentionsBotInText('<@100>', '100')).toBe(true);
    expect(mentionsBotInText('hi <@!100>', '100')).toBe(true);
    expect(mentionsBotInText('<@200> <@&100>', '100')).toBe(false);
    expect(mentionsBotInText('<@1000>', '100')).toBe(false);
    expect(mentionsBotInText('', '100')).toBe(false);
  });
});
