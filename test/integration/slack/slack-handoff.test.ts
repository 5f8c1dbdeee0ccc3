import { afterEach, describe, expect, it } from 'vitest';
import { ACTION_IDS } from '../../../adapters/slack/index.js';
import { HANDOFF_ALREADY_REQUESTED } from '../../../adapters/slack/interactions.js';
import { scriptedAnswerer } from '../../support/engine-fixture.js';
import { deliverEvent, deliverInteraction, envelopeFrom, loadFixture } from '../../fakes/slack/slack-events.js';
import type { StoredSlackMessage } from '../../fakes/slack/message-store.js';
import { SLACK_IDS, startSlackHarness, type SlackHarness } from './slack-harness.js';

const AGENT = 'U0AGENT001';
/** Every token Slack turns into a notification: user mentions, broadcasts and user-group mentions. */
const PINGS = /<@[^>]+>|<!(?:channel|here|everyone|subteam\^)[^>]*>/g;

let harness: SlackHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function mentionThread(): StoredSlackMessage[] {
  return harness!.fake.store.threadReplies(SLACK_IDS.channel, SLACK_IDS.mentionTs);
}

function handoffButton(message: StoredSlackMessage): { value: string } {
  const actions = message.blocks?.find((block) => (block as { type: string }).type === 'actions') as { elements: Array<{ action_id: string; value: string }> } | undefined;
  const button = actions?.elements.find((element) => element.action_id === ACTION_IDS.talkToPerson);
  if (!button) throw new Error('the answer has no "Talk to a person" button');
  return button;
}

/** A block_actions payload for a click on "Talk to a person" under `answer`. */
function handoffClick(answer: StoredSlackMessage, user: string, actionTs: string): Record<string, unknown> {
  const payload = loadFixture('block-actions-feedback');
  const action = (payload.actions as Array<Record<string, unknown>>)[0]!;
  action.action_id = ACTION_IDS.talkToPerson;
  action.value = handoffButton(answer).value;
  action.action_ts = actionTs;
  (payload.user as Record<string, unknown>).id = user;
  (payload.message as Record<string, unknown>).ts = answer.ts;
  (payload.container as Record<string, unknown>).message_ts = answer.ts;
  return payload;
}

describe('Slack human handoff', () => {
  it('hands the thread to the contacts from the button, pinging only them, then keeps quiet until mentioned again', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    harness = await startSlackHarness({ answerer, escalationContacts: [AGENT] });
    const { eventsUrl, fake } = harness;
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: '<@U0BOTUSER1> my order ORD-88412 never arrived <!here> <!subteam^S0OPS|@ops>' }));
    await harness.waitForReports(1);
    const answer = mentionThread()[0]!;

    const callsBeforeClick = fake.calls.length;
    const response = await deliverInteraction(eventsUrl, SLACK_IDS.signingSecret, handoffClick(answer, SLACK_IDS.asker, '1763719300.111111'));
    expect(response.status).toBe(200);
    const [, clickReport] = await harness.waitForReports(2);
    expect(clickReport).toMatchObject({ eventType: ACTION_IDS.talkToPerson, result: 'handed-off' });

    const thread = mentionThread();
    expect(thread).toHaveLength(2);
    expect(thread[1]!.text).toMatch(/^<@U0AGENT001> A person is needed in this thread\./);
    expect(thread[1]!.text).toContain('ORD-88412');
    expect(thread[1]!.text).toContain('I have asked a person to take over this conversation');
    const sentAfterClick = fake.calls.slice(callsBeforeClick).map((call) => JSON.stringify(call.params)).join('\n');
    expect(sentAfterClick.match(PINGS)).toEqual([`<@${AGENT}>`]);
    expect(fake.callsTo('chat.postMessage').filter((call) => String(call.params.text).includes(`<@${AGENT}>`))).toHaveLength(1);
    expect(answerer.requests).toHaveLength(1);

    // Someone else clicks too: told privately, nobody is pinged twice.
    await deliverInteraction(eventsUrl, SLACK_IDS.signingSecret, handoffClick(answer, 'U0COLLEAG1', '1763719301.222222'));
    const [, , secondClick] = await harness.waitForReports(3);
    expect(secondClick).toMatchObject({ result: 'duplicate' });
    expect(fake.store.ephemerals).toEqual([{ channel: SLACK_IDS.channel, user: 'U0COLLEAG1', threadTs: SLACK_IDS.mentionTs, text: HANDOFF_ALREADY_REQUESTED }]);

    // The agent answers in the thread, then the customer thanks them: the bot says nothing.
    const callsBeforeAgent = fake.calls.length;
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply', { user: AGENT, ts: '1763719400.000300', text: 'Hi, I am looking into ORD-88412 now.' }));
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply', { ts: '1763719460.000400', text: 'thanks!' }));
    const quiet = (await harness.waitForReports(5)).slice(3);
    expect(quiet.map((report) => report.result)).toEqual(['ignored', 'ignored']);
    expect(fake.calls.slice(callsBeforeAgent)).toEqual([]);
    expect(answerer.requests).toHaveLength(1);

    // A mention brings the bot back, with the agent's words in the history it answers from.
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { ts: '1763719500.000500', threadTs: SLACK_IDS.mentionTs, text: '<@U0BOTUSER1> one more question' }));
    const [, , , , , back] = await harness.waitForReports(6);
    expect(back).toMatchObject({ result: 'answered' });
    expect(answerer.requests).toHaveLength(2);
    expect(answerer.requests[1]!.message.addressedToBot).toBe(true);
    expect(answerer.requests[1]!.history.map((message) => message.content)).toContain('Hi, I am looking into ORD-88412 now.');
    expect(mentionThread()).toHaveLength(3);
  });

  it('notices the handoff was taken when the first reply of the contact mentions the customer, and keeps asides between people as context', async () => {
    const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
    harness = await startSlackHarness({ answerer, escalationContacts: [AGENT] });
    const { eventsUrl, fake } = harness;
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { text: '<@U0BOTUSER1> my order ORD-88412 never arrived' }));
    await harness.waitForReports(1);
    await deliverInteraction(eventsUrl, SLACK_IDS.signingSecret, handoffClick(mentionThread()[0]!, SLACK_IDS.asker, '1763719300.444444'));
    await harness.waitForReports(2);

    const callsBeforeAgent = fake.calls.length;
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply', { user: AGENT, ts: '1763719400.000600', text: `<@${SLACK_IDS.asker}> I am on it.` }));
    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('thread-reply', { ts: '1763719460.000700', text: 'great, thank you' }));
    const [, , agentReport, customerReport] = await harness.waitForReports(4);
    expect([agentReport?.result, customerReport?.result]).toEqual(['ignored', 'ignored']);
    // Only a name lookup for the mention; nothing posted, updated or streamed.
    expect(fake.calls.slice(callsBeforeAgent).map((call) => call.method)).toEqual(['users.info']);
    expect(answerer.requests).toHaveLength(1);

    await deliverEvent(eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention', { ts: '1763719500.000800', threadTs: SLACK_IDS.mentionTs, text: '<@U0BOTUSER1> and the refund?' }));
    await harness.waitForReports(5);
    expect(answerer.requests[1]!.history.map((message) => message.content).join('\n')).toContain('I am on it.');
  });

  it('tells the asker plainly when nobody is set up to take over, and pings nobody', async () => {
    const answerer = scriptedAnswerer([{ text: 'First answer.' }]);
    harness = await startSlackHarness({ answerer, escalationContacts: [] });
    await deliverEvent(harness.eventsUrl, SLACK_IDS.signingSecret, envelopeFrom('app-mention'));
    await harness.waitForReports(1);
    const callsBeforeClick = harness.fake.calls.length;
    await deliverInteraction(harness.eventsUrl, SLACK_IDS.signingSecret, handoffClick(mentionThread()[0]!, SLACK_IDS.asker, '1763719300.333333'));
    const [, report] = await harness.waitForReports(2);
    expect(report).toMatchObject({ result: 'answered' });
    expect(mentionThread().at(-1)!.text).toContain('Nobody is set up to take over');
    expect(harness.fake.calls.slice(callsBeforeClick).map((call) => JSON.stringify(call.params)).join('\n')).not.toMatch(PINGS);
  });
});
