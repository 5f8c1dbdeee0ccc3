import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createInteractionSignatureVerifier } from '../../../adapters/discord/interaction-signature.js';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { publicKeyHex: raw.toString('hex'), privateKey };
}

describe('createInteractionSignatureVerifier', () => {
  const { publicKeyHex, privateKey } = keyPair();
  // The signed timestamp below is 1700000000 (seconds); the verifier's clock is set a minute later.
  const verifyRequest = createInteractionSignatureVerifier(publicKeyHex, { now: () => 1_700_000_060_000 });
  const body = Buffer.from('{"type":1}');
  const timestamp = '1700000000';
  const signature = sign(null, Buffer.concat([Buffer.from(timestamp), body]), privateKey).toString('hex');

  it('accepts a signature over timestamp + body', () => {
    expect(verifyRequest(signature, timestamp, body)).toBe(true);
  });

  it('rejects a changed body, a changed timestamp, another key and malformed headers', () => {
    expect(verifyRequest(signature, timestamp, Buffer.from('{"type":2}'))).toBe(false);
    expect(verifyRequest(signature, '1700000001', body)).toBe(false);
    expect(createInteractionSignatureVerifier(keyPair().publicKeyHex, { now: () => 1_700_000_060_000 })(signature, timestamp, body)).toBe(false);
    expect(verifyRequest('zz', timestamp, body)).toBe(false);
    expect(verifyRequest(undefined, timestamp, body)).toBe(false);
    expect(verifyRequest(signature, undefined, body)).toBe(false);
  });

  it('rejects a genuine signature whose timestamp is more than five minutes away (a replayed capture)', () => {
    expect(createInteractionSignatureVerifier(publicKeyHex, { now: () => 1_700_000_301_000 })(signature, timestamp, body)).toBe(false);
    expect(createInteractionSignatureVerifier(publicKeyHex, { now: () => 1_699_999_699_000 })(signature, timestamp, body)).toBe(false);
    expect(createInteractionSignatureVerifier(publicKeyHex, { now: () => 1_700_000_299_000 })(signature, timestamp, body)).toBe(true);
  });

  it('refuses a public key that is not 64 hex digits', () => {
    expect(() => createInteractionSignatureVerifier('abc')).toThrow(RangeError);
  });
});
