/** The Slack adapter: Bolt transports (Socket Mode, HTTP Events API), normalisation, rendering. */
export { createSlackAdapter, type SlackAdapter, type SlackAdapterOptions, type SlackEventReport } from './slack-adapter.js';
export { renderAnswer, renderBody, renderSources, SLACK_LIMITS, ACTION_IDS, type RenderedMessage } from './answer-renderer.js';
export { slackThreadKey, slackMessageEventId } from './incoming-message.js';
export { SlackApiError, SlackRateLimitError, SlackConfigError } from './errors.js';
export type { StreamingMode } from './reply-sink.js';
export { SLACK_UPDATE_BUDGET, type UpdateBudget } from './update-budget.js';
