import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Checks Discord's `X-Signature-Ed25519` over `X-Signature-Timestamp` + raw body, and that the timestamp is recent. */
export type InteractionSignatureVerifier = (signatureHex: string | undefined, timestamp: string | undefined, body: Buffer) => boolean;

/**
 * Builds a verifier for the application's public key (64 hex digits from the Developer Portal).
 * Malformed headers count as a bad signature; nothing here throws on attacker input.
 *
 * @example
 * const verifyRequest = createInteractionSignatureVerifier(process.env.DISCORD_PUBLIC_KEY!);
 * verifyRequest(headers['x-signature-ed25519'], headers['x-signature-timestamp'], rawBody) // → true | false
 */
export function createInteractionSignatureVerifier(publicKeyHex: string, options: { now?: () => number; maxAgeSeconds?: number } = {}): InteractionSignatureVerifier {
  const now = options.now ?? Date.now;
  // A captured request replayed after the dedupe window would otherwise run a new turn; Slack applies the same 5 minutes.
  const maxAgeSeconds = options.maxAgeSeconds ?? 300;
  if (!/^[0-9a-fA-F]{64}$/.test(publicKeyHex)) throw new RangeError('the Discord public key must be 64 hexadecimal digits');
  const key: KeyObject = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
  return (signatureHex, timestamp, body) => {
    if (!signatureHex || !timestamp || !/^[0-9a-fA-F]{128}$/.test(signatureHex)) return false;
    const seconds = Number(timestamp);
    if (!Number.isInteger(seconds) || Math.abs(now() / 1000 - seconds) > maxAgeSeconds) return false;
    try {
      return verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), key, Buffer.from(signatureHex, 'hex'));
    } catch {
      return false;
    }
  };
}
