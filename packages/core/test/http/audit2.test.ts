/**
 * Second audit of the HTTP signature layer: what the first one missed.
 *
 * @module
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  importSigningKey,
  importVerifyKey,
  signRequest,
  verifyBytes,
  verifyRequest,
} from '../../src/http.js';

const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

/**
 * The canonical encodings of the eight Ed25519 points of small order (the torsion subgroup): the
 * identity, the point of order 2, the two of order 4 and the four of order 8.
 */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
];

describe('Ed25519 keys of small order', () => {
  it('a cofactorless verifier (OpenSSL, so node:crypto) accepts a forged signature for any message under one', () => {
    // Why the import must refuse them: the platform verifies with node:crypto. R = the identity and
    // S = 0 satisfy [S]B = R + [k]A for A = the identity, whatever the message.
    const x = b64url(SMALL_ORDER[0] as string);
    const forged = new Uint8Array(64);
    forged[0] = 1;
    const message = new TextEncoder().encode('"@method": POST\n"@path": /v1/payments');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    expect(nodeVerify(null, message, key, forged)).toBe(true);
  });

  it('importVerifyKey refuses every point of small order, and still imports a real key', () => {
    for (const hex of SMALL_ORDER) {
      expect(() => importVerifyKey({ kty: 'OKP', crv: 'Ed25519', x: b64url(hex) }), hex).toThrow(RangeError);
    }
    // RFC 8032 §7.1 test 1: a genuine key, with its signature of the empty message
    const jwk = {
      kty: 'OKP',
      crv: 'Ed25519',
      x: b64url('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
      d: b64url('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
    };
    const key = importVerifyKey(jwk);
    const sig = Buffer.from(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      'hex',
    );
    expect(verifyBytes(key, new Uint8Array(0), new Uint8Array(sig))).toBe(true);
    expect(importSigningKey(jwk).alg).toBe('ed25519');
  });
});

describe('verifyRequest failures name the key they judged', () => {
  it('an expired, invalid or unknown-key signature carries its keyid; one refused before the key is read does not', async () => {
    const jwk = {
      kty: 'OKP',
      crv: 'Ed25519',
      x: b64url('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
      d: b64url('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
    };
    const key = importSigningKey(jwk);
    const request = { method: 'GET', url: '/v1/x', headers: { host: 'api.example' } };
    const headers = signRequest(request, { keyId: 'dev-1', key, created: 1_000, nonce: 'n' });
    const signedReq = { ...request, headers: { ...request.headers, ...headers } };
    const keyLookup = (id: string) => (id === 'dev-1' ? importVerifyKey(jwk) : undefined);
    const expired = await verifyRequest(signedReq, { keyLookup, now: 2_000_000 });
    expect(expired).toMatchObject({ ok: false, code: 'ERR_SIG_EXPIRED', keyId: 'dev-1' });
    const unknown = await verifyRequest(signedReq, { keyLookup: () => undefined, now: 1_000_000 });
    expect(unknown).toMatchObject({ ok: false, code: 'ERR_SIG_UNKNOWN_KEY', keyId: 'dev-1' });
    const tampered = { ...signedReq, url: '/v1/y' };
    expect(await verifyRequest(tampered, { keyLookup, now: 1_000_000 })).toMatchObject({
      code: 'ERR_SIG_INVALID',
      keyId: 'dev-1',
    });
    const uncovered = await verifyRequest(signedReq, {
      keyLookup,
      now: 1_000_000,
      requiredComponents: ['@authority'],
    });
    expect(uncovered.ok).toBe(false);
    expect(uncovered).toMatchObject({ code: 'ERR_SIG_COMPONENT_MISSING' });
    expect('keyId' in uncovered).toBe(false);
  });
});
