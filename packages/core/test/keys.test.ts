import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeProtected } from '../src/cose-sign1.js';
import {
  CampusCardError,
  computeKeyId,
  createCompactPresentation,
  decodeSign1,
  exportCoseKey,
  exportJwk,
  fromHex,
  generateKeyPair,
  importCoseKey,
  importJwk,
  importPrivateJwk,
  importPublicJwk,
  importRawPublicKey,
  issueCredential,
  type PublicKey,
  parseCredentialClaims,
  parseRosterPayload,
  parseTrustListPayload,
  type Signer,
  sign1ToBeSigned,
  signBytes,
  signRoster,
  signStatusList,
  signTrustList,
  toBase64Url,
  toHex,
  toSigner,
  verifyBytes,
  verifyPresentation,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';
import { type CborMap, type CborValue, cmap, decodeCbor, encodeCbor } from '../src/lib/cbor.js';
import { codeOf } from './helpers/code-of.js';

const hex = (s: string) => fromHex(s) as Uint8Array;

describe('key ids (RFC 9679)', () => {
  it('matches the RFC 9679 §6 example thumbprint (first 8 bytes)', () => {
    const raw = hex(
      '04' +
        '65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d' +
        '1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c',
    );
    expect(toHex(computeKeyId('ES256', raw))).toBe('496bd8afadf307e5');
  });

  it('refuses a raw key of another form instead of naming no key (a compressed point, say)', () => {
    const { publicKey } = generateKeyPair('ES256');
    const compressed = exportCoseKey(publicKey, { compressed: true });
    const sec1 = Uint8Array.from([
      (compressed.get(-3) as boolean) ? 3 : 2,
      ...(compressed.get(-2) as Uint8Array),
    ]);
    // the same key, compressed: a thumbprint of it would be another kid, so it is refused
    expect(importRawPublicKey('ES256', sec1).kid).toEqual(publicKey.kid);
    for (const raw of [sec1, publicKey.raw.subarray(1), Uint8Array.from([5, ...publicKey.raw.subarray(1)])]) {
      expect(() => computeKeyId('ES256', raw)).toThrow(RangeError);
    }
    const ed = generateKeyPair('EdDSA').publicKey;
    expect(() => computeKeyId('EdDSA', ed.raw.subarray(1))).toThrow(RangeError);
    expect(() => computeKeyId('EdDSA', publicKey.raw)).toThrow(RangeError);
    expect(() => computeKeyId('ES384' as never, publicKey.raw)).toThrow(TypeError);
    expect(computeKeyId('ES256', publicKey.raw)).toEqual(publicKey.kid);
    expect(computeKeyId('EdDSA', ed.raw)).toEqual(ed.kid);
  });

  it('is the same for the compressed and uncompressed forms of a key', () => {
    const { publicKey } = generateKeyPair('ES256');
    const compressed = importCoseKey(exportCoseKey(publicKey, { compressed: true, alg: false }));
    expect(compressed.kid).toEqual(publicKey.kid);
    expect(compressed.raw).toEqual(publicKey.raw);
  });
});

describe('JWK and COSE_Key import/export', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: round-trips public and private keys, and node:crypto accepts the JWK`, () => {
      const { privateKey, publicKey } = generateKeyPair(alg);
      const jwk = exportJwk(publicKey);
      expect(jwk.alg).toBe(alg);
      expect(importJwk(jwk)).toEqual(publicKey);
      const priv = importPrivateJwk(exportJwk(privateKey, { includePrivate: true }));
      expect(priv.d).toEqual(privateKey.d);
      expect(exportJwk(privateKey)).not.toHaveProperty('d');
      expect(JSON.stringify(privateKey)).not.toContain(toHex(privateKey.d));
      expect(importCoseKey(exportCoseKey(publicKey))).toEqual(publicKey);
      const { kid: _k, alg: _a, ...rest } = jwk;
      const node = createPublicKey({ key: rest as import('node:crypto').JsonWebKey, format: 'jwk' });
      expect(node.asymmetricKeyType).toBe(alg === 'ES256' ? 'ec' : 'ed25519');
    });
  }

  it("a JWK's own kid is not read: the key id is computed, and the JWK exports with the computed kid", () => {
    const { publicKey } = generateKeyPair('ES256');
    const jwk = exportJwk(publicKey);
    for (const kid of ['vendor-key-7', toBase64Url(new Uint8Array(8)), '']) {
      const imported = importPublicJwk({ ...jwk, kid });
      expect(imported.kid).toEqual(publicKey.kid);
      expect(exportJwk(imported).kid).toBe(jwk.kid);
    }
  });

  it('rejects bad keys with ERR_KEY_INVALID or ERR_ALG_NOT_ALLOWED', () => {
    const { publicKey } = generateKeyPair('ES256');
    const jwk = exportJwk(publicKey);
    const bad: unknown[] = [
      null,
      {},
      { ...jwk, x: 'AAAA' },
      { ...jwk, crv: 'P-384' },
      { ...jwk, alg: 'EdDSA' },
      { ...jwk, y: jwk.x },
      { ...jwk, d: 'AAAA' },
      { kty: 'RSA', n: 'x', e: 'AQAB' },
    ];
    for (const b of bad) expect(() => importJwk(b), JSON.stringify(b)).toThrow(CampusCardError);
    expect(() => importRawPublicKey('ES256', new Uint8Array(65))).toThrow(CampusCardError);
    const cose = exportCoseKey(publicKey);
    cose.set(3, -8);
    expect(() => importCoseKey(cose)).toThrow(/alg/);
  });

  it('refuses a private JWK whose d does not match its public key', () => {
    const a = generateKeyPair('ES256');
    const b = generateKeyPair('ES256');
    const mixed = { ...exportJwk(a.publicKey), d: exportJwk(b.privateKey, { includePrivate: true }).d };
    expect(() => importJwk(mixed)).toThrow(CampusCardError);
  });
});

describe('signatures', () => {
  it('sign → verify true, any changed byte → false (both algorithms)', () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { privateKey, publicKey } = generateKeyPair(alg);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (msg, at) => {
          const sig = signBytes(privateKey, msg);
          expect(verifyBytes(publicKey, msg, sig)).toBe(true);
          const m2 = Uint8Array.from(msg);
          m2[at % m2.length] = (m2[at % m2.length] as number) ^ 1;
          expect(verifyBytes(publicKey, m2, sig)).toBe(false);
          expect(verifyBytes(publicKey, msg, sig.subarray(0, 63))).toBe(false);
        }),
        { numRuns: 30, seed: 21 },
      );
    }
  });

  it('deterministic seeds give deterministic keys', () => {
    const seed = new Uint8Array(48).fill(7);
    expect(generateKeyPair('ES256', { seed }).publicKey.raw).toEqual(
      generateKeyPair('ES256', { seed }).publicKey.raw,
    );
  });
});

describe('Ed25519 keys of small order (spec §2.3, §2.4)', () => {
  const NOW = 1_767_225_600;
  // the identity, 32 zero bytes (order 4), y = p − 1 (order 2): points on the curve, of small order
  const smallOrder = [
    hex(`01${'00'.repeat(31)}`),
    new Uint8Array(32),
    hex(`ec${'ff'.repeat(30)}7f`),
    hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  ];
  /** A signature backend on node:crypto (OpenSSL), as a reader may plug in. */
  const openssl = {
    verify: (key: PublicKey, data: Uint8Array, signature: Uint8Array) =>
      nodeVerify(
        null,
        data,
        createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(key.raw) },
          format: 'jwk',
        }),
        signature,
      ),
  };

  it('are refused as keys (ERR_KEY_INVALID), raw, as COSE_Key and as JWK', () => {
    for (const raw of smallOrder) {
      expect(
        codeOf(() => importRawPublicKey('EdDSA', raw)),
        toHex(raw),
      ).toBe('ERR_KEY_INVALID');
      const cose = cmap([
        [1, 1],
        [-1, 6],
        [-2, raw],
      ]);
      expect(codeOf(() => importCoseKey(cose))).toBe('ERR_KEY_INVALID');
      expect(codeOf(() => importJwk({ kty: 'OKP', crv: 'Ed25519', x: toBase64Url(raw) }))).toBe(
        'ERR_KEY_INVALID',
      );
    }
    expect(codeOf(() => importRawPublicKey('EdDSA', generateKeyPair('EdDSA').publicKey.raw))).toBe('OK');
  });

  it('a credential whose phone key is the identity point admits no code, not even a forged one', async () => {
    const root = generateKeyPair('EdDSA').privateKey;
    const issuer = generateKeyPair('EdDSA').privateKey;
    const trustList = verifyTrustList(
      await signTrustList(
        {
          version: 1,
          iat: NOW,
          authority: 'platform',
          keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 0, exp: NOW * 2 }],
        },
        root,
      ),
      [root.publicKey],
    );
    const statusList = verifyStatusList(
      await signStatusList({ school: '10001', version: 1, iat: NOW, statuses: [0, 0] }, issuer),
      trustList,
    );
    const identity = smallOrder[0] as Uint8Array;
    // the claims a careless (or a hostile) phone's registration would make the issuer sign
    const claims = encodeCbor(
      cmap([
        [1, '10001'],
        [2, 'S-1'],
        [6, NOW - 60],
        [
          8,
          cmap([
            [
              1,
              cmap([
                [1, 1],
                [-1, 6],
                [-2, identity],
              ]),
            ],
          ]),
        ],
        ['c', [2, 1, 30]],
      ]),
    );
    const protectedBytes = encodeProtected('EdDSA', issuer.kid);
    const credential = encodeCbor([
      protectedBytes,
      new Map(),
      claims,
      signBytes(issuer, sign1ToBeSigned(protectedBytes, claims)),
    ]);
    // no phone key signs this code: R is the identity and S is 0, which OpenSSL takes for any message
    const header = encodeProtected('EdDSA');
    const payload = encodeCbor([protectedBytes, claims, credential.subarray(-64), NOW, new Uint8Array(4)]);
    const forged = new Uint8Array(64);
    forged[0] = 1;
    expect(openssl.verify({ raw: identity } as PublicKey, sign1ToBeSigned(header, payload), forged)).toBe(
      true,
    );
    const code = encodeCbor([header, new Map(), payload, forged]);
    for (const backend of [openssl, undefined]) {
      const result = await verifyPresentation(code, {
        trustList,
        statusLists: [statusList],
        now: NOW,
        ...(backend === undefined ? {} : { backend }),
      }).then(
        () => 'accepted',
        (e: CampusCardError) => e.code,
      );
      expect(result).toBe('ERR_KEY_INVALID');
    }
  });
});

describe('custom signers (secure hardware): alg, publicKey and kid must agree', () => {
  const NOW = 1_767_225_600;
  const issuer = generateKeyPair('ES256').privateKey;
  const phone = generateKeyPair('EdDSA').privateKey;
  const hsm = (over: Partial<Signer>): Signer => ({
    alg: 'ES256',
    kid: issuer.kid,
    publicKey: issuer.publicKey,
    sign: (data) => signBytes(issuer, data),
    ...over,
  });
  const claims = {
    school: '10001',
    cardId: 'T-0042',
    role: 'teacher',
    iat: NOW,
    validityDays: 30,
    holderKey: phone.publicKey,
    statusIndex: 3,
  } as const;

  it('a signer that agrees signs as its private key would', async () => {
    expect(toSigner(hsm({}))).toMatchObject({ alg: 'ES256', kid: issuer.kid });
    const bytes = await issueCredential(claims, hsm({}));
    expect(decodeSign1(bytes, { maxBytes: 600 }, 'credential', true).kid).toEqual(issuer.kid);
  });

  it('one that names an unsupported alg, another key or a kid not its key id signs nothing', async () => {
    let signed = 0;
    const counting = (over: Partial<Signer>) =>
      hsm({
        sign: (data) => {
          signed++;
          return signBytes(issuer, data);
        },
        ...over,
      });
    const liars: Array<[string, Signer]> = [
      // before: a header without an alg (`{4: kid}`), which every reader refuses
      ['unsupported alg', counting({ alg: 'ES384' as never })],
      ['alg not the key’s', counting({ alg: 'EdDSA' })],
      // before: a 16-byte kid in the header (ERR_STRUCTURE at every reader)
      ['16-byte kid', counting({ kid: new Uint8Array(16) })],
      // before: a kid no trust list has (ERR_UNKNOWN_ISSUER at every reader)
      ['another key’s kid', counting({ kid: phone.kid })],
      ['kid not bytes', counting({ kid: toHex(issuer.kid) as never })],
      ['no public key', counting({ publicKey: undefined as never })],
    ];
    for (const [name, signer] of liars) {
      expect(() => toSigner(signer), name).toThrow(TypeError);
      await expect(issueCredential(claims, signer), name).rejects.toThrow(TypeError);
      await expect(
        signTrustList(
          {
            version: 1,
            iat: NOW,
            authority: 'platform',
            keys: [{ key: issuer.publicKey, roles: ['teacher'], nbf: 0, exp: NOW }],
          },
          signer,
        ),
        name,
      ).rejects.toThrow(TypeError);
    }
    await expect(
      createCompactPresentation({ cardId: 'T-0042', t: NOW }, hsm({ kid: new Uint8Array(8) })),
    ).rejects.toThrow(TypeError);
    expect(signed).toBe(0);
  });
});

/** `key` (a COSE_Key map) with `extra` members, in deterministic order. */
const withMembers = (key: CborValue, ...extra: Array<[number | string, CborValue]>): CborMap =>
  cmap([...(key as CborMap).entries(), ...extra]);

describe('COSE_Key members (spec §2.4): kty, alg, crv, x, y, and never a kid', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    const { privateKey, publicKey } = generateKeyPair(alg);
    const forms = [
      ['with alg', exportCoseKey(publicKey)],
      ['without alg', exportCoseKey(publicKey, { alg: false })],
      ['compressed, without alg (a credential)', exportCoseKey(publicKey, { compressed: true, alg: false })],
    ] as const;

    it(`${alg}: a kid (2) is refused, the key's own one as much as any other`, () => {
      for (const [form, key] of forms) {
        expect(
          codeOf(() => importCoseKey(key)),
          form,
        ).toBe('OK');
        for (const kid of [
          publicKey.kid,
          new Uint8Array(8),
          computeKeyId(alg, publicKey.raw).subarray(0, 4),
          'k',
          1,
        ]) {
          expect(
            codeOf(() => importCoseKey(withMembers(key, [2, kid]))),
            form,
          ).toBe('ERR_KEY_INVALID');
        }
        expect(() => importCoseKey(withMembers(key, [2, publicKey.kid]))).toThrow(/no kid/);
      }
    });

    it(`${alg}: any other member is refused too (a private d, key_ops, a text label)`, () => {
      for (const extra of [
        [-4, privateKey.d],
        [4, [1]],
        [5, new Uint8Array(16)],
        [-5, 0],
        ['kid', publicKey.kid],
      ] as Array<[number | string, CborValue]>) {
        expect(
          codeOf(() => importCoseKey(withMembers(exportCoseKey(publicKey), extra))),
          String(extra[0]),
        ).toBe('ERR_KEY_INVALID');
      }
    });

    it(`${alg}: algLabel 'required' refuses a key without 3 (alg), 'forbidden' one with it; the default takes both`, () => {
      for (const [form, key] of forms) {
        const hasAlg = key.has(3);
        expect([form, codeOf(() => importCoseKey(key))]).toEqual([form, 'OK']);
        expect([form, codeOf(() => importCoseKey(key, { algLabel: 'optional' }))]).toEqual([form, 'OK']);
        expect([form, codeOf(() => importCoseKey(key, { algLabel: 'required' }))]).toEqual([
          form,
          hasAlg ? 'OK' : 'ERR_KEY_INVALID',
        ]);
        expect([form, codeOf(() => importCoseKey(key, { algLabel: 'forbidden' }))]).toEqual([
          form,
          hasAlg ? 'ERR_KEY_INVALID' : 'OK',
        ]);
      }
    });

    it(`${alg}: exportCoseKey writes only kty, alg, crv, x and y`, () => {
      for (const [, key] of forms) {
        for (const label of key.keys()) expect([1, 3, -1, -2, -3]).toContain(label);
      }
    });
  }

  const NOW = 1_767_225_600;
  const root = generateKeyPair('ES256').privateKey;
  const issuer = generateKeyPair('ES256').privateKey;
  const phone = generateKeyPair('ES256').privateKey;
  const payloadOf = (bytes: Uint8Array) =>
    decodeCbor(decodeSign1(bytes, { maxBytes: 4096 }, 'x', true).payload, { maxBytes: 4096 }, 'y') as CborMap;

  it('a phone key (cnf) with a kid makes the credential ERR_KEY_INVALID', async () => {
    const claims = payloadOf(
      await issueCredential(
        {
          school: '10001',
          cardId: 'T-0042',
          role: 'teacher',
          iat: NOW,
          validityDays: 30,
          holderKey: phone.publicKey,
          statusIndex: 1,
        },
        issuer,
      ),
    );
    expect(codeOf(() => parseCredentialClaims(encodeCbor(claims)))).toBe('OK');
    const cnf = claims.get(8) as CborMap;
    cnf.set(1, withMembers(cnf.get(1) as CborValue, [2, phone.kid]));
    expect(codeOf(() => parseCredentialClaims(encodeCbor(claims)))).toBe('ERR_KEY_INVALID');
  });

  it('an issuer key with a kid makes the trust list ERR_KEY_INVALID', async () => {
    const payload = payloadOf(
      await signTrustList(
        {
          version: 1,
          iat: NOW,
          authority: 'platform',
          keys: [{ key: issuer.publicKey, roles: ['teacher'], nbf: 0, exp: NOW }],
        },
        root,
      ),
    );
    expect(codeOf(() => parseTrustListPayload(encodeCbor(payload)))).toBe('OK');
    const entry = (payload.get(4) as CborMap[])[0] as CborMap;
    entry.set(1, withMembers(entry.get(1) as CborValue, [2, issuer.kid]));
    expect(codeOf(() => parseTrustListPayload(encodeCbor(payload)))).toBe('ERR_KEY_INVALID');
  });

  it('a phone key with a kid makes the roster ERR_KEY_INVALID', async () => {
    const card = {
      cardId: 'T-0042',
      role: 'teacher',
      statusIndex: 1,
      keys: [phone.publicKey],
      exp: NOW,
    } as const;
    const payload = payloadOf(
      await signRoster({ school: '10001', version: 1, iat: NOW, cards: [card] }, issuer),
    );
    expect(codeOf(() => parseRosterPayload(encodeCbor(payload)))).toBe('OK');
    const entry = (payload.get(4) as CborMap[])[0] as CborMap;
    const keys = entry.get(4) as CborValue[];
    keys[0] = withMembers(keys[0] as CborValue, [2, phone.kid]);
    expect(codeOf(() => parseRosterPayload(encodeCbor(payload)))).toBe('ERR_KEY_INVALID');
  });
});
