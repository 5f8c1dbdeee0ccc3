import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../../fixtures/slack/', import.meta.url));

/** Names of the recorded, anonymised payloads in test/fixtures/slack. */
export type SlackFixture =
  | 'app-mention'
  | 'message-with-mention'
  | 'thread-reply'
  | 'direct-message'
  | 'other-bot-message'
  | 'own-message'
  | 'message-changed'
  | 'channel-join'
  | 'block-actions-feedback';

/** A fresh copy of a fixture (tests may change it freely). */
export function loadFixture(name: SlackFixture): Record<string, unknown> {
  return JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as Record<string, unknown>;
}

export interface EnvelopeChanges {
  eventId?: string;
  text?: string;
  ts?: string;
  threadTs?: string;
  channel?: string;
  /** The author (a colleague, an escalation contact…). */
  user?: string;
}

/** An event envelope from a fixture with its ids (and text) replaced, the way two distinct deliveries differ. */
export function envelopeFrom(name: SlackFixture, changes: EnvelopeChanges = {}): Record<string, unknown> {
  const envelope = loadFixture(name);
  const event = envelope.event as Record<string, unknown>;
  if (changes.eventId) envelope.event_id = changes.eventId;
  if (changes.text !== undefined) event.text = changes.text;
  if (changes.ts) {
    event.ts = changes.ts;
    event.event_ts = changes.ts;
  }
  if (changes.threadTs) event.thread_ts = changes.threadTs;
  if (changes.channel) event.channel = changes.channel;
  if (changes.user) event.user = changes.user;
  return envelope;
}

/** The two headers Slack signs every request with: `v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`. */
export function slackSignature(signingSecret: string, rawBody: string, timestampSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex');
  return { 'x-slack-request-timestamp': String(timestampSeconds), 'x-slack-signature': `v0=${signature}` };
}

export interface DeliveryOptions {
  /** Slack's redelivery headers. */
  retry?: { num: number; reason: string };
  /** Sign with this secret instead (a forged request). */
  signWith?: string;
}

/** POSTs an Events API envelope the way Slack does: JSON, signed, with retry headers on redeliveries. */
export async function deliverEvent(url: string, signingSecret: string, envelope: unknown, options: DeliveryOptions = {}): Promise<Response> {
  const body = JSON.stringify(envelope);
  return deliver(url, body, 'application/json', signingSecret, options);
}

/** POSTs an interactivity payload the way Slack does: form-encoded `payload=<json>`, signed. */
export async function deliverInteraction(url: string, signingSecret: string, payload: unknown, options: DeliveryOptions = {}): Promise<Response> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return deliver(url, body, 'application/x-www-form-urlencoded', signingSecret, options);
}

async function deliver(url: string, body: string, contentType: string, signingSecret: string, options: DeliveryOptions): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...slackSignature(options.signWith ?? signingSecret, body),
  };
  if (options.retry) {
    headers['x-slack-retry-num'] = String(options.retry.num);
    headers['x-slack-retry-reason'] = options.retry.reason;
  }
  const response = await fetch(url, { method: 'POST', headers, body });
  await response.arrayBuffer();
  return response;
}
