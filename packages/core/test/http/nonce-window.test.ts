/**
 * The nonce store's `expiresAt` (RFC 9421 §7.2.2: a nonce only stops replays for as long as it is
 * remembered, so it must be kept until the signature can no longer verify by its `created` and
 * `expires`, §2.3).
 */
import { describe, expect, it } from 'vitest';
import {
  createSignatureBase,
  type HttpRequestLike,
  importSigningKey,
  importVerifyKey,
  type SignatureParams,
  signBytes,
  verifyRequest,
} from '../../src/http.js';
import { toBase64 } from '../../src/lib/bytes.js';

/** RFC 9421 B.1.4 test-key-ed25519. */
const JWK = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
  d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
} as const;
const key = importSigningKey(JWK);
const pub = importVerifyKey(JWK);
const NOW = 1_700_000_000;

/** A GET signed by another implementation with exactly `params` (it may leave `created` out). */
function signed(params: SignatureParams): HttpRequestLike {
  const req = { method: 'GET', url: 'https://api.campus.test/v1/x?a=1', headers: {} };
  const { base, signatureInput } = createSignatureBase(req, ['@method', '@path', '@query'], params);
  const sig = toBase64(signBytes(key, new TextEncoder().encode(base)));
  return { ...req, headers: { 'signature-input': `sig1=${signatureInput}`, signature: `sig1=:${sig}:` } };
}

/** Verifies with a store that remembers nonces until their `expiresAt`, at time `at` (s). */
function verifyAt(req: HttpRequestLike, at: number, store: Map<string, number>) {
  return verifyRequest(req, {
    keyLookup: () => pub,
    now: at * 1000,
    requiredParams: ['keyid', 'nonce'],
    nonceStore: (nonce, _kid, expiresAt) => {
      for (const [n, exp] of store) if (exp < at) store.delete(n);
      if (store.has(nonce)) return false;
      store.set(nonce, expiresAt);
      return true;
    },
  });
}

describe('nonce expiry of a signature without created (RFC 9421 §2.3, §7.2.2)', () => {
  it('keeps the nonce until expires + tolerance, so a replay within the validity fails', async () => {
    const req = signed({ keyid: 'k', nonce: 'n-1', expires: NOW + 3600 });
    const store = new Map<string, number>();
    await expect(verifyAt(req, NOW, store)).resolves.toMatchObject({ ok: true });
    expect(store.get('n-1')).toBe(NOW + 3600 + 300);
    // the signature still verifies an hour later; the replay must still be caught
    await expect(verifyAt(req, NOW + 3000, store)).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_NONCE_REPLAYED',
    });
  });

  it('refuses a signature with neither created nor expires when a nonce store is given', async () => {
    // it would verify forever while its nonce is forgotten after `tolerance`
    const req = signed({ keyid: 'k', nonce: 'n-2' });
    const store = new Map<string, number>();
    await expect(verifyAt(req, NOW, store)).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_MALFORMED' });
    expect(store.size).toBe(0);
  });
});
