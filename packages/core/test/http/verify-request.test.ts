import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createContentDigest,
  getHeader,
  type HttpRequestLike,
  headersToRecord,
  importSigningKey,
  importVerifyKey,
  type Jwk,
  SIGNATURE_ERROR_CODES,
  type SigningKey,
  type SignRequestOptions,
  signRequest,
  type VerifyRequestOptions,
  verifyRequest,
} from '../../src/http.js';

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}
function jwkFor(alg: 'ed25519' | 'ecdsa-p256-sha256', seed: number): Jwk {
  const d = new Uint8Array(32).fill(seed);
  if (alg === 'ed25519')
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
  const pub = p256.getPublicKey(d, false);
  return {
    kty: 'EC',
    crv: 'P-256',
    x: b64url(pub.subarray(1, 33)),
    y: b64url(pub.subarray(33)),
    d: b64url(d),
  };
}

const enc = new TextEncoder();
const CREATED = 1_700_000_000;
const NOW_MS = CREATED * 1000;

for (const alg of ['ed25519', 'ecdsa-p256-sha256'] as const) {
  describe(`sign → verify (${alg})`, () => {
    const jwk = jwkFor(alg, 7);
    const key: SigningKey = importSigningKey(jwk);
    const pub = importVerifyKey(jwk);
    const base: HttpRequestLike = {
      method: 'POST',
      url: 'https://api.campus.test/v1/payments?terminal=t1',
      headers: { 'content-type': 'application/json', 'x-extra': 'v' },
      body: enc.encode('{"amount":250}'),
    };
    const opts: VerifyRequestOptions = {
      keyLookup: (kid) => (kid === 'dev-1' ? pub : undefined),
      now: NOW_MS,
    };
    const sign = (
      req: HttpRequestLike = base,
      extra: { -readonly [K in keyof SignRequestOptions]?: SignRequestOptions[K] | undefined } = {},
    ) => ({
      ...req,
      headers: {
        ...req.headers,
        ...signRequest(req, {
          keyId: 'dev-1',
          key,
          created: CREATED,
          nonce: 'n-1',
          ...extra,
        } as SignRequestOptions),
      },
    });

    it('verifies and reports keyId, params and components', async () => {
      const signed = sign();
      expect(signed.headers['signature-input']).toBe(
        `sig1=("@method" "@path" "@query" "content-digest");created=${CREATED};keyid="dev-1";alg="${alg}";nonce="n-1"`,
      );
      await expect(verifyRequest(signed, opts)).resolves.toEqual({
        ok: true,
        keyId: 'dev-1',
        label: 'sig1',
        params: { created: CREATED, keyid: 'dev-1', alg, nonce: 'n-1' },
        components: ['@method', '@path', '@query', 'content-digest'],
      });
    });

    it('does not cover content-digest without a body', async () => {
      const { body: _b, ...noBody } = base;
      const signed = sign({ ...noBody, method: 'GET' });
      expect(signed.headers['content-digest']).toBeUndefined();
      expect(signed.headers['signature-input']).toContain('("@method" "@path" "@query");');
      await expect(verifyRequest(signed, opts)).resolves.toMatchObject({ ok: true });
    });

    it.each([
      ['method', (r: HttpRequestLike) => ({ ...r, method: 'PUT' }), 'ERR_SIG_INVALID'],
      [
        'path',
        (r: HttpRequestLike) => ({ ...r, url: r.url.replace('/payments', '/refunds') }),
        'ERR_SIG_INVALID',
      ],
      ['query', (r: HttpRequestLike) => ({ ...r, url: r.url.replace('t1', 't2') }), 'ERR_SIG_INVALID'],
      ['body', (r: HttpRequestLike) => ({ ...r, body: enc.encode('{"amount":999}') }), 'ERR_DIGEST_MISMATCH'],
      [
        'content-digest',
        (r: HttpRequestLike) => ({ ...r, headers: { ...r.headers, 'content-digest': 'sha-256=:AAAA:' } }),
        'ERR_SIG_INVALID',
      ],
    ] as const)('tampering with %s fails with %s', async (_name, tamper, code) => {
      await expect(verifyRequest(tamper(sign()), opts)).resolves.toMatchObject({ ok: false, code });
    });

    it('maps every failure to its stable code', async () => {
      const signed = sign();
      const h = signed.headers as Record<string, string>;
      const cases: Array<[HttpRequestLike, Partial<VerifyRequestOptions>, string]> = [
        [{ ...signed, headers: { ...h, signature: undefined } as never }, {}, 'ERR_SIG_MISSING'],
        [{ ...signed, headers: { ...h, 'signature-input': 'sig1=(' } }, {}, 'ERR_SIG_MALFORMED'],
        [{ ...signed, headers: { ...h, signature: 'sig1=:AAAA' } }, {}, 'ERR_SIG_MALFORMED'],
        [{ ...signed, headers: { ...h, signature: 'other=:AAAA:' } }, {}, 'ERR_SIG_MISSING'],
        [signed, { keyLookup: () => undefined }, 'ERR_SIG_UNKNOWN_KEY'],
        [
          signed,
          {
            keyLookup: () => importVerifyKey(jwkFor(alg === 'ed25519' ? 'ecdsa-p256-sha256' : 'ed25519', 3)),
          },
          'ERR_SIG_ALG_MISMATCH',
        ],
        [signed, { keyLookup: () => importVerifyKey(jwkFor(alg, 9)) }, 'ERR_SIG_INVALID'],
        [signed, { requiredComponents: ['@authority'] }, 'ERR_SIG_COMPONENT_MISSING'],
        [signed, { now: NOW_MS + 301_000 }, 'ERR_SIG_EXPIRED'],
        [signed, { now: NOW_MS - 301_000 }, 'ERR_SIG_EXPIRED'],
        [signed, { nonceStore: () => false }, 'ERR_SIG_NONCE_REPLAYED'],
        [sign(base, { nonce: undefined }), {}, 'ERR_SIG_MALFORMED'],
        [sign(base, { components: ['@method', '@path', '@query'] }), {}, 'ERR_SIG_COMPONENT_MISSING'],
        [sign(base, { expires: CREATED - 400 }), {}, 'ERR_SIG_EXPIRED'],
      ];
      for (const [req, extra, code] of cases) {
        const r = await verifyRequest(req, { ...opts, ...extra });
        expect(r.ok ? 'ok' : r.code, code).toBe(code);
        expect(SIGNATURE_ERROR_CODES).toContain(code);
      }
      await expect(verifyRequest(signed, { ...opts, now: NOW_MS + 300_000 })).resolves.toMatchObject({
        ok: true,
      });
    });

    it('accepts a Signature byte sequence without its = padding (RFC 8941 §4.2.7)', async () => {
      const signed = sign();
      const sig = signed.headers.signature as string;
      expect(sig).toMatch(/^sig1=:[A-Za-z0-9+/]{86}==:$/); // 64 bytes: always two = of padding
      const unpadded = sig.replace('==:', ':');
      await expect(
        verifyRequest({ ...signed, headers: { ...signed.headers, signature: unpadded } }, opts),
      ).resolves.toMatchObject({ ok: true, keyId: 'dev-1' });
      // the last character's 4 pad bits are ignored: the same signature bytes
      const last = unpadded.length - 2;
      const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const noisy = `${unpadded.slice(0, last)}${B64[B64.indexOf(unpadded[last] as string) ^ 0b1111]}:`;
      await expect(
        verifyRequest({ ...signed, headers: { ...signed.headers, signature: noisy } }, opts),
      ).resolves.toMatchObject({ ok: true });
      // not base64 is still malformed, and other bytes still do not verify
      for (const [signature, code] of [
        [`${unpadded.slice(0, -2)}:`, 'ERR_SIG_MALFORMED'], // 85 characters: 4n + 1
        [sig.replace('==:', '=:'), 'ERR_SIG_MALFORMED'], // partial padding
        [sig.replace('==:', '===:'), 'ERR_SIG_MALFORMED'],
        [`${sig.slice(0, 6)}=${sig.slice(7)}`, 'ERR_SIG_MALFORMED'], // a misplaced =
        [sig.replace('==:', 'AA:'), 'ERR_SIG_INVALID'], // 66 bytes
      ] as const) {
        await expect(
          verifyRequest({ ...signed, headers: { ...signed.headers, signature } }, opts),
          signature,
        ).resolves.toMatchObject({ ok: false, code });
      }
    });

    it('reports a signed Content-Digest that does not parse as malformed, not as a mismatch', async () => {
      // a client that signed a broken Content-Digest: the signature verifies, the digest cannot be checked
      const body = base.body as Uint8Array;
      const signedWith = (digest: string) => {
        const { body: _b, ...noBody } = base;
        const req = { ...noBody, headers: { ...base.headers, 'content-digest': digest } };
        return { ...sign(req, { components: ['@method', '@path', '@query', 'content-digest'] }), body };
      };
      const right = createContentDigest(body);
      const cases: Array<[string, string]> = [
        [right, 'ok'],
        [right.replace(/=+:$/, ':'), 'ok'], // unpadded
        [createContentDigest(enc.encode('{"amount":999}')), 'ERR_DIGEST_MISMATCH'],
        [right.slice(0, -1), 'ERR_SIG_MALFORMED'], // no closing colon
        [right.replace(/:/g, ''), 'ERR_SIG_MALFORMED'], // a token
        [right.replace('=:', '==:'), 'ERR_SIG_MALFORMED'], // not base64
        [`${right}, sha-512="x"`, 'ERR_SIG_MALFORMED'],
        ['md5=:AAAA:', 'ERR_SIG_MALFORMED'], // no supported algorithm
        ['', 'ERR_SIG_MALFORMED'],
      ];
      for (const [digest, code] of cases) {
        const req = signedWith(digest);
        expect(req.headers['content-digest'], digest).toBe(digest);
        const r = await verifyRequest(req, opts);
        expect(r.ok ? 'ok' : r.code, digest).toBe(code);
      }
      // a digest function that throws still fails as a mismatch (documented)
      const throwing = () => {
        throw new Error('no digest');
      };
      await expect(verifyRequest(sign(), { ...opts, digest: throwing })).resolves.toMatchObject({
        ok: false,
        code: 'ERR_DIGEST_MISMATCH',
      });
    });

    it('calls the nonce store only after the signature verified', async () => {
      const calls: string[] = [];
      const nonceStore = (n: string, kid: string, exp: number) => {
        calls.push(`${n}|${kid}|${exp}`);
        return true;
      };
      const tampered = { ...sign(), method: 'GET' };
      await verifyRequest(tampered, { ...opts, nonceStore });
      expect(calls).toEqual([]);
      await expect(verifyRequest(sign(), { ...opts, nonceStore })).resolves.toMatchObject({ ok: true });
      expect(calls).toEqual([`n-1|dev-1|${CREATED + 300}`]);
    });

    it('property: any single-byte change of the body or a covered header fails', async () => {
      const signed = sign();
      const body = signed.body as Uint8Array;
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
          const b = body.slice();
          b[i] = (b[i] as number) ^ x;
          const r = await verifyRequest({ ...signed, body: b }, opts);
          return !r.ok;
        }),
        { numRuns: 60, seed: 0x5eed },
      );
      const digest = signed.headers['content-digest'] as string;
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: digest.length - 1 }),
          fc.constantFrom(...'ABCabc019+/=:;,"'.split('')),
          async (i, ch) => {
            fc.pre(digest[i] !== ch);
            const d = digest.slice(0, i) + ch + digest.slice(i + 1);
            const r = await verifyRequest(
              { ...signed, headers: { ...signed.headers, 'content-digest': d } },
              opts,
            );
            return !r.ok;
          },
        ),
        { numRuns: 60, seed: 0x5eed },
      );
    });
  });
}

describe('hostile signature headers', () => {
  const pub = importVerifyKey(jwkFor('ed25519', 1));
  it('property: random junk Signature-Input / Signature never throws and never verifies', async () => {
    const sfLike = fc.stringMatching(/^[a-z0-9=();:"@ \-*.,?\\/+_A-Z]{0,80}$/);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), sfLike), fc.oneof(fc.string(), sfLike), async (input, sig) => {
        const r = await verifyRequest(
          { method: 'GET', url: '/x', headers: { host: 'a.test', 'signature-input': input, signature: sig } },
          { keyLookup: () => pub, now: 0, requiredParams: [], requiredComponents: [] },
        );
        return r.ok === false && SIGNATURE_ERROR_CODES.includes(r.code);
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  it('rejects decimals where integers are required and duplicate components', async () => {
    const headers = { host: 'a.test', signature: 'sig1=:AAAA:' };
    const run = (input: string) =>
      verifyRequest(
        { method: 'GET', url: '/x', headers: { ...headers, 'signature-input': input } },
        { keyLookup: () => pub, now: 0, requiredParams: [], requiredComponents: [] },
      );
    await expect(run('sig1=("@method");created=1.0;keyid="k"')).resolves.toMatchObject({
      code: 'ERR_SIG_MALFORMED',
    });
    await expect(run('sig1=("@method" "@method");created=0;keyid="k"')).resolves.toMatchObject({
      code: 'ERR_SIG_MALFORMED',
    });
    await expect(run('sig1=("@method";sf);created=0;keyid="k"')).resolves.toMatchObject({
      code: 'ERR_SIG_MALFORMED',
    });
  });
});

describe('default label', () => {
  it('is the first member of Signature-Input, where a repeated key keeps its first position (RFC 8941 §4.2.2)', async () => {
    const jwk = jwkFor('ed25519', 5);
    const req: HttpRequestLike = { method: 'GET', url: 'https://a.test/x', headers: {} };
    const h = signRequest(req, { keyId: 'k', key: importSigningKey(jwk), created: CREATED, nonce: 'n' });
    const input = h['signature-input'];
    const r = await verifyRequest(
      {
        ...req,
        headers: {
          'signature-input': `${input}, sig2=("@method");created=${CREATED};keyid="k", ${input}`,
          signature: `${h.signature}, sig2=:AAAA:`,
        },
      },
      { keyLookup: () => importVerifyKey(jwk), now: NOW_MS },
    );
    expect(r).toMatchObject({ ok: true, label: 'sig1' });
  });

  it("passes over a signature whose key the lookup does not know (a gateway's, put first)", async () => {
    const device = jwkFor('ed25519', 5);
    const gateway = jwkFor('ecdsa-p256-sha256', 9);
    const req: HttpRequestLike = { method: 'GET', url: 'https://a.test/x', headers: {} };
    const mine = signRequest(req, {
      keyId: 'dev',
      key: importSigningKey(device),
      created: CREATED,
      nonce: 'n',
    });
    const theirs = signRequest(req, {
      keyId: 'gw',
      key: importSigningKey(gateway),
      created: CREATED,
      nonce: 'g',
      label: 'proxy',
    });
    const headers = {
      'signature-input': `${theirs['signature-input']}, ${mine['signature-input']}`,
      signature: `${theirs.signature}, ${mine.signature}`,
    };
    const lookups: string[] = [];
    const only = (known: Record<string, Jwk>) => (kid: string) => {
      lookups.push(kid);
      const j = known[kid];
      return j === undefined ? undefined : importVerifyKey(j);
    };
    expect(
      await verifyRequest({ ...req, headers }, { keyLookup: only({ dev: device }), now: NOW_MS }),
    ).toMatchObject({
      ok: true,
      label: 'sig1',
      keyId: 'dev',
    });
    // both known: the first; none known: the first, reported as unknown; an explicit label wins
    expect(
      await verifyRequest(
        { ...req, headers },
        { keyLookup: only({ dev: device, gw: gateway }), now: NOW_MS },
      ),
    ).toMatchObject({ ok: true, label: 'proxy', keyId: 'gw' });
    expect(await verifyRequest({ ...req, headers }, { keyLookup: only({}), now: NOW_MS })).toMatchObject({
      ok: false,
      code: 'ERR_SIG_UNKNOWN_KEY',
    });
    expect(
      await verifyRequest(
        { ...req, headers },
        { keyLookup: only({ dev: device, gw: gateway }), now: NOW_MS, label: 'sig1' },
      ),
    ).toMatchObject({ ok: true, label: 'sig1' });
    // one signature: no lookup to choose it
    lookups.length = 0;
    await verifyRequest({ ...req, headers: { ...mine } }, { keyLookup: only({ dev: device }), now: NOW_MS });
    expect(lookups).toEqual(['dev']);
  });
});

describe('keys', () => {
  it('rejects mismatched, malformed and unsupported JWKs', () => {
    const a = jwkFor('ecdsa-p256-sha256', 1);
    const b = jwkFor('ecdsa-p256-sha256', 2);
    expect(() => importSigningKey({ ...a, d: b.d as string })).toThrow(TypeError);
    expect(() => importVerifyKey({ ...a, x: 'AAAA' })).toThrow(RangeError);
    expect(() => importVerifyKey({ ...a, y: a.x })).toThrow(RangeError);
    expect(() => importVerifyKey({ kty: 'RSA', crv: 'x', x: '' })).toThrow(TypeError);
    expect(() => importVerifyKey({ ...a, alg: 'EdDSA' })).toThrow(TypeError);
    expect(() => importSigningKey({ ...a, d: undefined as never })).toThrow(TypeError);
  });

  it('accepts high-S ECDSA signatures (lowS: false)', async () => {
    const jwk = jwkFor('ecdsa-p256-sha256', 4);
    const key = importSigningKey(jwk);
    const req: HttpRequestLike = { method: 'GET', url: 'https://a.test/x', headers: {} };
    const headers = signRequest(req, { keyId: 'k', key, created: CREATED, nonce: 'n' });
    const raw = Uint8Array.from(atob(headers.signature.slice(6, -1)), (c) => c.charCodeAt(0));
    const sig = p256.Signature.fromBytes(raw);
    const high = new p256.Signature(sig.r, p256.Point.CURVE().n - sig.s).toBytes('compact');
    const highHeader = `sig1=:${btoa(String.fromCharCode(...high))}:`;
    expect(highHeader).not.toBe(headers.signature);
    const r = await verifyRequest(
      { ...req, headers: { ...headers, signature: highHeader } },
      { keyLookup: () => importVerifyKey(jwk), now: NOW_MS },
    );
    expect(r.ok).toBe(true);
  });
});

describe('getHeader', () => {
  it('joins the trimmed lines of every case variant of a name, in key order, and ignores inherited keys', () => {
    expect(getHeader({ 'x-a': ' 1 ', 'X-A': ['2', ' 3'], other: 'no' }, 'X-a')).toBe('1, 2, 3');
    expect(getHeader({ 'x-a': [] }, 'x-a')).toBeUndefined();
    expect(getHeader({ 'x-a': '' }, 'x-a')).toBe('');
    expect(getHeader({ 'x-b': '1' }, 'x-a')).toBeUndefined();
    const inherited = Object.create({ 'x-a': 'from the prototype' }) as Record<string, string>;
    inherited['x-c'] = 'own';
    expect(getHeader(inherited, 'x-a')).toBeUndefined();
    expect(getHeader(new Headers({ 'X-A': ' 1 ' }), 'x-a')).toBe('1');
  });

  it('strips only SP and HTAB around each line (RFC 9421 §2.1), never other whitespace', () => {
    expect(getHeader({ 'x-a': 'v\u00a0' }, 'x-a')).toBe('v\u00a0');
    expect(getHeader({ 'x-a': ' \t\u00a0v\u00a0\t ' }, 'x-a')).toBe('\u00a0v\u00a0');
    expect(getHeader({ 'x-a': ['\u00a0', ' \u2003x\u000b\f '] }, 'x-a')).toBe('\u00a0, \u2003x\u000b\f');
    expect(getHeader({ 'x-a': ' \t ' }, 'x-a')).toBe('');
    expect(getHeader(new Headers({ 'x-a': '\u00a0v\u00a0' }), 'x-a')).toBe('\u00a0v\u00a0');
    expect(headersToRecord(new Headers({ 'x-a': 'v\u00a0' }))).toEqual({ 'x-a': 'v\u00a0' });
    expect(headersToRecord({ 'X-A': '\t\u00a0v ' })).toEqual({ 'x-a': '\u00a0v' });
  });
});

describe('header input: a Headers object from any implementation', () => {
  it("reads undici's own Headers class (not this runtime's global) for signing and verifying", async () => {
    const { Headers: UndiciHeaders } = await import('undici');
    const ED = {
      kty: 'OKP',
      crv: 'Ed25519',
      x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
      d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
    } as const;
    const body = new TextEncoder().encode('{"a":1}');
    const base = { method: 'POST', url: '/v1/x?y=1', body };
    const signed = signRequest(
      {
        ...base,
        headers: new UndiciHeaders({ host: 'api.example', 'content-type': 'application/json' }) as never,
      },
      {
        keyId: 'k',
        key: importSigningKey(ED),
        created: 1000,
        nonce: 'n1',
        components: ['@method', '@path', '@query', 'content-type', 'content-digest'],
      },
    );
    const all = { host: 'api.example', 'content-type': 'application/json', ...signed };
    expect(UndiciHeaders).not.toBe(globalThis.Headers);
    const opts = { keyLookup: () => importVerifyKey(ED), now: 1000_000 };
    for (const headers of [all, new Headers(all), new UndiciHeaders(all) as unknown as Headers]) {
      const r = await verifyRequest({ ...base, headers }, opts);
      expect([headers.constructor.name, r]).toMatchObject([expect.any(String), { ok: true, keyId: 'k' }]);
    }
  });
});
