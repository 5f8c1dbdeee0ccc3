import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webApi } from '@slack/bolt';
import { silentLogger } from '../../../src/observability/logger.js';
import { RateLimitRegistry, SlackCaller } from '../../../adapters/slack/slack-caller.js';
import { UserNameCache } from '../../../adapters/slack/user-names.js';
import { FakeSlackApi } from '../../fakes/slack/fake-slack-api.js';

const BOT_TOKEN = 'xoxb-test-user-names-0001';
let fake: FakeSlackApi;
let caller: SlackCaller;

beforeEach(async () => {
  fake = await FakeSlackApi.start({ botToken: BOT_TOKEN, teamId: 'T0TEAM0001', botUserId: 'U0BOTUSER1', botId: 'B0BOTID001', users: { U0COLLEAG1: 'Dana' } });
  const client = new webApi.WebClient(BOT_TOKEN, { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  caller = new SlackCaller({ client, workspaceId: 'T0TEAM0001', rateLimits: new RateLimitRegistry(), logger: silentLogger() });
});

afterEach(async () => {
  await fake.close();
});

describe('UserNameCache', () => {
  it('looks a name up once and then serves it from the cache', async () => {
    const names = new UserNameCache();
    expect(await names.resolve(caller, 'U0COLLEAG1')).toBe('Dana');
    expect(await names.resolve(caller, 'U0COLLEAG1')).toBe('Dana');
    expect(fake.callsTo('users.info')).toHaveLength(1);
  });

  it('remembers an unknown user, but asks again after a rate limit', async () => {
    const names = new UserNameCache();
    expect(await names.resolve(caller, 'U0NOBODY01')).toBeUndefined();
    expect(await names.resolve(caller, 'U0NOBODY01')).toBeUndefined();
    expect(fake.callsTo('users.info')).toHaveLength(1);

    fake.failNext('users.info', { kind: 'ratelimited', retryAfterSeconds: 0 });
    expect(await names.resolve(caller, 'U0COLLEAG1')).toBeUndefined();
    expect(await names.resolve(caller, 'U0COLLEAG1')).toBe('Dana');
  });
});
