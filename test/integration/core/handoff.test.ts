import { afterEach, describe, expect, it } from 'vitest';
import { createTestEngine, incomingMessage, recordingSink, scriptedAnswerer, type TestEngine } from '../../support/engine-fixture.js';

const fixtures: TestEngine[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.close();
});

async function engine(contacts: string[] | undefined) {
  const answerer = scriptedAnswerer((request) => ({ text: `bot answer to: ${request.message.text}` }));
  const fixture = await createTestEngine({ answerer, ...(contacts ? { escalationContacts: contacts } : {}) });
  fixtures.push(fixture);
  return { ...fixture, answerer };
}

const thread = 'slack:T1:C1:900.000';

describe('human handoff', () => {
  it('notifies the contacts with a case summary when the user asks for a person, then stays quiet once one of them replies', async () => {
    const { engine: bot, backends, answerer } = await engine(['U-AGENT']);
    await bot.handle(incomingMessage(thread, 'My order ORD-88412 never arrived, I already tried the tracking page', { author: { id: 'U-CUSTOMER' }, addressedToBot: true }), recordingSink());

    const sink = recordingSink();
    const outcome = await bot.handle(incomingMessage(thread, 'this is not helping, can I talk to a human?', { author: { id: 'U-CUSTOMER' } }), sink);
    expect(outcome).toEqual({ kind: 'handed-off', contacts: ['U-AGENT'] });
    const handoff = sink.events.find((event) => event.type === 'handoff-requested');
    expect(handoff).toMatchObject({ contacts: ['U-AGENT'] });
    expect(handoff?.type === 'handoff-requested' && handoff.summary).toContain('ORD-88412');
    expect(answerer.requests).toHaveLength(1);

    // The agent replies in the thread: kept in history, the bot says nothing.
    const agentReply = await bot.handle(incomingMessage(thread, 'Hi, I am looking into ORD-88412 now.', { author: { id: 'U-AGENT' } }), recordingSink());
    expect(agentReply.kind).toBe('ignored');
    // The customer answers the agent: still quiet.
    const customerReply = await bot.handle(incomingMessage(thread, 'thanks!', { author: { id: 'U-CUSTOMER' } }), recordingSink());
    expect(customerReply.kind).toBe('ignored');
    expect(answerer.requests).toHaveLength(1);
    // Quiet turns end with nothing left for crash recovery to look at.
    expect(await backends.coordinator.listPending(thread)).toEqual([]);
    expect(await backends.coordinator.listInFlight()).toEqual([]);

    // Mentioning the bot brings it back, with the whole conversation (the agent's words included).
    const back = await bot.handle(incomingMessage(thread, 'one more question for the bot', { author: { id: 'U-CUSTOMER' }, addressedToBot: true }), recordingSink());
    expect(back.kind).toBe('answered');
    expect(answerer.requests.at(-1)?.history.map((message) => message.content)).toContain('Hi, I am looking into ORD-88412 now.');
    const state = (await backends.store.load(thread)).state!;
    expect(state.handoff).toBeUndefined();
  });

  it('says plainly when nobody is set up to take over, and keeps answering', async () => {
    const { engine: bot } = await engine([]);
    const sink = recordingSink();
    const outcome = await bot.handle(incomingMessage(thread, '상담원 연결해 주세요'), sink);
    expect(outcome.kind).toBe('answered');
    const completed = sink.events.find((event) => event.type === 'answer-completed');
    expect(completed?.type === 'answer-completed' && completed.answer.parts[0]).toMatchObject({ text: expect.stringMatching(/Nobody is set up/) });
  });

  it('treats a button press as a request even without the words', async () => {
    const { engine: bot } = await engine(['U-AGENT']);
    const outcome = await bot.handle(incomingMessage(thread, 'Talk to a person', { requestsPerson: true }), recordingSink());
    expect(outcome.kind).toBe('handed-off');
  });

  it('keeps messages people address to each other as context without answering them', async () => {
    const { engine: bot, backends, answerer } = await engine(['U-AGENT']);
    await bot.handle(incomingMessage(thread, 'first question', { addressedToBot: true }), recordingSink());
    const aside = await bot.handle(incomingMessage(thread, '@dana can you check the invoice?', { addressedToOthers: true }), recordingSink());
    expect(aside.kind).toBe('ignored');
    expect(answerer.requests).toHaveLength(1);
    expect((await backends.store.load(thread)).state!.messages.map((message) => message.content)).toContain('@dana can you check the invoice?');
  });

  it('does not mistake ordinary questions about persons for a handoff request', async () => {
    const { engine: bot } = await engine(['U-AGENT']);
    const outcome = await bot.handle(incomingMessage(thread, 'How many persons can share one account?'), recordingSink());
    expect(outcome.kind).toBe('answered');
  });
});
