import { describe, expect, it } from 'vitest';
import { deliverEvent } from '../../fakes/slack/slack-events.js';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_WAIT_MS, startBotProcess, terminate, type BotProcess, cleanUpAfterEachTest } from '../../support/processes/bot-process.js';
import { startProcessBed } from '../../support/processes/process-bed.js';
import { questionEnvelope, SLACK_SIGNING_SECRET, startSlackWorkspace, WORKSPACE, type QuestionSpec } from '../../support/processes/slack-workspace.js';

const cleanups = cleanUpAfterEachTest();

const THREADS = 3;
const QUESTIONS_PER_THREAD = 3;
const QUEUED_STATUS = 'Waiting for the previous question';

/** `t2q3`: the third question of the second thread (each question's text carries its label). */
const label = (thread: number, question: number) => `t${thread}q${question}`;
const labelIn = (text: string) => /t\dq\d/.exec(text)?.[0];

/** What the model was asked, per call: the newest question, and the conversation it came with. */
interface ModelCall {
  question: string;
  userLabels: string[];
  assistantTexts: string[];
}

describe('two bot processes on one Redis, fed a stream of Slack events', () => {
  it('answer every message exactly once, each thread in order, with duplicates delivered to both and follow-ups queued behind a running turn', async () => {
    const slack = await startSlackWorkspace();
    cleanups.push(() => slack.fake.close());
    const { clova, state, env: bedEnv } = await startProcessBed(cleanups, 'process-replicas');

    // The first question of every thread is held by the model until the follow-ups are queued behind it.
    let releaseFirstQuestions!: () => void;
    const firstQuestionsReleased = new Promise<void>((resolve) => (releaseFirstQuestions = resolve));
    const modelCalls: ModelCall[] = [];
    clova.scriptRagReasoning(async (view) => {
      const userLabels = view.messages.filter((message) => message.role === 'user').map((message) => labelIn(String(message.content)) ?? '?');
      const question = userLabels.at(-1) ?? '?';
      modelCalls.push({ question, userLabels, assistantTexts: view.messages.filter((message) => message.role === 'assistant').map((message) => String(message.content)) });
      if (question.endsWith('q1')) await firstQuestionsReleased;
      return { text: `Answer to ${question}.` };
    });
    const env = { ...slack.env, ...bedEnv };
    const [replicaA, replicaB] = await Promise.all([startBotProcess({ name: 'replica-a', env }), startBotProcess({ name: 'replica-b', env })]);
    const deliver = async (bot: BotProcess, spec: QuestionSpec, retry?: number) => {
      const response = await deliverEvent(`${bot.baseUrl}/slack/events`, SLACK_SIGNING_SECRET, questionEnvelope(spec), retry ? { retry: { num: retry, reason: 'http_timeout' } } : {});
      expect(response.status).toBe(200);
    };
    const roots = Array.from({ length: THREADS }, (_unused, index) => `17638${index + 1}0000.000100`);
    const tsOf = (thread: number, question: number) => roots[thread - 1]!.replace(/00$/, `${question}0`);
    const queuedIn = (root: string) => slack.fake.store.statuses.filter((status) => status.threadTs === root && status.status.startsWith(QUEUED_STATUS)).length;

    // Every thread starts with a mention Slack delivers twice (app_mention and message), one to each replica, at once.
    await Promise.all(
      roots.map((root, index) =>
        Promise.all([
          deliver(replicaA, { as: 'app_mention', text: `${label(index + 1, 1)} how do I point the bot at Redis?`, ts: root }),
          deliver(replicaB, { as: 'message', text: `${label(index + 1, 1)} how do I point the bot at Redis?`, ts: root }),
        ]),
      ),
    );
    await expect.poll(() => modelCalls.map((call) => call.question).sort(), { timeout: PROCESS_WAIT_MS }).toEqual(roots.map((_root, index) => label(index + 1, 1)));

    // Follow-ups arrive while the first answers are still being written, alternating replicas; each is
    // also redelivered to the other replica. The next one is sent once the previous one is queued.
    for (const [index, root] of roots.entries()) {
      const thread = index + 1;
      for (let question = 2; question <= QUESTIONS_PER_THREAD; question += 1) {
        const [first, second] = (thread + question) % 2 === 0 ? [replicaA, replicaB] : [replicaB, replicaA];
        const text = `${label(thread, question)} and then what?`;
        await Promise.all([
          deliver(first, { as: 'app_mention', text, ts: tsOf(thread, question), threadTs: root }),
          question === 2
            ? deliver(second, { as: 'app_mention', text, ts: tsOf(thread, question), threadTs: root }, 1)
            : deliver(second, { as: 'message', text, ts: tsOf(thread, question), threadTs: root }),
        ]);
        await expect.poll(() => queuedIn(root), { timeout: PROCESS_WAIT_MS }).toBe(question - 1);
      }
    }
    expect(modelCalls).toHaveLength(THREADS);
    releaseFirstQuestions();

    const total = THREADS * QUESTIONS_PER_THREAD;
    const answersPosted = () => slack.fake.store.messages.filter((message) => !message.deleted && message.text.includes('Answer to')).length;
    await expect.poll(answersPosted, { timeout: PROCESS_WAIT_MS }).toBe(total);
    await expect.poll(() => state.inFlight(), { timeout: PROCESS_WAIT_MS }).toEqual([]);
    const exits = await Promise.all([terminate(replicaA), terminate(replicaB)]);
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);

    // Exactly once: every question reached the model once, and Slack got one answer for it.
    expect(modelCalls.map((call) => call.question).sort()).toEqual(roots.flatMap((_root, index) => [1, 2, 3].map((question) => label(index + 1, question))).sort());
    expect(answersPosted()).toBe(total);
    const outcomes = [replicaA, replicaB].flatMap((bot) => bot.logs().filter((line) => line.msg === 'slack turn done').map((line) => String(line.outcome)));
    expect(outcomes.filter((outcome) => outcome === 'answered')).toHaveLength(total);
    expect(outcomes.filter((outcome) => outcome === 'duplicate')).toHaveLength(total);

    for (const [index, root] of roots.entries()) {
      const thread = index + 1;
      const expected = [1, 2, 3].map((question) => label(thread, question));
      // In order on Slack: the thread's replies are the answers to q1, q2, q3, and nothing else.
      expect(slack.fake.store.threadReplies(WORKSPACE.channel, root).map((message) => labelIn(message.text))).toEqual(expected);
      // In order for the model: each question came with exactly the thread's earlier questions and answers.
      for (const [position, question] of expected.entries()) {
        const call = modelCalls.find((candidate) => candidate.question === question)!;
        expect(call.userLabels).toEqual(expected.slice(0, position + 1));
        expect(call.assistantTexts.map((text) => labelIn(text))).toEqual(expected.slice(0, position));
      }
    }
    expect(await state.keys('lock')).toEqual([]);
  }, PROCESS_TEST_TIMEOUT_MS);
});
