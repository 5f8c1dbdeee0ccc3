import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerCommands } from '../../../adapters/discord/register-commands.js';
import { DiscordRequestError } from '../../../adapters/discord/errors.js';
import { FakeDiscordServer } from '../../fakes/discord/fake-discord-server.js';
import { nextSnowflake } from '../../fakes/discord/snowflakes.js';

const TOKEN = 'register-test-token-0123456789';

describe('registerCommands', () => {
  let fake: FakeDiscordServer;
  const applicationId = nextSnowflake();

  beforeEach(async () => {
    fake = new FakeDiscordServer(applicationId, TOKEN);
    await fake.start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('overwrites the guild commands with /ask, /reset and /help when a guild is given', async () => {
    const guildId = nextSnowflake();
    const result = await registerCommands({ token: TOKEN, applicationId, guildId, apiUrl: fake.apiUrl });
    expect(result).toEqual({ scope: 'guild', names: ['ask', 'reset', 'help'] });
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: 'PUT', path: `/applications/${applicationId}/guilds/${guildId}/commands`, auth: 'bot' });
    const ask = (request?.body as Array<{ name: string; options?: Array<Record<string, unknown>>; contexts?: number[] }>)[0];
    expect(ask?.options?.[0]).toMatchObject({ name: 'question', type: 3, required: true, max_length: 1_000 });
    expect(ask?.contexts).toEqual([0, 1]);
  });

  it('registers globally without a guild and reports a refused token as a typed error', async () => {
    expect((await registerCommands({ token: TOKEN, applicationId, apiUrl: fake.apiUrl })).scope).toBe('global');
    expect(fake.registeredCommands.has('global')).toBe(true);
    const failure = await registerCommands({ token: 'wrong-token-0123456789', applicationId, apiUrl: fake.apiUrl }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DiscordRequestError);
    expect((failure as DiscordRequestError).status).toBe(401);
    expect(String((failure as Error).message)).not.toContain('wrong-token');
  });
});
