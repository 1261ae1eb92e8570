import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import {
  type ContentDigestAlgorithm,
  createContentDigest,
  exportPublicJwk,
  type HttpRequestLike,
  importSigningKey,
  importVerifyKey,
  type Jwk,
  signRequest,
  verifyContentDigest,
  verifyRequest,
} from '../../src/http.js';

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const d = new Uint8Array(32).fill(9);
const pub = p256.getPublicKey(d, false);
const jwk: Jwk = {
  kty: 'EC',
  crv: 'P-256',
  x: b64url(pub.subarray(1, 33)),
  y: b64url(pub.subarray(33)),
  d: b64url(d),
};
const key = importSigningKey(jwk);
const verifyKey = importVerifyKey(jwk);
const privateKeyObject = createPrivateKey({ key: jwk as never, format: 'jwk' });
const publicKeyObject = createPublicKey({ key: exportPublicJwk(verifyKey) as never, format: 'jwk' });
const CREATED = 1_700_000_000;
const request: HttpRequestLike = {
  method: 'POST',
  url: 'https://api.campus.test/v1/payments',
  headers: { 'content-type': 'application/json' },
  body: new TextEncoder().encode('{"amount":1}'),
};

describe('signer and verifier hooks (node:crypto backends)', () => {
  const nodeSigner = (base: Uint8Array) =>
    new Uint8Array(nodeSign('sha256', base, { key: privateKeyObject, dsaEncoding: 'ieee-p1363' }));
  const signed = () => {
    const h = signRequest(request, {
      keyId: 'dev-1',
      key,
      created: CREATED,
      nonce: 'n1',
      signer: nodeSigner,
    });
    return { ...request, headers: { ...request.headers, ...h } };
  };
  const options = { keyLookup: () => verifyKey, now: CREATED * 1000 };

  it('a node:crypto signature verifies with the default (noble) verifier and with a node:crypto one', async () => {
    expect((await verifyRequest(signed(), options)).ok).toBe(true);
    const verifier = (_k: unknown, base: Uint8Array, sig: Uint8Array) =>
      nodeVerify('sha256', base, { key: publicKeyObject, dsaEncoding: 'ieee-p1363' }, sig);
    expect((await verifyRequest(signed(), { ...options, verifier })).ok).toBe(true);
  });

  it('a verifier that says no or throws fails closed with ERR_SIG_INVALID', async () => {
    const no = await verifyRequest(signed(), { ...options, verifier: () => false });
    expect(no).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    const throws = await verifyRequest(signed(), {
      ...options,
      verifier: () => {
        throw new Error('boom');
      },
    });
    expect(throws).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    const rejects = await verifyRequest(signed(), {
      ...options,
      verifier: () => Promise.reject(new Error('boom')),
    });
    expect(rejects).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    const asyncYes = await verifyRequest(signed(), { ...options, verifier: async () => true });
    expect(asyncYes.ok).toBe(true);
  });

  it('a signer must return 64 bytes', () => {
    expect(() =>
      signRequest(request, { keyId: 'dev-1', key, created: CREATED, signer: () => new Uint8Array(10) }),
    ).toThrow(TypeError);
  });
});

describe('digest hook (node:crypto hashes)', () => {
  const calls: ContentDigestAlgorithm[] = [];
  const nodeDigest = (alg: ContentDigestAlgorithm, body: Uint8Array) => {
    calls.push(alg);
    return new Uint8Array(
      createHash(alg === 'sha-256' ? 'sha256' : 'sha512')
        .update(body)
        .digest(),
    );
  };
  const body = new TextEncoder().encode('{"amount":1}');

  it('gives the same Content-Digest as the built-in hashes, for both algorithms', () => {
    calls.length = 0;
    for (const alg of ['sha-256', 'sha-512'] as const) {
      expect(createContentDigest(body, alg, nodeDigest)).toBe(createContentDigest(body, alg));
    }
    expect(calls).toEqual(['sha-256', 'sha-512']);
    const header = `${createContentDigest(body, 'sha-256')}, ${createContentDigest(body, 'sha-512')}`;
    expect(verifyContentDigest(header, body, { digest: nodeDigest })).toBe(true);
    const other = new TextEncoder().encode('{"amount":2}');
    expect(verifyContentDigest(header, other, { digest: nodeDigest })).toBe(false);
  });

  it('is used by signRequest and verifyRequest, and a wrong or failing one fails closed', async () => {
    calls.length = 0;
    const h = signRequest(request, {
      keyId: 'dev-1',
      key,
      created: CREATED,
      nonce: 'n2',
      digest: nodeDigest,
    });
    expect(h['content-digest']).toBe(createContentDigest(request.body as Uint8Array));
    expect(calls).toEqual(['sha-256']);
    const signed = { ...request, headers: { ...request.headers, ...h } };
    const options = { keyLookup: () => verifyKey, now: CREATED * 1000 };
    expect((await verifyRequest(signed, { ...options, digest: nodeDigest })).ok).toBe(true);
    expect(calls).toEqual(['sha-256', 'sha-256']);
    // a digest of other bytes, one of the wrong length, and one that throws: all a mismatch
    const wrong = () => new Uint8Array(32);
    const short = () => new Uint8Array(20);
    const throws = () => {
      throw new Error('no hash here');
    };
    for (const digest of [wrong, short, throws]) {
      expect(await verifyRequest(signed, { ...options, digest })).toMatchObject({
        ok: false,
        code: 'ERR_DIGEST_MISMATCH',
      });
    }
    expect(() => createContentDigest(body, 'sha-256', short)).toThrow(TypeError);
  });
});
