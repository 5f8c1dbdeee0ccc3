import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Answerer } from '../../src/engine/answerer.js';
import { createDiscordTestBed, type DiscordProcess, type DiscordTestBed } from '../fakes/discord/discord-test-bed.js';
import { createTestEngine, type TestEngine } from './engine-fixture.js';

/** An application's Ed25519 key pair; `publicKey` as the Developer Portal shows it (hex of the raw 32 bytes). */
export interface InteractionKeys {
  privateKey: KeyObject;
  publicKey: string;
}

export function createInteractionKeys(): InteractionKeys {
  const pair = generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex') };
}

/** A request as Discord signs it (Ed25519 over timestamp + body, hex in two headers), kept so the same bytes can be sent again. */
export interface SignedInteraction {
  body: string;
  headers: Record<string, string>;
}

export function signInteraction(payload: unknown, privateKey: KeyObject): SignedInteraction {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + body), privateKey).toString('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp } };
}

/** POSTs a signed interaction; `json` is the parsed response when it is JSON, `text` the body as sent. */
export async function sendInteraction(url: string, request: SignedInteraction): Promise<{ status: number; text: string; json: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const text = await response.text();
  const json: unknown = response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
  return { status: response.status, text, json };
}

/** One Discord adapter process serving HTTP interactions on loopback, on an engine of its own. */
export interface InteractionsEndpoint {
  bed: DiscordTestBed;
  testEngine: TestEngine;
  process: DiscordProcess;
  /** `http://127.0.0.1:{port}/discord/interactions` */
  url: string;
  /** Signs what the adapter will accept. */
  privateKey: KeyObject;
  close(): Promise<void>;
}

/** Fresh application keys, a fake Discord, and an adapter process on them answering with `answerer`. */
export async function startInteractionsEndpoint(answerer: Answerer): Promise<InteractionsEndpoint> {
  const keys = createInteractionKeys();
  const testEngine = await createTestEngine({ answerer });
  const bed = await createDiscordTestBed();
  const process = await bed.startProcess(testEngine.engine, { publicKey: keys.publicKey });
  const port = await process.http.listen(0, '127.0.0.1');
  return {
    bed,
    testEngine,
    process,
    url: `http://127.0.0.1:${port}/discord/interactions`,
    privateKey: keys.privateKey,
    close: async () => {
      await bed.close();
      await testEngine.close();
    },
  };
}
