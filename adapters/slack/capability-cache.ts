/** Optional Slack features that some workspaces, plans or channel kinds refuse. */
export type SlackCapability = 'assistant-status' | 'native-stream';

/**
 * Remembers for a while that a feature failed in a workspace and kind of conversation (channel,
 * private channel, DM), so later turns go straight to the fallback instead of failing first.
 */
export class CapabilityCache {
  private readonly disabledUntil = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
  }

  allows(capability: SlackCapability, workspaceId: string, channelId: string): boolean {
    const until = this.disabledUntil.get(keyOf(capability, workspaceId, channelId));
    return until === undefined || until <= this.now();
  }

  disable(capability: SlackCapability, workspaceId: string, channelId: string): void {
    this.disabledUntil.set(keyOf(capability, workspaceId, channelId), this.now() + this.ttlMs);
  }
}

function keyOf(capability: SlackCapability, workspaceId: string, channelId: string): string {
  // Conversation ids start with C (public), G (private or group DM) or D (DM): that is what the APIs care about.
  return `${capability} ${workspaceId} ${channelId.charAt(0)}`;
}
