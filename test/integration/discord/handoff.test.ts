import { afterEach, describe, expect, it } from 'vitest';
import type { MessageReport } from '../../../adapters/discord/index.js';
import { HANDOFF_ALREADY_REQUESTED } from '../../../adapters/discord/interaction-handler.js';
import { createTestEngine, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';
import { createInteractionKeys, sendInteraction, signInteraction } from '../../support/discord-http-interactions.js';
import { createDiscordTestBed, waitFor, type DiscordProcess, type DiscordTestBed } from '../../fakes/discord/discord-test-bed.js';
import type { FakeMessage } from '../../fakes/discord/fake-discord-server.js';
import { buttonClickPayload, messagePayload } from '../../fakes/discord/payloads.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const customer = { id: nextSnowflake(), username: 'minji' };
const agent = { id: nextSnowflake(), username: 'agent-kim' };
const supportRole = nextSnowflake();
const colleague = { id: nextSnowflake(), username: 'bystander' };

let bed: DiscordTestBed | undefined;
let testEngine: TestEngine | undefined;

afterEach(async () => {
  await bed?.close();
  await testEngine?.close();
  bed = undefined;
  testEngine = undefined;
});

async function start(options: { publicKey?: string } = {}) {
  const answerer = scriptedAnswerer((request) => ({ text: `Answer to: ${request.message.text}` }));
  testEngine = await createTestEngine({ answerer, escalationContacts: [agent.id, `&${supportRole}`] });
  bed = await createDiscordTestBed();
  const reports: MessageReport[] = [];
  const process = await bed.startProcess(testEngine.engine, { onMessageProcessed: (report) => reports.push(report), ...options });
  return { answerer, bed, process, reports };
}

/** Mentions the bot in the channel and waits for the answer in the thread it opens. */
async function openConversation(bed: DiscordTestBed, process: DiscordProcess, text: string): Promise<{ threadId: string; answer: FakeMessage }> {
  const mention = messagePayload({ guildId: bed.guildId, channelId: bed.channelId, channelType: 0, author: customer, content: `<@${bed.applicationId}> ${text}`, mentions: [{ id: bed.applicationId, username: 'threadline' }] });
  process.injector.messageCreate(mention);
  await waitFor('the answer in the new thread', () => bed.fake.channelMessages(mention.id).some((message) => message.components.length > 0));
  return { threadId: mention.id, answer: bed.fake.channelMessages(mention.id).find((message) => message.components.length > 0)! };
}

/** What everyone in the thread sees (ephemeral replies are for one person only). */
function visibleMessages(bed: DiscordTestBed, threadId: string): FakeMessage[] {
  return bed.fake.channelMessages(threadId).filter((message) => (message.flags & 64) === 0);
}

function handoffCustomId(answer: FakeMessage): string {
  const buttons = (answer.components as Array<{ components: Array<{ custom_id: string; label: string }> }>)[0]!.components;
  return buttons.find((button) => button.label === 'Talk to a person')!.custom_id;
}

function clickOn(bed: DiscordTestBed, threadId: string, answer: FakeMessage, user: { id: string; username: string }) {
  const click = buttonClickPayload({ applicationId: bed.applicationId, guildId: bed.guildId, channelId: threadId, channelType: 11, parentId: bed.channelId, user, customId: handoffCustomId(answer), message: bed.fake.messageObject(answer) });
  bed.fake.registerInteraction({ id: click.id, token: click.token, channelId: threadId, guildId: bed.guildId });
  return click;
}

function threadMessage(bed: DiscordTestBed, threadId: string, author: { id: string; username: string }, content: string, mentionsBot = false) {
  return messagePayload({ guildId: bed.guildId, channelId: threadId, channelType: 11, author, content, ...(mentionsBot ? { mentions: [{ id: bed.applicationId, username: 'threadline' }] } : {}) });
}

describe('discord human handoff', () => {
  it('hands the conversation to the contacts from the button, pinging only them, then keeps quiet until mentioned', async () => {
    const { answerer, bed, process, reports } = await start();
    const { threadId, answer } = await openConversation(bed, process, 'my order ORD-88412 never arrived @everyone');
    expect(bed.fake.pings).toEqual([]);

    const click = clickOn(bed, threadId, answer, customer);
    process.injector.interactionCreate(click);
    await waitFor('the handoff message', () => bed.fake.channelMessages(threadId).length === 2);
    const handoff = bed.fake.channelMessages(threadId)[1]!;
    expect(handoff.content.startsWith(`<@${agent.id}> <@&${supportRole}> A person is needed in this conversation.`)).toBe(true);
    expect(handoff.content).toContain('ORD-88412');
    expect(bed.fake.requests.find((request) => request.path === `/interactions/${click.id}/${click.token}/callback`)?.body).toEqual({ type: 6 });
    expect(bed.fake.pings).toEqual([{ messageId: handoff.id, everyone: false, users: [agent.id], roles: [supportRole] }]);
    // Every body the bot sent allows no mention at all, except the handoff, which lists exactly the contacts.
    const allowed = bed.fake.requests.flatMap((request) => {
      const mentions = (request.body as { allowed_mentions?: unknown } | undefined)?.allowed_mentions;
      return mentions === undefined ? [] : [mentions];
    });
    expect(allowed.filter((mentions) => JSON.stringify(mentions).includes('users'))).toEqual([{ users: [agent.id], roles: [supportRole], replied_user: false }]);
    expect(allowed.filter((mentions) => !JSON.stringify(mentions).includes('users')).every((mentions) => JSON.stringify(mentions) === '{"parse":[],"replied_user":false}')).toBe(true);

    // Someone else clicks too: told privately, nobody pinged twice.
    const second = clickOn(bed, threadId, answer, colleague);
    process.injector.interactionCreate(second);
    await waitFor('the private note', () => bed.fake.requests.some((request) => request.path === `/interactions/${second.id}/${second.token}/callback`));
    expect(bed.fake.requests.find((request) => request.path === `/interactions/${second.id}/${second.token}/callback`)?.body).toMatchObject({ type: 4, data: { content: HANDOFF_ALREADY_REQUESTED, flags: 64 } });
    expect(bed.fake.pings).toHaveLength(1);

    // The agent answers in the thread, the customer thanks them: the bot says nothing.
    process.injector.messageCreate(threadMessage(bed, threadId, agent, 'Hi, I am looking into ORD-88412 now.'));
    await waitFor('the agent message to be handled', () => reports.length === 2);
    process.injector.messageCreate(threadMessage(bed, threadId, customer, 'thanks!'));
    await waitFor('the customer message to be handled', () => reports.length === 3);
    expect(reports.slice(1).map((report) => report.result)).toEqual(['ignored', 'ignored']);
    expect(visibleMessages(bed, threadId)).toHaveLength(2);
    expect(answerer.requests).toHaveLength(1);

    // A mention brings the bot back, with the agent's words in the history.
    process.injector.messageCreate(threadMessage(bed, threadId, customer, `<@${bed.applicationId}> one more question`, true));
    await waitFor('the answer after the mention', () => reports.length === 4);
    expect(reports[3]!.result).toBe('answered');
    expect(answerer.requests[1]!.message.addressedToBot).toBe(true);
    expect(answerer.requests[1]!.history.map((message) => message.content)).toContain('Hi, I am looking into ORD-88412 now.');
    expect(visibleMessages(bed, threadId).at(-1)!.content).toBe('Answer to: one more question');
  });

  it('acknowledges a click on the HTTP interactions endpoint with a deferred update and hands off once', async () => {
    const keys = createInteractionKeys();
    const { bed, process } = await start({ publicKey: keys.publicKey });
    const port = await process.http.listen(0, '127.0.0.1');
    const { threadId, answer } = await openConversation(bed, process, 'the invoice is wrong');

    const click = clickOn(bed, threadId, answer, customer);
    const response = await sendInteraction(`http://127.0.0.1:${port}/discord/interactions`, signInteraction(click, keys.privateKey));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ type: 6 });
    await waitFor('the handoff message', () => bed.fake.pings.length === 1);
    expect(bed.fake.pings[0]).toMatchObject({ users: [agent.id], roles: [supportRole], everyone: false });
    expect(bed.fake.channelMessages(threadId)).toHaveLength(2);
  });
});
