import { MemoryTokenBuckets, type TokenBucketOptions, type TokenBuckets } from '../../src/coordination/token-buckets.js';

/**
 * The `chat.update` budget, one token bucket per workspace. Slack counts that method (Tier 3, about 50
 * a minute) per workspace and app, so every answer streaming at the same time in one workspace — on
 * every replica — shares it. Intermediate updates take a token or are skipped; final updates always
 * go and only count. Built in composition (shared through Redis there); this process's own otherwise.
 */
export type UpdateBudget = TokenBuckets;

/** 45 a minute stays under Tier 3 with room for the final updates, which are never skipped; 6 lets a fresh answer preview at once. */
export const SLACK_UPDATE_BUDGET: Readonly<TokenBucketOptions> = { perMinute: 45, burst: 6 };

/** The default when composition hands none: a budget of this process only (right for one replica). */
export function processUpdateBudget(perMinute: number = SLACK_UPDATE_BUDGET.perMinute): UpdateBudget {
  return new MemoryTokenBuckets({ ...SLACK_UPDATE_BUDGET, perMinute });
}
