import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';
import { envelopeFrom } from '../../fakes/slack/slack-events.js';

/** The workspace of the recorded fixtures (test/fixtures/slack), whose ids the envelopes carry. */
export const WORKSPACE = {
  teamId: 'T0TEAM0001',
  botUserId: 'U0BOTUSER1',
  botId: 'B0BOTID001',
  channel: 'C0SUPPORT1',
  asker: 'U0ASKER001',
} as const;

export const SLACK_BOT_TOKEN = 'xoxb-7000000000011-7000000000012-PROCESStokenPROCESSto';
export const SLACK_SIGNING_SECRET = 'process-test-signing-secret-2b8e4d1f';

/** A fake Slack Web API for the fixtures' workspace, and the variables that point a bot process at it (HTTP Events API mode). */
export async function startSlackWorkspace(options: { botToken?: string; appToken?: string } = {}): Promise<{ fake: FakeSlackApi; env: Record<string, string> }> {
  const botToken = options.botToken ?? SLACK_BOT_TOKEN;
  const fake = await FakeSlackApi.start({
    botToken,
    ...(options.appToken ? { appToken: options.appToken } : {}),
    teamId: WORKSPACE.teamId,
    botUserId: WORKSPACE.botUserId,
    botId: WORKSPACE.botId,
    users: { [WORKSPACE.asker]: 'Ana' },
  });
  return { fake, env: { SLACK_BOT_TOKEN: botToken, SLACK_SIGNING_SECRET: SLACK_SIGNING_SECRET, SLACK_API_URL: fake.apiUrl } };
}

export interface QuestionSpec {
  /** Slack's two deliveries of one mention: `app_mention`, and `message` (with the mention in its text). */
  as: 'app_mention' | 'message';
  text: string;
  ts: string;
  /** Root of the thread for replies; omitted for a message that starts a thread. */
  threadTs?: string;
}

/** An Events API envelope for a question mentioning the bot, with an event id unique to this delivery kind. */
export function questionEnvelope(spec: QuestionSpec): Record<string, unknown> {
  const envelope = envelopeFrom(spec.as === 'app_mention' ? 'app-mention' : 'message-with-mention', {
    eventId: `Ev${spec.as === 'app_mention' ? 'M' : 'G'}${spec.ts.replace('.', '')}`,
    text: `<@${WORKSPACE.botUserId}> ${spec.text}`,
    ts: spec.ts,
    ...(spec.threadTs ? { threadTs: spec.threadTs } : {}),
  });
  // The recorded payload carries rich-text blocks of another message; Slack sends blocks matching the text.
  (envelope.event as Record<string, unknown>).blocks = [];
  return envelope;
}
