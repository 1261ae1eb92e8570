/**
 * `ERR_SIG_EXPIRED` says by how much and which way the signer's clock is off: its message names
 * `created` (or `expires`), the verifier's clock and the tolerance, in unix seconds, so that a
 * signer behind a platform whose clock was moved (the mock's `POST /admin/clock`) sees why.
 */
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import {
  type HttpRequestLike,
  importSigningKey,
  importVerifyKey,
  type Jwk,
  signRequest,
  verifyRequest,
} from '../../src/http.js';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const d = new Uint8Array(32).fill(5);
const pub = p256.getPublicKey(d, false);
const jwk: Jwk = {
  kty: 'EC',
  crv: 'P-256',
  x: b64url(pub.subarray(1, 33)),
  y: b64url(pub.subarray(33)),
  d: b64url(d),
};

const CREATED = 1_796_106_437;

function signed(extra: { expires?: number } = {}): HttpRequestLike {
  const req: HttpRequestLike = {
    method: 'GET',
    url: 'https://api.campus.test/v1/devices/pos-01',
    headers: {},
  };
  const headers = signRequest(req, {
    keyId: 'pos-01',
    key: importSigningKey(jwk),
    created: CREATED,
    nonce: 'n-1',
    ...extra,
  });
  return { ...req, headers: { ...req.headers, ...headers } };
}
const keyLookup = (kid: string) => (kid === 'pos-01' ? importVerifyKey(jwk) : undefined);

describe('ERR_SIG_EXPIRED names both times and the tolerance', () => {
  it('created a day before the verifier clock (a platform clock moved a day ahead)', async () => {
    await expect(verifyRequest(signed(), { keyLookup, now: (CREATED + 86_400) * 1000 })).resolves.toEqual({
      ok: false,
      code: 'ERR_SIG_EXPIRED',
      keyId: 'pos-01',
      message: "created 1796106437 is 86400 s before the verifier's clock 1796192837 (tolerance 300 s)",
    });
  });

  it('created after the verifier clock (a signer clock running fast), with the tolerance given', async () => {
    const r = await verifyRequest(signed(), { keyLookup, now: (CREATED - 61) * 1000 + 999, tolerance: 60 });
    expect(r).toMatchObject({
      ok: false,
      code: 'ERR_SIG_EXPIRED',
      message: "created 1796106437 is 61 s after the verifier's clock 1796106376 (tolerance 60 s)",
    });
  });

  it('expires past, beyond the tolerance', async () => {
    const r = await verifyRequest(signed({ expires: CREATED - 240 }), {
      keyLookup,
      now: CREATED * 1000,
      tolerance: 200,
    });
    expect(r).toMatchObject({
      ok: false,
      code: 'ERR_SIG_EXPIRED',
      message: "expires 1796106197 is 240 s before the verifier's clock 1796106437 (tolerance 200 s)",
    });
  });

  it('within the tolerance it verifies', async () => {
    await expect(verifyRequest(signed(), { keyLookup, now: (CREATED + 300) * 1000 })).resolves.toMatchObject({
      ok: true,
      keyId: 'pos-01',
    });
  });
});
