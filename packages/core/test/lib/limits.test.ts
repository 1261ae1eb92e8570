/**
 * Spec §2.1: the limits its table documents are exactly the limits enforced, by readers and by
 * writers alike (a writer never produces bytes a reader refuses): elements in one array or map,
 * bytes of each structure, and 1 to 64 characters (code points) in every text field.
 */
import { describe, expect, it } from 'vitest';
import { sign1Length, signSign1 } from '../../src/cose-sign1.js';
import { encodeCredentialClaims } from '../../src/credential.js';
import {
  CampusCardError,
  createCompactPresentation,
  createPresentation,
  decodeCredential,
  decodePresentation,
  generateKeyPair,
  type IssueCredentialInput,
  issueCredential,
  parseCredentialClaims,
  parsePresentationPayload,
  signRoster,
  signStatusList,
  signTrustList,
  verifyPresentation,
  verifyStatusList,
  verifyTrustList,
} from '../../src/index.js';
import { decodeCbor, encodeCbor } from '../../src/lib/cbor.js';
import { codePointLength } from '../../src/lib/fields.js';
import {
  CREDENTIAL_LIMITS,
  MAX_QR_CHARS,
  MAX_TEXT_CHARS,
  PRESENTATION_LIMITS,
  PROTECTED_HEADER_LIMITS,
  ROSTER_LIMITS,
  STATUS_LIST_LIMITS,
  TRUST_LIST_LIMITS,
} from '../../src/lib/limits.js';

const NOW = 1_767_225_600;
const root = generateKeyPair('ES256');
const issuer = generateKeyPair('ES256');
const phone = generateKeyPair('ES256');
const nonce = new Uint8Array([1, 2, 3, 4]);

/** The error `f` throws or rejects with, as `code: message`, or `'OK'`. */
async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'OK';
  } catch (e) {
    return e instanceof CampusCardError ? `${e.code}: ${e.message}` : `untyped ${String(e)}`;
  }
}

/** The code of {@link outcome}. */
async function codeOf(f: () => unknown): Promise<string> {
  return (await outcome(f)).split(':')[0] as string;
}

const trustList = verifyTrustList(
  await signTrustList(
    {
      version: 1,
      iat: NOW - 60,
      authority: 'platform',
      keys: [
        {
          key: issuer.publicKey,
          roles: ['teacher', 'student', 'parent'],
          nbf: NOW - 1e6,
          exp: NOW + 1e6,
          schools: ['10001'],
        },
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

const base: IssueCredentialInput = {
  school: '10001',
  includeSchool: false,
  cardId: '2024010001',
  role: 'parent',
  iat: NOW - 86_400,
  validityDays: 30,
  holderKey: phone.publicKey,
  statusIndex: 7,
};

/** Signs claims as the issuer would, without the writer's checks (a non-conforming issuer). */
function signClaimsUnchecked(claims: Uint8Array): Promise<Uint8Array> {
  return signSign1(claims, issuer.privateKey, { header: 'alg+kid' });
}

/** Verifies a full code made from `credential` by the phone. */
async function verifyFull(credential: Uint8Array): Promise<void> {
  const code = await createPresentation({ credential, t: NOW, nonce }, phone.privateKey);
  await verifyPresentation(code, { trustList, statusLists, now: NOW });
}

const groups = (n: number) => Array.from({ length: n }, (_, i) => `g${i}`);
const chars = (n: number, c = 'x') => c.repeat(n);

describe('§2.1 elements in one array or map', () => {
  const arrayOf = (n: number): Uint8Array => {
    const head =
      n < 24
        ? [0x80 | n]
        : n < 256
          ? [0x98, n]
          : n < 65_536
            ? [0x99, n >> 8, n & 0xff]
            : [0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    const out = new Uint8Array(head.length + n);
    out.set(head);
    return out;
  };
  const table: ReadonlyArray<readonly [string, { maxBytes: number; maxItems?: number }, number]> = [
    ['presentation', PRESENTATION_LIMITS, 64],
    ['credential', CREDENTIAL_LIMITS, 64],
    ['protected header', PROTECTED_HEADER_LIMITS, 4],
    ['trust list', TRUST_LIST_LIMITS, 65_536],
    ['status list', STATUS_LIST_LIMITS, 65_536],
    ['roster', ROSTER_LIMITS, 1_048_576],
  ];

  for (const [what, limits, max] of table) {
    it(`${what}: ${max} accepted, ${max + 1} refused ERR_INPUT_TOO_LARGE naming the limit`, async () => {
      expect(limits.maxItems).toBe(max);
      const big = { ...limits, maxBytes: 2 * max + 16 };
      expect(await codeOf(() => decodeCbor(arrayOf(max), big, what))).toBe('OK');
      expect(await outcome(() => decodeCbor(arrayOf(max + 1), big, what))).toMatch(
        new RegExp(`^ERR_INPUT_TOO_LARGE: .*${max + 1} elements.*the limit is ${max}$`),
      );
    });
  }

  it('a credential with 64 groups is issued and verified; with 65 it is refused at both ends', async () => {
    const ok = await issueCredential({ ...base, groups: groups(64) }, issuer.privateKey);
    expect(decodeCredential(ok).claims.groups).toHaveLength(64);
    expect(await codeOf(() => verifyFull(ok))).toBe('OK');

    expect(await outcome(() => issueCredential({ ...base, groups: groups(65) }, issuer.privateKey))).toMatch(
      /^ERR_INPUT_TOO_LARGE: .*65 elements.*the limit is 64$/,
    );
    // ~300 bytes, well within 600: the element limit, not the size, refuses it
    const over = await signClaimsUnchecked(encodeCredentialClaims({ ...base, groups: groups(65) }));
    expect(over.length).toBeLessThan(CREDENTIAL_LIMITS.maxBytes);
    expect(await codeOf(() => decodeCredential(over))).toBe('ERR_INPUT_TOO_LARGE');
    expect(await codeOf(() => verifyFull(over))).toBe('ERR_INPUT_TOO_LARGE');
  });

  it('the same for 64 and 65 linked cards', async () => {
    const linked = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
    expect(await codeOf(() => issueCredential({ ...base, linkedCards: linked(64) }, issuer.privateKey))).toBe(
      'OK',
    );
    expect(await codeOf(() => issueCredential({ ...base, linkedCards: linked(65) }, issuer.privateKey))).toBe(
      'ERR_INPUT_TOO_LARGE',
    );
  });
});

describe('§2.1 depth: arrays and maps nested in one another, the outermost included', () => {
  const nested = (n: number) => Uint8Array.from([...new Array(n).fill(0x81), 0x00]);
  const table: ReadonlyArray<readonly [string, { maxBytes: number; maxDepth?: number }, number]> = [
    ['presentation', PRESENTATION_LIMITS, 8],
    ['credential', CREDENTIAL_LIMITS, 8],
    ['protected header', PROTECTED_HEADER_LIMITS, 1],
    ['trust list', TRUST_LIST_LIMITS, 8],
    ['status list', STATUS_LIST_LIMITS, 8],
    ['roster', ROSTER_LIMITS, 8],
  ];
  for (const [what, limits, max] of table) {
    it(`${what}: ${max} accepted (with an integer inside), ${max + 1} refused ERR_CBOR_TOO_DEEP`, async () => {
      expect(limits.maxDepth).toBe(max);
      expect(await codeOf(() => decodeCbor(nested(max), limits, what))).toBe('OK');
      expect(await outcome(() => decodeCbor(nested(max + 1), limits, what))).toMatch(
        new RegExp(`^ERR_CBOR_TOO_DEEP: .*the limit of ${max}`),
      );
    });
  }
});

describe('§2.1 a credential in a full-mode code counts as the credential a reader rebuilds', () => {
  // [protected header, claims, signature, t, nonce]: the rebuilt credential is
  // [protected, {}, claims, signature], sign1Length(protected, claims) bytes
  const payload = (protectedLength: number, claimsLength: number) =>
    encodeCbor([
      new Uint8Array(protectedLength).fill(0xa0),
      new Uint8Array(claimsLength).fill(0xa0),
      new Uint8Array(64),
      NOW,
      nonce,
    ]);
  for (const ph of [13, 24]) {
    it(`with a ${ph}-byte protected header: 600 bytes accepted, 601 refused ERR_INPUT_TOO_LARGE`, async () => {
      const fits = 600 - sign1Length(ph, 0) - 2; // a claims length of at least 256 has a 3-byte head
      expect(sign1Length(ph, fits)).toBe(600);
      expect(await codeOf(() => parsePresentationPayload(payload(ph, fits)))).toBe('OK');
      expect(await outcome(() => parsePresentationPayload(payload(ph, fits + 1)))).toBe(
        'ERR_INPUT_TOO_LARGE: credential is 601 bytes; the limit is 600',
      );
    });
  }

  it('so a signed code carries a credential of at most 596 bytes: 680 − 84', async () => {
    const fits = 596 - sign1Length(13, 0) - 2;
    const code = (n: number) =>
      signSign1(payload(13, n), phone.privateKey, {
        header: 'alg',
        limit: { maxBytes: 680, what: 'presentation' },
      });
    const largest = await code(fits);
    expect(largest.length).toBe(680);
    expect(decodePresentation(largest).credential?.length).toBe(596);
    expect(await outcome(() => code(fits + 1))).toBe(
      'ERR_INPUT_TOO_LARGE: presentation would be 681 bytes; the limit is 680',
    );
  });
});

describe('§2.1 every text field is 1 to 64 characters (Unicode code points)', () => {
  it('counts code points, not UTF-16 code units or UTF-8 bytes', () => {
    expect(MAX_TEXT_CHARS).toBe(64);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('一二三')).toBe(3);
    expect(codePointLength('\u{20000}\u{1F600}')).toBe(2);
    expect(codePointLength('\u{20000}'.repeat(64))).toBe(64);
  });

  // each text field, written through its writer (which applies the reader's rules before signing)
  const writers: ReadonlyArray<readonly [string, (text: string) => Promise<unknown>]> = [
    [
      'credential iss',
      (s) => issueCredential({ ...base, includeSchool: true, school: s }, issuer.privateKey),
    ],
    ['credential sub (card id)', (s) => issueCredential({ ...base, cardId: s }, issuer.privateKey)],
    ['credential physical card', (s) => issueCredential({ ...base, physicalCard: s }, issuer.privateKey)],
    ['credential group', (s) => issueCredential({ ...base, groups: ['a', s] }, issuer.privateKey)],
    ['credential linked card', (s) => issueCredential({ ...base, linkedCards: [s] }, issuer.privateKey)],
    [
      'presentation card id',
      (s) => createCompactPresentation({ cardId: s, t: NOW, nonce }, phone.privateKey),
    ],
    [
      'trust list authority',
      (s) =>
        signTrustList(
          {
            version: 1,
            iat: NOW,
            authority: s,
            keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 0, exp: NOW }],
          },
          root.privateKey,
        ),
    ],
    [
      'trust list school',
      (s) =>
        signTrustList(
          {
            version: 1,
            iat: NOW,
            authority: 'platform',
            keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 0, exp: NOW, schools: [s] }],
          },
          root.privateKey,
        ),
    ],
    [
      'status list school',
      (s) => signStatusList({ school: s, version: 1, iat: NOW, statuses: [0] }, issuer.privateKey),
    ],
    ['roster school', (s) => signRoster({ school: s, version: 1, iat: NOW, cards: [] }, issuer.privateKey)],
    [
      'roster card id',
      (s) =>
        signRoster(
          {
            school: '10001',
            version: 1,
            iat: NOW,
            cards: [{ cardId: s, role: 'student', statusIndex: 0, exp: NOW }],
          },
          issuer.privateKey,
        ),
    ],
    [
      'roster group',
      (s) =>
        signRoster(
          {
            school: '10001',
            version: 1,
            iat: NOW,
            cards: [{ cardId: 'T-1', role: 'student', statusIndex: 0, groups: [s], exp: NOW }],
          },
          issuer.privateKey,
        ),
    ],
  ];

  for (const [field, write] of writers) {
    it(`${field}: 64 characters accepted, 65 refused ERR_STRUCTURE naming the limit, empty refused`, async () => {
      expect(await codeOf(() => write(chars(64, 'T')))).toBe('OK');
      expect(await codeOf(() => write(chars(64, '\u{20000}')))).toBe('OK'); // 128 UTF-16 units, 256 bytes
      expect(await outcome(() => write(chars(65, 'T')))).toMatch(
        /^ERR_STRUCTURE: .*65 characters; the limit is 64$/,
      );
      expect(await codeOf(() => write(chars(65, '\u{20000}')))).toBe('ERR_STRUCTURE');
      if (field !== 'presentation card id') expect(await codeOf(() => write(''))).toBe('ERR_STRUCTURE');
    });
  }

  it('readers refuse a 65-character card id however it was signed (credential and compact code)', async () => {
    const claims = encodeCredentialClaims({ ...base, cardId: chars(65) });
    expect(await codeOf(() => parseCredentialClaims(claims))).toBe('ERR_STRUCTURE');
    const unchecked = await signClaimsUnchecked(claims);
    expect(await codeOf(() => verifyFull(unchecked))).toBe('ERR_STRUCTURE');
    const ok = encodeCredentialClaims({ ...base, cardId: chars(64) });
    expect(parseCredentialClaims(ok).cardId).toBe(chars(64));

    const compact = (id: string) => encodeCbor([id, phone.publicKey.kid, NOW, nonce]);
    expect(parsePresentationPayload(compact(chars(64))).cardId).toBe(chars(64));
    expect(await codeOf(() => parsePresentationPayload(compact(chars(65))))).toBe('ERR_STRUCTURE');
    const signed = await signSign1(compact(chars(65)), phone.privateKey, { header: 'alg' });
    expect(await codeOf(() => decodePresentation(signed))).toBe('ERR_STRUCTURE');
  });
});

describe('§2.1 bytes of each structure: writers never produce what readers refuse', () => {
  it('the documented sizes', () => {
    expect([
      MAX_QR_CHARS,
      PRESENTATION_LIMITS.maxBytes,
      CREDENTIAL_LIMITS.maxBytes,
      PROTECTED_HEADER_LIMITS.maxBytes,
      TRUST_LIST_LIMITS.maxBytes,
      STATUS_LIST_LIMITS.maxBytes,
      ROSTER_LIMITS.maxBytes,
    ]).toEqual([1024, 680, 600, 64, 262_144, 4_194_304, 33_554_432]);
    for (const l of [
      PRESENTATION_LIMITS,
      CREDENTIAL_LIMITS,
      TRUST_LIST_LIMITS,
      STATUS_LIST_LIMITS,
      ROSTER_LIMITS,
    ])
      expect(l.maxDepth).toBe(8);
    expect(PROTECTED_HEADER_LIMITS.maxDepth).toBe(1);
  });

  it('a credential is issued up to 600 bytes and refused above, as a reader refuses it', async () => {
    // 64 groups: the payload alone fits 600 bytes; the signed credential does not
    const input = (len: number) => ({ ...base, groups: groups(64).map((g) => g.padEnd(len, '-')) });
    let largest = 0;
    let refused = 0;
    for (let len = 4; len <= 9; len++) {
      const claims = encodeCredentialClaims(input(len));
      const result = await outcome(() => issueCredential(input(len), issuer.privateKey));
      const signedLength = sign1Length(13, claims.length); // protected header {1: -7, 4: kid}
      if (claims.length <= 600 && signedLength > 600) {
        refused++;
        expect(result).toMatch(/^ERR_INPUT_TOO_LARGE: credential would be \d+ bytes; the limit is 600$/);
        // what an unchecked issuer would sign is refused by readers
        const unchecked = await signClaimsUnchecked(claims);
        expect(await codeOf(() => decodeCredential(unchecked))).toBe('ERR_INPUT_TOO_LARGE');
      } else if (signedLength <= 600) {
        expect(result).toBe('OK');
        largest = Math.max(largest, signedLength);
      }
    }
    expect(largest).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(0);
  });

  it('a full code over 680 bytes is refused when made (a credential near 600 bytes does not fit)', async () => {
    // credentials of about 585 to 600 bytes: 64 groups of 5 characters, a physical card number of 36 to 56
    const made: Array<[number, string]> = [];
    for (let pc = 36; pc <= 56; pc++) {
      const input = { ...base, groups: groups(64).map((g) => g.padEnd(5, '-')), physicalCard: chars(pc) };
      let credential: Uint8Array;
      try {
        credential = await issueCredential(input, issuer.privateKey);
      } catch {
        continue;
      }
      if (credential.length < 585) continue;
      const r = await outcome(async () => {
        const code = await createPresentation({ credential, t: NOW, nonce, scene: 1 }, phone.privateKey);
        expect(code.length).toBeLessThanOrEqual(680);
        decodePresentation(code);
      });
      made.push([credential.length, r.replace(/\d+ bytes/, 'N bytes')]);
    }
    // a full code is its credential plus 85 bytes here (t of 5 bytes, a 1-byte scene)
    for (const [length, r] of made) {
      expect([length, r]).toEqual([
        length,
        length + 85 <= 680 ? 'OK' : 'ERR_INPUT_TOO_LARGE: presentation would be N bytes; the limit is 680',
      ]);
    }
    expect(made.some(([l]) => l + 85 > 680)).toBe(true);
    expect(made.some(([l]) => l + 85 <= 680)).toBe(true);
  });

  it('a status list whose signed bytes would pass 4 194 304 is refused when signed, as when read', async () => {
    // bits 8: one byte of lst per card; find the lst length where the payload fits and the envelope does not
    const input = (n: number) => ({
      school: '10001',
      version: 1,
      iat: NOW,
      bits: 8 as const,
      statuses: new Uint8Array(n),
    });
    const max = STATUS_LIST_LIMITS.maxBytes;
    const n = max - 30; // payload = n + 25 (map, school, version, iat, bits, bstr head): fits; + ~80 envelope: does not
    expect(await outcome(() => signStatusList(input(n), issuer.privateKey))).toMatch(
      /^ERR_INPUT_TOO_LARGE: status list would be \d+ bytes; the limit is 4194304$/,
    );
    const fits = await signStatusList(input(max - 120), issuer.privateKey);
    expect(fits.length).toBeLessThanOrEqual(max);
    expect(verifyStatusList(fits, trustList).lst.length).toBe(max - 120);
  });
});
