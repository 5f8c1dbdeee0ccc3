import { afterEach, describe, expect, it } from 'vitest';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, envelopeFrom } from '../../fakes/slack/slack-events.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from '../slack/slack-harness.js';
import { expectWellFormed } from './unicode-samples.js';

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('Slack source titles and notices made of emoji', () => {
  it('are bounded before an emoji, never through one, whatever the offset', async () => {
    for (const prefix of ['', 'x']) {
      const title = `${prefix}${'🎉'.repeat(200)}`;
      const answerer = scriptedAnswerer([
        {
          text: 'Parties are allowed on Fridays.',
          sources: [
            { docId: 'kb-1', title, url: 'https://docs.example.com/parties', snippet: '' },
            { docId: 'kb-2', title, snippet: '' },
          ],
          citations: [
            { after: 'Parties', source: 1 },
            { after: 'Fridays.', source: 2 },
          ],
        },
      ]);
      harness = await startSlackHarness({ answerer });
      await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
      await harness.waitForReports(1);

      const [reply] = harness.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
      expect(reply!.text).toContain('*Sources*');
      expectWellFormed([reply!.text, reply!.blocks]);
      // Slack's form encoding turns a lone half into a stray symbol instead of failing; none may appear.
      expect(new Set(reply!.text.match(/\p{Extended_Pictographic}/gu))).toEqual(new Set(['🎉']));
      await harness.close();
      harness = undefined;
    }
  });
});
