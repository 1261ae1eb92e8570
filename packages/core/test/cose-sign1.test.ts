/**
 * Protected headers (spec §2.2): `{1: alg}` in a presentation, `{1: alg, 4: kid}` in a credential,
 * trust list, status list and roster, and nothing else, each checked in the same order: any other
 * label (ERR_STRUCTURE), then alg (ERR_ALG_NOT_ALLOWED), then the kid (ERR_STRUCTURE).
 */
import { describe, expect, it } from 'vitest';
import {
  createCompactPresentation,
  decodeCredential,
  decodePresentation,
  decodeRoster,
  decodeSign1,
  decodeStatusList,
  decodeTrustList,
  generateKeyPair,
  issueCredential,
  KEY_USE,
  type PrivateKey,
  sign1ToBeSigned,
  signBytes,
  signRoster,
  signStatusList,
  signTrustList,
} from '../src/index.js';
import { type CborValue, cmap, encodeCbor } from '../src/lib/cbor.js';
import { codeOf } from './helpers/code-of.js';

const NOW = 1_767_225_600;
const root = generateKeyPair('ES256').privateKey;
const issuer = generateKeyPair('ES256').privateKey;
const phone = generateKeyPair('ES256').privateKey;

/** A COSE_Sign1 of `payload` under the protected header `header` (any CBOR value), signed by `key`. */
function sign1With(header: CborValue, payload: Uint8Array, key: PrivateKey): Uint8Array {
  const protectedBytes = encodeCbor(header);
  return encodeCbor([
    protectedBytes,
    new Map(),
    payload,
    signBytes(key, sign1ToBeSigned(protectedBytes, payload)),
  ]);
}

const payloadOf = (bytes: Uint8Array) => decodeSign1(bytes, { maxBytes: 1 << 20 }, 'x', true).payload;

interface Structure {
  readonly name: string;
  readonly wantKid: boolean;
  readonly payload: Uint8Array;
  readonly signer: PrivateKey;
  readonly decode: (bytes: Uint8Array) => unknown;
}

const structures: Structure[] = [
  {
    name: 'presentation',
    wantKid: false,
    payload: decodeSign1(
      await createCompactPresentation({ cardId: 'T-0042', t: NOW, nonce: new Uint8Array(4) }, phone),
      { maxBytes: 680 },
      'p',
      false,
    ).payload,
    signer: phone,
    decode: decodePresentation,
  },
  {
    name: 'credential',
    wantKid: true,
    payload: payloadOf(
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
    ),
    signer: issuer,
    decode: decodeCredential,
  },
  {
    name: 'trust list',
    wantKid: true,
    payload: payloadOf(
      await signTrustList(
        {
          version: 1,
          iat: NOW,
          authority: 'platform',
          keys: [{ key: issuer.publicKey, roles: ['teacher'], nbf: 0, exp: NOW, uses: KEY_USE.credentials }],
        },
        root,
      ),
    ),
    signer: root,
    decode: decodeTrustList,
  },
  {
    name: 'status list',
    wantKid: true,
    payload: payloadOf(
      await signStatusList({ school: '10001', version: 1, iat: NOW, statuses: [0, 1] }, issuer),
    ),
    signer: issuer,
    decode: decodeStatusList,
  },
  {
    name: 'roster',
    wantKid: true,
    payload: payloadOf(await signRoster({ school: '10001', version: 1, iat: NOW, cards: [] }, issuer)),
    signer: issuer,
    decode: decodeRoster,
  },
];

describe('protected headers (spec §2.2)', () => {
  for (const s of structures) {
    const kid = s.signer.kid;
    /** The code of the structure under the header `value`. */
    const codeRaw = (value: CborValue) => codeOf(() => s.decode(sign1With(value, s.payload, s.signer)));
    /** The code of the structure under the header map of these entries. */
    const code = (entries: ReadonlyArray<readonly [number | string, CborValue]>) => codeRaw(cmap(entries));
    const allowed: Array<[number, CborValue]> = s.wantKid
      ? [
          [1, -7],
          [4, kid],
        ]
      : [[1, -7]];

    it(`${s.name}: ${s.wantKid ? '{1: alg, 4: kid}' : '{1: alg}'} is the header`, () => {
      expect(code(allowed)).toBe('OK');
      // and the other one is refused: a kid in a presentation, none elsewhere
      expect(
        code(
          s.wantKid
            ? [[1, -7]]
            : [
                [1, -7],
                [4, kid],
              ],
        ),
      ).toBe('ERR_STRUCTURE');
    });

    it(`${s.name}: any other label is refused, integer or text, whatever its value`, () => {
      const others: Array<[number | string, CborValue]> = [
        [0, 0],
        [2, 1], // crit
        [3, 61], // content type application/cwt
        [5, new Uint8Array(12)], // IV
        [16, 'application/cwt'], // typ
        [33, new Uint8Array(32)], // x5chain
        [-1, 1],
        ['typ', 'cc1'],
        ['4', kid],
      ];
      for (const extra of others) {
        expect(code([...allowed, extra]), `label ${JSON.stringify(extra[0])}`).toBe('ERR_STRUCTURE');
      }
    });

    it(`${s.name}: an unknown label is reported before a bad alg, a bad alg before a bad kid`, () => {
      expect(
        code([
          [1, -35],
          [3, 61],
        ]),
      ).toBe('ERR_STRUCTURE');
      expect(
        code([
          [1, -35],
          [4, new Uint8Array(3)],
        ]),
      ).toBe('ERR_ALG_NOT_ALLOWED');
      expect(code([[4, kid]])).toBe('ERR_ALG_NOT_ALLOWED');
      expect(code([])).toBe('ERR_ALG_NOT_ALLOWED');
      // the zero-length protected header is that same empty map (RFC 9052 §3): alg absent too
      const empty = new Uint8Array(0);
      const signature = signBytes(s.signer, sign1ToBeSigned(empty, s.payload));
      expect(codeOf(() => s.decode(encodeCbor([empty, new Map(), s.payload, signature])))).toBe(
        'ERR_ALG_NOT_ALLOWED',
      );
      expect(code([[1, 'ES256']])).toBe('ERR_ALG_NOT_ALLOWED');
    });

    it(`${s.name}: a kid is 8 bytes`, () => {
      for (const bad of [kid.subarray(0, 7), new Uint8Array(9), new Uint8Array(0), 'kid', 8]) {
        expect(
          code([
            [1, -7],
            [4, bad],
          ]),
        ).toBe('ERR_STRUCTURE');
      }
    });

    it(`${s.name}: a header that is not a map, or not one flat map, is refused`, () => {
      expect(codeRaw([1, -7])).toBe('ERR_STRUCTURE');
      expect(codeRaw(-7)).toBe('ERR_STRUCTURE');
      expect(
        code([
          [1, -7],
          [4, [kid]],
        ]),
      ).toBe('ERR_CBOR_TOO_DEEP');
    });
  }
});
