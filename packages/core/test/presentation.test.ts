/**
 * The presentation fast path (`readPresentation`) against the general decoder: on every vector and
 * on random mutations of valid codes it either steps aside (`undefined`) or gives exactly the
 * general decoder's result, and it steps aside whenever the general decoder throws.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signSign1 } from '../src/cose-sign1.js';
import {
  type CampusCardError,
  decodePresentation,
  decodeQr,
  encodeQr,
  generateKeyPair,
  issueCredential,
  type SignatureBackend,
  signStatusList,
  signTrustList,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';
import { verifyBytes } from '../src/keys.js';
import { decodeCbor, encodeCbor } from '../src/lib/cbor.js';
import {
  createCompactPresentation,
  createPresentation,
  type DecodedPresentation,
  decodePresentationGeneric,
  encodeCardId,
  readPresentation,
} from '../src/presentation.js';
import { contentKey, credentialCacheKey, verifyPresentationEager } from '../src/verify-presentation.js';
import { codeOf } from './helpers/code-of.js';

const NOW = 1_767_225_600;

/** The comparable content of a decoded presentation (own fields plus the lazy credential). */
function view(p: DecodedPresentation): unknown {
  return {
    mode: p.mode,
    credential: p.credential === undefined ? undefined : Array.from(p.credential),
    parts: p.credentialParts && {
      protectedBytes: Array.from(p.credentialParts.protectedBytes),
      payload: Array.from(p.credentialParts.payload),
      signature: Array.from(p.credentialParts.signature),
    },
    cardId: p.cardId,
    holderKid: p.holderKid && Array.from(p.holderKid),
    t: p.t,
    nonce: Array.from(p.nonce),
    scene: p.scene,
    sign1: {
      protectedBytes: Array.from(p.sign1.protectedBytes),
      alg: p.sign1.alg,
      kid: p.sign1.kid,
      payload: Array.from(p.sign1.payload),
      signature: Array.from(p.sign1.signature),
    },
  };
}

/** The fast path agrees with the general decoder on `bytes` (see the module comment). */
function expectAgreement(bytes: Uint8Array): 'fast' | 'generic' | 'error' {
  let generic: DecodedPresentation | undefined;
  try {
    generic = decodePresentationGeneric(bytes.slice());
  } catch {
    generic = undefined;
  }
  const fast = readPresentation(bytes.slice());
  if (generic === undefined) {
    expect(fast).toBeUndefined();
    return 'error';
  }
  if (fast === undefined) return 'generic';
  expect(view(fast)).toEqual(view(generic));
  return 'fast';
}

const issuer = generateKeyPair('ES256');
const phone = generateKeyPair('ES256');
const edPhone = generateKeyPair('EdDSA');
const credential = await issueCredential(
  {
    school: '10001',
    cardId: '2024010001',
    role: 'student',
    iat: NOW - 86_400,
    validityDays: 30,
    holderKey: phone.publicKey,
    statusIndex: 7,
    groups: ['dorm:B3'],
  },
  issuer.privateKey,
);
const nonce = new Uint8Array([1, 2, 3, 4]);
const samples: Record<string, Uint8Array> = {
  full: await createPresentation({ credential, t: NOW, nonce }, phone.privateKey),
  fullScene: await createPresentation({ credential, t: NOW, nonce, scene: 3 }, phone.privateKey),
  fullEdDSA: await createPresentation({ credential, t: NOW, nonce, scene: 200 }, edPhone.privateKey),
  compact: await createCompactPresentation({ cardId: '2024010001', t: NOW, nonce }, phone.privateKey),
  compactScene: await createCompactPresentation({ cardId: '7', t: 20, nonce, scene: 30 }, edPhone.privateKey),
  compactTextId: await createCompactPresentation({ cardId: 'T-01', t: NOW, nonce }, phone.privateKey),
};

describe('readPresentation (the decoding fast path)', () => {
  it('reads every code the library writes with a numeric card id, as the general decoder does', () => {
    for (const [name, bytes] of Object.entries(samples)) {
      expect([name, expectAgreement(bytes)]).toEqual([name, name === 'compactTextId' ? 'generic' : 'fast']);
    }
  });

  it('agrees with the general decoder on every vector', () => {
    const dir = new URL('../vectors/', import.meta.url);
    let fast = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const v = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { qr: string };
      let bytes: Uint8Array;
      try {
        bytes = decodeQr(v.qr);
      } catch {
        continue; // a QR-text vector: no presentation bytes to decode
      }
      if (expectAgreement(bytes) === 'fast') fast++;
    }
    expect(fast).toBeGreaterThan(30);
  });

  it('steps aside for well-formed codes outside its layout', () => {
    const full = samples.full as Uint8Array;
    // a COSE_Sign1 tag in front, a kid in the unprotected header, a non-shortest t: all for the general decoder
    const tagged = new Uint8Array([0xd2, ...full]);
    expect(readPresentation(tagged)).toBeUndefined();
    const payload = decodePresentationGeneric(full.slice()).sign1;
    const withT64 = encodeCbor([
      payload.protectedBytes,
      new Map([[4, new Uint8Array(8)]]),
      payload.payload,
      payload.signature,
    ]);
    expect(readPresentation(withT64)).toBeUndefined();
    expect(expectAgreement(withT64)).toBe('error');
  });

  it('agrees with the general decoder on codes of any shape (random elements, headers, lengths)', () => {
    const bytesOf = (lengths: number[]) =>
      fc.constantFrom(...lengths).map((n) => new Uint8Array(n).fill(0x5a));
    const element = fc.oneof(
      bytesOf([0, 3, 4, 5, 8, 9, 23, 24, 64, 65, 200, 255, 256, 300, 530]),
      fc.constantFrom(0, 1, 23, 24, 255, 256, 65_535, 65_536, NOW, 2 ** 32 - 1, 2 ** 32, 2 ** 40),
      fc.constantFrom(-1, -300, '', 'T-01', '2024', '0', 'é'),
      fc.constantFrom([], [1], new Map(), new Map([[1, 2]]), true, false),
    );
    const payload = fc.oneof(
      fc.array(element, { minLength: 0, maxLength: 8 }),
      // mostly the real layouts, with one element swapped out
      fc.tuple(fc.boolean(), fc.boolean(), fc.nat(5), element).map(([full, scene, at, x]) => {
        const fields: unknown[] = full
          ? [new Uint8Array([0xa2, 1, 0x26]), new Uint8Array(120).fill(1), new Uint8Array(64), NOW, nonce]
          : [2_024_010_001, new Uint8Array(8), NOW, nonce];
        if (scene) fields.push(3);
        if (at < fields.length) fields[at] = x;
        return fields;
      }),
    );
    const protectedHeader = fc.constantFrom(
      new Uint8Array([0xa1, 0x01, 0x26]),
      new Uint8Array([0xa1, 0x01, 0x27]),
      new Uint8Array([0xa1, 0x01, 0x28]),
      new Uint8Array([0xa1, 0x01, 0x38, 0x22]),
      new Uint8Array([0xa2, 0x01, 0x26, 0x04, 0x48, 1, 2, 3, 4, 5, 6, 7, 8]),
      new Uint8Array([]),
    );
    const unprotected = fc.constantFrom(new Map(), new Map([[4, new Uint8Array(8)]]));
    fc.assert(
      fc.property(
        protectedHeader,
        unprotected,
        payload,
        fc.constantFrom(63, 64, 65),
        (ph, uh, fields, sigLength) => {
          const body = encodeCbor(fields as Parameters<typeof encodeCbor>[0]);
          expectAgreement(encodeCbor([ph, uh, body, new Uint8Array(sigLength)]));
          // and with the payload longer than its content, the rest of the code unchanged
          const padded = new Uint8Array(body.length + 1);
          padded.set(body);
          expectAgreement(encodeCbor([ph, uh, padded, new Uint8Array(sigLength)]));
        },
      ),
      { seed: 4_242, numRuns: 3000 },
    );
  });

  it('agrees with the general decoder on any single-byte change, truncation or extension', () => {
    const all = Object.values(samples);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: all.length - 1 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('set', 'cut', 'insert', 'delete'),
        (which, at, value, op) => {
          const src = all[which] as Uint8Array;
          const i = at % src.length;
          let bytes: Uint8Array;
          if (op === 'set') {
            bytes = src.slice();
            bytes[i] = value;
          } else if (op === 'cut') bytes = src.slice(0, i);
          else if (op === 'insert')
            bytes = new Uint8Array([...src.subarray(0, i), value, ...src.subarray(i)]);
          else bytes = new Uint8Array([...src.subarray(0, i), ...src.subarray(i + 1)]);
          expectAgreement(bytes);
        },
      ),
      { seed: 20_261_128, numRuns: 4000 },
    );
  });
  it('hashes the credential in place exactly as credentialCacheKey does on its views', () => {
    const p = readPresentation((samples.full as Uint8Array).slice()) as DecodedPresentation & {
      bytes: Uint8Array;
      credentialAt: readonly number[];
    };
    const at = p.credentialAt as [number, number, number, number, number];
    const parts = p.credentialParts as NonNullable<DecodedPresentation['credentialParts']>;
    expect(contentKey(p.bytes, at[0], at[1], p.bytes, at[2], at[3])).toBe(
      credentialCacheKey(parts.protectedBytes, parts.payload),
    );
  });

  it('skips the issuer check for a cached credential, and never for a changed one', async () => {
    const root = generateKeyPair('ES256');
    const trustList = verifyTrustList(
      await signTrustList(
        {
          version: 1,
          iat: NOW - 60,
          authority: 'platform',
          keys: [
            { key: issuer.publicKey, roles: ['student'], nbf: NOW - 1e6, exp: NOW + 1e6, schools: ['10001'] },
          ],
        },
        root.privateKey,
      ),
      [root.publicKey],
    );
    const statusLists = [
      verifyStatusList(
        await signStatusList(
          { school: '10001', version: 1, iat: NOW - 60, statuses: new Array(64).fill(0) },
          issuer.privateKey,
        ),
        trustList,
      ),
    ];
    let checks = 0;
    const backend: SignatureBackend = {
      verify(key, data, sig) {
        checks++;
        return verifyBytes(key, data, sig);
      },
    };
    const cache = new Map();
    const scan = (qr: string) =>
      verifyPresentationEager(qr, { trustList, statusLists, now: NOW, backend, credentialCache: cache });
    const code = async (n: number, cred: Uint8Array) =>
      encodeQr(
        await createPresentation(
          { credential: cred, t: NOW, nonce: new Uint8Array([0, 0, 0, n]) },
          phone.privateKey,
        ),
      );
    const qrOld = await code(1, credential);
    expect((scan(qrOld) as { cardId: string }).cardId).toBe('2024010001');
    expect(checks).toBe(2);
    scan(await code(2, credential));
    expect(checks).toBe(3); // the holder signature only
    // the same credential with one payload byte changed: a miss, the issuer check runs and fails
    const tampered = credential.slice();
    const i = tampered.length - 70;
    tampered[i] = (tampered[i] as number) ^ 1;
    let error: unknown;
    try {
      scan(await code(3, tampered));
    } catch (e) {
      error = e;
    }
    expect((error as CampusCardError).code).toBe('ERR_SIGNATURE_INVALID');
    expect((error as CampusCardError).subject).toBeUndefined();
    expect(checks).toBe(4);
    // after both signatures: the time window's and the status list's denials name the card
    const denial = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as CampusCardError;
      }
      throw new Error('no denial');
    };
    const late = denial(() =>
      verifyPresentationEager(qrOld, {
        trustList,
        statusLists,
        now: NOW + 91,
        backend,
        credentialCache: cache,
      }),
    );
    expect([late.code, late.subject]).toEqual([
      'ERR_PRESENTATION_TOO_OLD',
      { school: '10001', cardId: '2024010001', issuerAuthority: 'platform' },
    ]);
    const noList = denial(() =>
      verifyPresentationEager(qrOld, {
        trustList,
        statusLists: [],
        now: NOW,
        backend,
        credentialCache: cache,
      }),
    );
    expect([noList.code, noList.subject?.cardId]).toEqual(['ERR_STATUS_LIST_MISSING', '2024010001']);
  });
});

/** A compact code whose first payload element is `first`, signed by `phone` (any encoding). */
function compactWith(first: string | number): Promise<Uint8Array> {
  return signSign1(encodeCbor([first, phone.publicKey.kid, NOW, nonce]), phone.privateKey, { header: 'alg' });
}

/** The first payload element of a presentation, as carried. */
const carried = (bytes: Uint8Array): unknown =>
  (decodeCbor(decodePresentation(bytes).sign1.payload, { maxBytes: 680 }, 'x') as unknown[])[0];

describe('compact card ids have exactly one encoding (spec §5.2)', () => {
  // [card id, sent as]: an integer exactly for 1 to 2^53 − 1 written without a leading zero
  const cases: ReadonlyArray<readonly [string, 'number' | 'string']> = [
    ['1', 'number'],
    ['7', 'number'],
    ['2024010123', 'number'],
    ['4294967295', 'number'], // 2^32 − 1: the fast path's largest
    ['4294967296', 'number'],
    ['999999999999999', 'number'], // 15 digits
    ['1000000000000000', 'number'], // 16 digits, below 2^53
    ['9007199254740991', 'number'], // 2^53 − 1
    ['9007199254740992', 'string'], // 2^53
    ['9999999999999999', 'string'],
    ['10000000000000000', 'string'], // 17 digits
    ['0', 'string'], // its only digit is a leading zero
    ['00', 'string'],
    ['007', 'string'],
    ['-1', 'string'],
    ['1e3', 'string'],
    [' 12', 'string'],
    ['T-0042', 'string'],
  ];

  it('the writer picks the one encoding, and the code reads back as the same card id', async () => {
    for (const [cardId, as] of cases) {
      expect([cardId, typeof encodeCardId(cardId)]).toEqual([cardId, as]);
      const bytes = await createCompactPresentation({ cardId, t: NOW, nonce }, phone.privateKey);
      expect([cardId, typeof carried(bytes)]).toEqual([cardId, as]);
      expect(decodePresentation(bytes).cardId).toBe(cardId);
      expectAgreement(bytes);
    }
  });

  it('a decimal card id below 2^53 sent as text is ERR_STRUCTURE', async () => {
    for (const [cardId, as] of cases) {
      if (as !== 'number') continue;
      const asText = await compactWith(cardId);
      expect([cardId, codeOf(() => decodePresentation(asText))]).toEqual([cardId, 'ERR_STRUCTURE']);
      expect(expectAgreement(asText)).toBe('error');
    }
  });

  it('card id "0" sent as the integer 0 is ERR_STRUCTURE; as text it is card "0"', async () => {
    const asInteger = await compactWith(0);
    expect(codeOf(() => decodePresentation(asInteger))).toBe('ERR_STRUCTURE');
    expect(readPresentation(asInteger.slice())).toBeUndefined();
    expect(decodePresentation(await compactWith('0')).cardId).toBe('0');
  });

  it('the integers 1 and 2^53 − 1 are card ids "1" and "9007199254740991"; 2^53 is not CBOR here', async () => {
    expect(decodePresentation(await compactWith(1)).cardId).toBe('1');
    expect(decodePresentation(await compactWith(Number.MAX_SAFE_INTEGER)).cardId).toBe('9007199254740991');
    // 2^53: 1b 0020000000000000 in place of the card id
    const max = await compactWith(Number.MAX_SAFE_INTEGER);
    const at = 9; // 84 43 a1 01 26 a0 58 1d | 84 | card id
    expect(max[at]).toBe(0x1b);
    const over = max.slice();
    over.set([0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0], at);
    expect(codeOf(() => decodePresentation(over))).toBe('ERR_CBOR_UNSUPPORTED_TYPE');
  });

  it('every compact vector carries its card id in the one encoding', () => {
    const dir = new URL('../vectors/', import.meta.url);
    let seen = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const v = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as {
        mode: string;
        qr: string;
        expected: { valid: boolean };
      };
      if (v.mode !== 'compact' || !v.expected.valid) continue;
      const bytes = decodeQr(v.qr);
      const cardId = decodePresentation(bytes).cardId as string;
      expect([f, carried(bytes)]).toEqual([f, encodeCardId(cardId)]);
      seen++;
    }
    expect(seen).toBeGreaterThanOrEqual(8);
  });
});

describe('decodePresentation buffers', () => {
  it('goes on decoding after a caller transferred the buffer of what it returned (a worker, say)', () => {
    const first = decodePresentation(samples.full as Uint8Array);
    const before = view(first);
    // the transfer detaches the shared buffer the views were carved from
    structuredClone(first.nonce.buffer, { transfer: [first.nonce.buffer as ArrayBuffer] });
    expect(first.nonce.length).toBe(0);
    for (let i = 0; i < 3; i++) expect(view(decodePresentation(samples.full as Uint8Array))).toEqual(before);
    expect(decodePresentation(samples.compact as Uint8Array).cardId).toBe('2024010001');
  });
});
