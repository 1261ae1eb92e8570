/**
 * Root keys are bound to an authority (spec §3): one school's root cannot sign a trust list that
 * speaks for the platform or for another school, and a school's list names no other school.
 */
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  decodeSign1,
  generateKeyPair,
  issueCredential,
  type PublicKey,
  parseTrustListPayload,
  sign1ToBeSigned,
  signBytes,
  signTrustList,
  type TrustListInput,
  verifyCredentialIssuer,
  verifyTrustList,
} from '../src/index.js';
import type { PrivateKey } from '../src/keys.js';
import { type CborMap, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

const NOW = 1_767_225_600;
const YEAR = 365 * 86_400;
const A = '10001';
const B = '10002';

const rootA = generateKeyPair('ES256').privateKey;
const rootB = generateKeyPair('ES256').privateKey;
const platformRoot = generateKeyPair('EdDSA').privateKey;
const issuerA = generateKeyPair('ES256').privateKey;
const phone = generateKeyPair('ES256').privateKey;

/** The error code `f` throws (or its promise rejects with), or `'OK'`. */
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'OK';
  } catch (e) {
    return e instanceof CampusCardError ? e.code : `untyped ${e instanceof Error ? e.name : String(e)}`;
  }
}

function list(authority: string, schools?: string[], version = 1): TrustListInput {
  return {
    version,
    iat: NOW - 60,
    authority,
    keys: [
      {
        key: issuerA.publicKey,
        roles: ['student'],
        nbf: NOW - YEAR,
        exp: NOW + YEAR,
        ...(schools === undefined ? {} : { schools }),
      },
    ],
  };
}

/** Signs `payload` (a trust list payload map) with `root` as a COSE_Sign1, without signTrustList's checks. */
function forge(root: PrivateKey, payload: CborMap, template: Uint8Array): Uint8Array {
  const sign1 = decodeSign1(template, { maxBytes: 4096 }, 'tl', true);
  const bytes = encodeCbor(payload);
  const signature = signBytes(root, sign1ToBeSigned(sign1.protectedBytes, bytes));
  return encodeCbor([sign1.protectedBytes, new Map(), bytes, signature]);
}

/** A card of school B issued by school A's issuer key. */
function cardOfB(): Promise<Uint8Array> {
  return issueCredential(
    {
      school: B,
      cardId: '2024020001',
      role: 'student',
      iat: NOW - 3600,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 1,
    },
    issuerA,
  );
}

const anchors = [
  { key: rootA.publicKey, authority: A },
  { key: rootB.publicKey, authority: B },
  { key: platformRoot.publicKey, authority: 'platform' },
];

describe('a root key anchors one authority', () => {
  it("school A's root signing a list that claims school B, or the platform, is refused", async () => {
    for (const authority of [B, 'platform']) {
      for (const schools of [undefined, [B]]) {
        const bytes = await signTrustList(list(authority, schools), rootA);
        expect(await codeOf(() => verifyTrustList(bytes, anchors)), `${authority} ${schools}`).toBe(
          'ERR_UNKNOWN_ISSUER',
        );
      }
    }
  });

  it('each root still loads the lists of its own authority', async () => {
    const own = verifyTrustList(await signTrustList(list(A), rootA), anchors);
    expect(own.authority).toBe(A);
    // and so school A's issuer still cannot sign school B's cards
    expect(await codeOf(async () => verifyCredentialIssuer(await cardOfB(), own))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
    expect(verifyTrustList(await signTrustList(list(B), rootB), anchors).authority).toBe(B);
    const platform = verifyTrustList(await signTrustList(list('platform', [B]), platformRoot), anchors);
    expect((await verifyCredentialIssuer(await cardOfB(), platform)).claims.school).toBe(B);
  });

  it("a school's list naming another school is refused, even under that school's own root", async () => {
    const template = await signTrustList(list(A, [A]), rootA);
    const payload = decodeCbor(
      decodeSign1(template, { maxBytes: 4096 }, 'tl', true).payload,
      { maxBytes: 4096 },
      'tl',
    ) as CborMap;
    const entry = (payload.get(4) as CborMap[])[0] as CborMap;
    for (const schools of [[B], [A, B]]) {
      entry.set(5, schools);
      const forged = forge(rootA, payload, template);
      expect(
        await codeOf(() =>
          parseTrustListPayload(decodeSign1(forged, { maxBytes: 4096 }, 'tl', true).payload),
        ),
      ).toBe('ERR_STRUCTURE');
      // with its root anchored to A, and as the single bare root alike
      expect(await codeOf(() => verifyTrustList(forged, anchors))).toBe('ERR_STRUCTURE');
      expect(await codeOf(() => verifyTrustList(forged, [rootA.publicKey]))).toBe('ERR_STRUCTURE');
      // and the issuer refuses to sign it, with the reader's error
      expect(await codeOf(() => signTrustList(list(A, schools), rootA))).toBe('ERR_STRUCTURE');
    }
    // a platform list may name any school
    expect(
      verifyTrustList(await signTrustList(list('platform', [A, B]), platformRoot), anchors).keys,
    ).toHaveLength(1);
  });

  it('a single bare root key anchors whatever authority its lists state (the common deployment)', async () => {
    for (const authority of [A, B, 'platform']) {
      expect(verifyTrustList(await signTrustList(list(authority), rootA), [rootA.publicKey]).authority).toBe(
        authority,
      );
    }
    // a single anchored root: that authority only
    const one = [{ key: rootA.publicKey, authority: A }];
    expect(verifyTrustList(await signTrustList(list(A), rootA), one).authority).toBe(A);
    expect(await codeOf(async () => verifyTrustList(await signTrustList(list('platform'), rootA), one))).toBe(
      'ERR_UNKNOWN_ISSUER',
    );
  });

  it('a rotation: an old and a new root of one authority; one key may anchor two authorities', async () => {
    const next = generateKeyPair('ES256').privateKey;
    const rotation = [
      { key: rootA.publicKey, authority: A },
      { key: next.publicKey, authority: A },
    ];
    expect(verifyTrustList(await signTrustList(list(A), rootA), rotation).authority).toBe(A);
    expect(verifyTrustList(await signTrustList(list(A), next), rotation).authority).toBe(A);
    expect(await codeOf(async () => verifyTrustList(await signTrustList(list(B), next), rotation))).toBe(
      'ERR_UNKNOWN_ISSUER',
    );
    const twice = [...rotation, { key: rootA.publicKey, authority: 'platform' }];
    expect(verifyTrustList(await signTrustList(list('platform'), rootA), twice).authority).toBe('platform');
    expect(verifyTrustList(await signTrustList(list(A), rootA), twice).authority).toBe(A);
  });

  it('several root keys must each name their authority: a bare one among them is a TypeError', async () => {
    const bytes = await signTrustList(list(B), rootA);
    const bad: unknown[][] = [
      [rootA.publicKey, rootB.publicKey],
      [rootA.publicKey, { key: rootB.publicKey, authority: B }],
      [{ key: rootA.publicKey, authority: A }, rootB.publicKey],
      [{ key: rootA.publicKey, authority: '' }],
      [{ key: rootA.publicKey, authority: 'x'.repeat(65) }],
      [{ key: rootA.publicKey }],
      [{ key: rootA, authority: A }],
      [rootA],
      [null],
    ];
    for (const roots of bad) {
      expect(() => verifyTrustList(bytes, roots as PublicKey[])).toThrow(TypeError);
    }
    // no root at all: nothing is trusted
    expect(await codeOf(() => verifyTrustList(bytes, []))).toBe('ERR_UNKNOWN_ISSUER');
    // 64 characters (code points) is a valid authority
    const long = '\u{20000}'.repeat(64);
    expect(
      verifyTrustList(await signTrustList(list(long), rootA), [{ key: rootA.publicKey, authority: long }])
        .authority,
    ).toBe(long);
  });
});

describe('a trust list may list a kid twice (spec §2.4, §3)', () => {
  it('the same key in two entries, and both admit what they allow', async () => {
    const bytes = await signTrustList(
      {
        version: 1,
        iat: NOW - 60,
        authority: 'platform',
        keys: [
          { key: issuerA.publicKey, roles: ['teacher'], nbf: NOW - YEAR, exp: NOW + YEAR, schools: [A] },
          { key: issuerA.publicKey, roles: ['student'], nbf: NOW - YEAR, exp: NOW + YEAR, schools: [B] },
        ],
      },
      platformRoot,
    );
    const tl = verifyTrustList(bytes, [platformRoot.publicKey]);
    expect(tl.keys).toHaveLength(2);
    expect((await verifyCredentialIssuer(await cardOfB(), tl)).claims.school).toBe(B);
  });
});
