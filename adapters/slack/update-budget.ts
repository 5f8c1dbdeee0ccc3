/**
 * A token bucket per workspace for `chat.update`. Slack counts that method (Tier 3, about 50 a
 * minute) per workspace and app, so every answer streaming at the same time in one workspace shares
 * it. Intermediate updates take a token or are skipped; final updates always go and only count.
 */
export class UpdateBudget {
  private readonly buckets = new Map<string, { tokens: number; refilledAt: number }>();
  private readonly perMinute: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(options: { perMinute?: number; burst?: number; now?: () => number } = {}) {
    this.perMinute = options.perMinute ?? 45;
    this.burst = options.burst ?? 6;
    this.now = options.now ?? Date.now;
  }

  /** Takes one update if the workspace has one left; false means "skip this intermediate update". */
  tryTake(workspaceId: string): boolean {
    const bucket = this.refill(workspaceId);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Counts an update that must happen regardless (a final answer); may leave the bucket in debt. */
  take(workspaceId: string): void {
    this.refill(workspaceId).tokens -= 1;
  }

  private refill(workspaceId: string): { tokens: number; refilledAt: number } {
    const now = this.now();
    const bucket = this.buckets.get(workspaceId) ?? { tokens: this.burst, refilledAt: now };
    const earned = ((now - bucket.refilledAt) / 60_000) * this.perMinute;
    bucket.tokens = Math.min(this.burst, bucket.tokens + earned);
    bucket.refilledAt = now;
    this.buckets.set(workspaceId, bucket);
    return bucket;
  }
}
