import { z } from 'zod';
import { SlackApiError } from './errors.js';
import { clipText } from './mrkdwn.js';
import type { SlackCaller } from './slack-caller.js';

const userInfoSchema = z.looseObject({
  user: z.looseObject({
    name: z.string().optional(),
    real_name: z.string().optional(),
    profile: z.looseObject({ display_name: z.string().optional(), real_name: z.string().optional() }).optional(),
  }),
});

const MAX_ENTRIES = 5_000;
const MAX_NAME_CHARS = 80;
/** Answers that will not change soon: remember them; anything else (a rate limit, an outage) is retried next time. */
const LASTING_ERRORS = new Set(['user_not_found', 'missing_scope', 'not_allowed_token_type', 'account_inactive']);

/**
 * Readable names for user mentions in questions, from `users.info` (scope `users:read`), cached for an
 * hour. A failure or a rate limit leaves the mention as an inert `@U…` id: never worth delaying a turn.
 */
export class UserNameCache {
  private readonly names = new Map<string, { name: string | undefined; expiresAt: number }>();

  constructor(private readonly ttlMs = 3600_000) {}

  async resolve(caller: SlackCaller, userId: string): Promise<string | undefined> {
    const key = `${caller.workspaceId} ${userId}`;
    const cached = this.names.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.name;
    try {
      const response = await caller.call('users.info', { user: userId }, 'best-effort');
      if (!response) return undefined;
      const parsed = userInfoSchema.safeParse(response);
      const name = parsed.success ? displayName(parsed.data.user) : undefined;
      this.remember(key, name);
      return name;
    } catch (error) {
      if (error instanceof SlackApiError && LASTING_ERRORS.has(error.slackError)) this.remember(key, undefined);
      return undefined;
    }
  }

  private remember(key: string, name: string | undefined): void {
    if (this.names.size >= MAX_ENTRIES) this.names.delete(this.names.keys().next().value!);
    this.names.set(key, { name, expiresAt: Date.now() + this.ttlMs });
  }
}

function displayName(user: z.infer<typeof userInfoSchema>['user']): string | undefined {
  const candidates = [user.profile?.display_name, user.profile?.real_name, user.real_name, user.name];
  const found = candidates.find((candidate) => candidate !== undefined && candidate.trim() !== '');
  return found === undefined ? undefined : clipText(found.replace(/\s+/g, ' ').trim(), MAX_NAME_CHARS);
}
