/** Chat Completions v1 and v3 on the fake: validation, context limits, scripted replies, JSON or SSE. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { planAnswer, resultPayload, tokenPayloads, type PlannedAnswer } from './chat-replies.js';
import { echoChat } from './default-responders.js';
import type { FakeContext } from './fake-clova-server.js';
import { fakePromptTokens } from './fake-token-count.js';
import { answerJsonFault } from './faults.js';
import { chatV1Body, chatV3Body, validate } from './request-validation.js';
import { isFault, nextReply, type ChatAnswer, type ChatReply, type ChatRequestView, type ScriptedFault, type StreamPause } from './scripts.js';
import { formatSseEvent, sendEnvelope, startSse, writeSseEvents, type SseWritePlan } from './wire-writer.js';

export interface ChatCall {
  request: IncomingMessage;
  response: ServerResponse;
  body: Record<string, unknown>;
  model: string;
  version: 'v1' | 'v3';
  streaming: boolean;
}

const THINKING_DEFAULT_OUTPUT: Record<string, number> = { none: 512, low: 5_120, medium: 10_240, high: 20_480 };
const FUNCTION_CALLING_MIN_OUTPUT = 1_024;

/** Cross-field rules of the v3 API that a schema of single fields cannot express. */
function v3Conflicts(body: Record<string, unknown>, supportsThinking: boolean): string[] {
  const conflicts: string[] = [];
  const messages = body.messages as Array<{ role: string }>;
  if (messages.filter((message) => message.role === 'system').length > 1) conflicts.push('messages');
  if (body.maxTokens !== undefined && body.maxCompletionTokens !== undefined) conflicts.push('maxTokens', 'maxCompletionTokens');
  const effort = (body.thinking as { effort?: string } | undefined)?.effort ?? (supportsThinking ? 'low' : 'none');
  if (!supportsThinking && effort !== 'none') conflicts.push('thinking');
  const tools = body.tools as unknown[] | undefined;
  if (tools && tools.length > 0) {
    if (effort !== 'none') conflicts.push('thinking', 'tools');
    const output = (body.maxCompletionTokens ?? body.maxTokens) as number | undefined;
    if (output !== undefined && output < FUNCTION_CALLING_MIN_OUTPUT) conflicts.push('maxTokens');
  }
  if (effort !== 'none' && Array.isArray(body.stop) && body.stop.length > 0) conflicts.push('stop');
  return [...new Set(conflicts)];
}

function outputReserveOf(body: Record<string, unknown>, defaultOutput: number, supportsThinking: boolean): number {
  const explicit = (body.maxCompletionTokens ?? body.maxTokens) as number | undefined;
  if (explicit !== undefined) return explicit;
  if (supportsThinking) return THINKING_DEFAULT_OUTPUT[(body.thinking as { effort?: string } | undefined)?.effort ?? 'low'] ?? defaultOutput;
  return defaultOutput;
}

/** Serves one chat request. */
export async function handleChat(context: FakeContext, call: ChatCall): Promise<void> {
  const { response, body, model, version } = call;
  const info = context.model(model);
  if (!info) return sendEnvelope(response, '40080', 'Model not found');
  if (info.apiVersion !== version) return sendEnvelope(response, '40084', 'Unsupported API for model');
  const parsed = validate(version === 'v1' ? chatV1Body : chatV3Body, body);
  if (!parsed.ok) return sendEnvelope(response, '40001', `Invalid parameter: ${parsed.parameters.join(', ')}`);
  const conflicts = version === 'v3' ? v3Conflicts(body, info.supportsThinking) : [];
  const outputReserve = outputReserveOf(body, info.defaultOutputTokens, info.supportsThinking);
  if (outputReserve > info.maxOutputTokens) conflicts.push(body.maxCompletionTokens !== undefined ? 'maxCompletionTokens' : 'maxTokens');
  if (conflicts.length > 0) return sendEnvelope(response, '40001', `Invalid parameter: ${conflicts.join(', ')}`);

  const view: ChatRequestView = {
    model,
    apiVersion: version,
    streaming: call.streaming,
    messages: body.messages as ChatRequestView['messages'],
    body,
    headers: call.request.headers,
  };
  const promptTokens = fakePromptTokens(view.messages, body.tools);
  if (!context.admit(model, promptTokens + outputReserve, response)) return;

  if (promptTokens > info.maxInputTokens || promptTokens + outputReserve > info.contextWindow) {
    const message = 'Context length exceeded';
    if (!call.streaming) return sendEnvelope(response, '40003', message);
    startSse(response);
    return writeSseEvents(response, [formatSseEvent('error', { status: { code: '40003', message } })]);
  }

  let reply: ChatReply | undefined = context.takeFault('chat') ?? (await nextReply(context.chat, view));
  if (reply === undefined) return sendEnvelope(response, '50000', 'Internal server error (fake: the chat script is exhausted)');
  if (isFault(reply) && reply.fault === 'slow-first-byte') {
    await delay(reply.delayMs, undefined, { signal: context.signal }).catch(() => undefined);
    if (response.destroyed) return;
    reply = reply.then ?? echoChat(view);
  }
  const planContext = {
    apiVersion: version,
    promptTokens,
    outputReserve,
    ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
    includeAiFilters: body.includeAiFilters === true,
  };
  if (isFault(reply)) return answerChatFault(context, call, reply, planContext);
  if (version === 'v1' && (reply.toolCalls?.length ?? 0) > 0) {
    return sendEnvelope(response, '50000', 'Internal server error (fake: v1 models cannot call tools; fix the script)');
  }
  const plan = planAnswer(reply, planContext);
  if (!call.streaming) return sendEnvelope(response, '20000', 'OK', { result: resultPayload(plan) });
  return streamPlan(context, call, plan, { ...(reply.byteChunkSize ? { byteChunkSize: reply.byteChunkSize } : {}), ...pausePlan(reply.pauses) });
}

/** Scripted pauses counted in token events, as the SSE writer counts events (token events come first). */
function pausePlan(pauses: StreamPause[] | undefined): Pick<SseWritePlan, 'pauses'> {
  return pauses ? { pauses: pauses.map((pause) => ({ afterEvents: pause.afterTokens, until: pause.until })) } : {};
}

function streamEvents(plan: PlannedAnswer): string[] {
  return [
    ...tokenPayloads(plan).map((payload) => formatSseEvent('token', payload)),
    formatSseEvent('result', resultPayload(plan)),
    formatSseEvent('signal', { data: '[DONE]' }),
  ];
}

async function streamPlan(context: FakeContext, call: ChatCall, plan: PlannedAnswer, writePlan: SseWritePlan): Promise<void> {
  startSse(call.response);
  await writeSseEvents(call.response, streamEvents(plan), { ...writePlan, signal: context.signal });
}

async function answerChatFault(
  context: FakeContext,
  call: ChatCall,
  fault: ScriptedFault,
  planContext: Parameters<typeof planAnswer>[1],
): Promise<void> {
  const { response } = call;
  const textPlan = (text: string) => planAnswer({ text } satisfies ChatAnswer, planContext);
  if (!call.streaming) {
    const fullBody = () => ({ status: { code: '20000', message: 'OK' }, result: resultPayload(textPlan('text' in fault ? (fault.text ?? '') : '')) });
    await answerJsonFault(fault, response, fullBody, context.signal);
    return;
  }
  switch (fault.fault) {
    case 'cut-mid-stream': {
      const plan = textPlan(fault.text);
      const afterTokens = fault.afterTokens ?? Math.floor(plan.textPieces.length / 2);
      startSse(response);
      return writeSseEvents(response, streamEvents(plan), { cutAfterEvents: afterTokens, ...pausePlan(fault.pauses), signal: context.signal });
    }
    case 'stall-mid-stream': {
      const plan = textPlan(fault.text);
      startSse(response);
      return writeSseEvents(response, streamEvents(plan), { stallAfterEvents: fault.afterTokens ?? 1, stallMs: fault.stallMs, signal: context.signal });
    }
    case 'malformed-json':
      startSse(response);
      return writeSseEvents(response, [
        formatSseEvent('token', '{"message":{"role":"assistant","content":"안'),
        formatSseEvent('signal', { data: '[DONE]' }),
      ]);
    case 'error-event': {
      const plan = textPlan(fault.text ?? '');
      startSse(response);
      return writeSseEvents(response, [
        ...tokenPayloads(plan).map((payload) => formatSseEvent('token', payload)),
        formatSseEvent('error', { status: { code: fault.code ?? '40003', message: fault.message ?? 'Context length exceeded' } }),
      ], { ...pausePlan(fault.pauses), signal: context.signal });
    }
    default:
      // HTTP-level failures come before any event, exactly as for JSON calls.
      await answerJsonFault(fault, response, () => ({}), context.signal);
  }
}
