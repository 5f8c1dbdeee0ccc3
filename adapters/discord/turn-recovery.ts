import type { Logger } from 'pino';
import type { RecoverySinkFactory } from '../../src/engine/types.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { threadNameFrom } from './conversation.js';
import type { DiscordRest } from './discord-rest.js';
import { DiscordReplySink, type DiscordReplySinkOptions } from './reply-sink.js';

export interface RecoverySinkOptions {
  rest: DiscordRest;
  logger: Logger;
  metrics?: Metrics;
  sinkSettings?: Pick<DiscordReplySinkOptions, 'editIntervalMs' | 'now' | 'handoverMarginMs'>;
}

/**
 * Builds the sinks that finish turns a crashed process left in flight. The interaction token is gone
 * with that process (and may have expired), so everything goes out with the bot token: the message it
 * had posted is edited when the handle names one, otherwise the answer is posted in the conversation.
 */
export function discordRecoverySinkFactory(options: RecoverySinkOptions): RecoverySinkFactory {
  return (message, handle) => {
    const conversationChannelId = handle?.conversationChannelId ?? conversationChannelOf(message.threadKey);
    const resumeMessage = handle?.firstChannelId && handle.firstMessageId ? { channelId: handle.firstChannelId, messageId: handle.firstMessageId } : undefined;
    // A mention turn that died before its first post may have died before its thread existed too.
    const mayLackThread = !handle && message.scope.workspaceId !== 'dm' && conversationChannelId !== message.scope.channelId;
    return new DiscordReplySink({
      ...options.sinkSettings,
      rest: options.rest,
      conversationChannelId,
      resumeMessage,
      prepareConversation: mayLackThread
        ? async () => {
            await options.rest.startThreadFromMessage(message.scope.channelId, conversationChannelId, threadNameFrom(message.text)).catch(() => {
              // Most often "a thread has already been created for this message": exactly what we need.
            });
          }
        : undefined,
      logger: options.logger,
      metrics: options.metrics,
    });
  };
}

/** `discord:{guild|dm}:{channel}` (or `…:{channel}:{interaction}` for thread-less answers) → the channel. */
function conversationChannelOf(threadKey: string): string {
  return threadKey.split(':')[2] ?? '';
}
