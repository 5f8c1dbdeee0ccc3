import { afterEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer, type ScriptStep } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** `[target, label]` of every link token in mrkdwn text. */
function slackLinks(text: string): Array<[string, string | undefined]> {
  return [...text.matchAll(/<([^<>|]+)(?:\|([^<>]*))?>/g)].map((match) => [match[1]!, match[2]]);
}

function hostOf(address: string): string | undefined {
  try {
    return new URL(/^[a-z]+:\/\//i.test(address) ? address : `https://${address}`).hostname;
  } catch {
    return undefined;
  }
}

/** Posts one answer made of `step` to Slack and returns the links it carries, after checking none is forged. */
async function linksPostedFor(step: ScriptStep): Promise<{ links: Array<[string, string | undefined]>; text: string }> {
  harness = await startSlackHarness({ answerer: scriptedAnswerer([step]) });
  await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
  await harness.waitForReports(1);
  const [reply] = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
  const links = slackLinks(`${reply!.text}\n${JSON.stringify(reply!.blocks ?? [])}`);
  expect(links.length).toBeGreaterThan(0);
  for (const [target, label] of links) {
    // A label that reads as an address must name the host the link really opens.
    if (label && /^(https?:\/\/)?([\w-]+\.)+[a-z]{2,}(\/\S*)?$/i.test(label.trim())) expect(hostOf(label.trim())).toBe(hostOf(target));
  }
  return { links, text: reply!.text };
}

describe('links whose visible text names another address', () => {
  it('in answer text: Slack never shows one web address while linking to another', async () => {
    // A document (or a model it steered) can write Markdown links whose text names a trusted site.
    const text = [
      'Sign in at [https://sso.example.com/login](https://evil.example.net/login) to reset it,',
      'or at [sso.example.com](https://evil.example.net/reset).',
      'The [reset guide](https://docs.example.com/reset) has details.',
    ].join(' ');
    const { links } = await linksPostedFor({ text });
    // Ordinary labelled links stay links.
    expect(links).toContainEqual(['https://docs.example.com/reset', 'reset guide']);
  });

  it('in a source title: Slack lists the source with its real address', async () => {
    // A knowledge document controls both its title and its URL, and the sources list links the one with the other.
    const sources = [{ docId: 'kb-9', title: 'https://sso.example.com/login', url: 'https://evil.example.net/login', snippet: '' }];
    const { links, text } = await linksPostedFor({ text: 'Sign in to reset it.', sources, citations: [{ after: 'reset it.', source: 1 }] });
    expect(text).toContain('*Sources*');
    // The citation marker still links to the source.
    expect(links).toContainEqual(['https://evil.example.net/login', '[1]']);
  });
});
