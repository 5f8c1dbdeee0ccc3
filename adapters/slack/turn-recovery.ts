import type { RecoverySinkFactory, ReplyHandle } from '../../src/engine/types.js';
import type { Logger } from '../../src/observability/logger.js';
import type { CapabilityCache } from './capability-cache.js';
import { parseSlackThreadKey } from './incoming-message.js';
import { SlackReplySink } from './reply-sink.js';
import type { SlackCaller } from './slack-caller.js';
import type { UpdateBudget } from './update-budget.js';

export interface SlackRecoveryOptions {
  /** A caller for the workspace the orphaned turn belongs to (bot token; nothing of the dead process is needed). */
  callerFor: (workspaceId: string) => SlackCaller;
  capabilities: CapabilityCache;
  updateBudget: UpdateBudget;
  previewIntervalMs: number;
  logger: Logger;
}

/**
 * Builds the sinks that finish turns a crashed process left in flight. The handle names the messages
 * it had posted (placeholder, preview or stream); the answer is written into them with `chat.update`,
 * or posted anew in the thread when they can no longer be edited (deleted, or too old). Previews use
 * `chat.update` only: a fresh native stream would leave the old placeholder behind.
 */
export function slackRecoverySinkFactory(options: SlackRecoveryOptions): RecoverySinkFactory {
  return (message, handle) => {
    const thread = parseSlackThreadKey(message.threadKey);
    const channelId = handle?.channelId ?? thread?.channelId ?? message.scope.channelId;
    const threadTs = handle?.threadTs ?? thread?.threadTs;
    const resume = resumeOf(handle);
    const logger = options.logger.child({ recovery: true, channel: channelId });
    if (!threadTs) {
      // Not a key this adapter wrote, so there is no thread to post in; the answer is still stored in history.
      logger.warn({ threadKey: message.threadKey }, 'orphaned slack turn without a thread; its answer is not posted');
      return { emit: async () => {} };
    }
    return new SlackReplySink({
      caller: options.callerFor(message.scope.workspaceId),
      channelId,
      threadTs,
      directMessage: channelId.startsWith('D'),
      streaming: 'update',
      capabilities: options.capabilities,
      updateBudget: options.updateBudget,
      previewIntervalMs: options.previewIntervalMs,
      logger,
      ...(resume ? { resume } : {}),
    });
  };
}

function resumeOf(handle: ReplyHandle | undefined): { messageTimestamps: string[]; streamingTs?: string } | undefined {
  const timestamps = (handle?.messageTs ?? '').split(' ').filter((ts) => /^\d+\.\d+$/.test(ts));
  if (timestamps.length === 0) return undefined;
  const streamingTs = handle?.streamingTs;
  return { messageTimestamps: timestamps, ...(streamingTs && timestamps.includes(streamingTs) ? { streamingTs } : {}) };
}
