/**
 * Writes the test vectors of spec §10 into packages/core/vectors/, deterministically: fixed
 * seeds for every key, RFC 6979 ECDSA, fixed nonces. Run with `npm run vectors`.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { p256 } from '@noble/curves/nist.js';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  type Alg,
  COSE_ALG,
  createCompactPresentation,
  createPresentation,
  decodeSign1,
  encodeBase45,
  encodeQr,
  exportJwk,
  generateKeyPair,
  type IssueCredentialInput,
  issueCredential,
  KEY_USE,
  type PrivateKey,
  type Role,
  sign1ToBeSigned,
  signBytes,
  signRoster,
  signStatusList,
  signTrustList,
  type TrustListInput,
  toHex,
} from '../src/index.js';
import { type CborValue, cmap, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

const outDir = fileURLToPath(new URL('../vectors/', import.meta.url));
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const SCHOOL = '10001';
const enc = new TextEncoder();

function key(name: string, alg: Alg): { privateKey: PrivateKey } & ReturnType<typeof generateKeyPair> {
  const seed = sha512(enc.encode(`campus-card/vectors/${name}`)).subarray(0, alg === 'ES256' ? 48 : 32);
  return generateKeyPair(alg, { seed });
}

interface Case {
  name: string;
  description: string;
  mode: 'full' | 'compact';
  now?: number;
  alg?: Alg;
  holderAlg?: Alg;
  trust?: (k: Keys) => Partial<TrustListInput>;
  trustEntry?: Partial<TrustListInput['keys'][number]>;
  credential?: Partial<IssueCredentialInput>;
  statuses?: number[];
  t?: number;
  scene?: number;
  heldTrustListVersion?: number;
  /** Post-process the presentation bytes (after signing). */
  mutate?: (bytes: Uint8Array, k: Keys) => Uint8Array | Promise<Uint8Array>;
  /** Replace the credential bytes before the holder signs. */
  mutateCredential?: (bytes: Uint8Array, k: Keys) => Uint8Array | Promise<Uint8Array>;
  /** Post-process the trust list bytes. */
  mutateTrustList?: (bytes: Uint8Array, k: Keys) => Uint8Array | Promise<Uint8Array>;
  /** Post-process the roster bytes (compact mode). */
  mutateRoster?: (bytes: Uint8Array, k: Keys) => Uint8Array | Promise<Uint8Array>;
  /** Post-process the QR text. */
  mutateQr?: (qr: string) => string;
  compactCardId?: string;
  compactSigner?: (k: Keys) => PrivateKey;
  /**
   * The credential breaks a rule `createPresentation` checks (its protected header): the phone
   * signs a code carrying it all the same ({@link presentUnchecked}).
   */
  uncheckedCredential?: boolean;
  expected: string | null;
}

interface Keys {
  root: PrivateKey;
  issuer: PrivateKey;
  status: PrivateKey;
  holder: PrivateKey;
  other: PrivateKey;
}

function keysFor(alg: Alg, holderAlg: Alg): Keys {
  return {
    root: key(`root-${alg}`, alg).privateKey,
    issuer: key(`issuer-${alg}`, alg).privateKey,
    status: key(`status-${alg}`, alg).privateKey,
    holder: key(`holder-${holderAlg}`, holderAlg).privateKey,
    other: key(`other-${holderAlg}`, holderAlg).privateKey,
  };
}

/** Re-signs a COSE_Sign1 after `edit` changes its decoded parts (protected, payload). */
async function resign(
  bytes: Uint8Array,
  signer: PrivateKey,
  edit: (parts: CborValue[]) => void,
): Promise<Uint8Array> {
  const parts = decodeCbor(bytes, { maxBytes: 4096 }, 'x') as CborValue[];
  edit(parts);
  const sig = signBytes(signer, sign1ToBeSigned(parts[0] as Uint8Array, parts[2] as Uint8Array));
  return encodeCbor([parts[0] as Uint8Array, new Map(), parts[2] as Uint8Array, sig]);
}

/** Re-signs a presentation after `edit` changes its decoded payload fields. */
function resignFields(bytes: Uint8Array, signer: PrivateKey, edit: (fields: CborValue[]) => void) {
  return resign(bytes, signer, (parts) => {
    const fields = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096 }, 'p') as CborValue[];
    edit(fields);
    parts[2] = encodeCbor(fields);
  });
}

/** Re-signs a credential (as its issuer) after `edit` changes its decoded claims. */
function reissue(
  bytes: Uint8Array,
  issuer: PrivateKey,
  edit: (claims: Map<number | string, CborValue>) => void,
) {
  return resign(bytes, issuer, (parts) => {
    const claims = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096, maxItems: 1024 }, 'c');
    parts[2] = encodeCbor(claimsEdit(edit)(claims));
  });
}

/** Changes the decoded payload of a COSE_Sign1 without re-signing it. */
function tamperPayload(bytes: Uint8Array, edit: (payload: CborValue) => CborValue): Uint8Array {
  const parts = decodeCbor(bytes, { maxBytes: 4096 }, 'x') as CborValue[];
  const payload = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096 }, 'y');
  parts[2] = encodeCbor(edit(payload));
  return encodeCbor(parts);
}

/**
 * Replaces the one occurrence of the UTF-8 bytes of `placeholder` in `bytes` with `replacement`,
 * of the same length (so every CBOR head stays right): how a vector gets bytes that no encoder
 * writes, such as invalid UTF-8 in a text string.
 */
function patchBytes(bytes: Uint8Array, placeholder: string, replacement: readonly number[]): Uint8Array {
  const find = enc.encode(placeholder);
  if (find.length !== replacement.length) throw new Error(`patch ${placeholder}: lengths differ`);
  const at: number[] = [];
  for (let i = 0; i + find.length <= bytes.length; i++) {
    if (find.every((b, j) => bytes[i + j] === b)) at.push(i);
  }
  if (at.length !== 1) throw new Error(`patch ${placeholder}: found ${at.length} times`);
  const out = Uint8Array.from(bytes);
  out.set(replacement, at[0]);
  return out;
}

/** The bytes of ASCII text and raw byte values, in order. */
function utf8Bytes(...parts: ReadonlyArray<string | number>): number[] {
  return parts.flatMap((p) => (typeof p === 'string' ? [...enc.encode(p)] : [p]));
}

/** Re-signs a COSE_Sign1 (as `signer`) after patching its payload bytes (see {@link patchBytes}). */
function resignPatched(
  bytes: Uint8Array,
  signer: PrivateKey,
  placeholder: string,
  replacement: readonly number[],
): Promise<Uint8Array> {
  return resign(bytes, signer, (parts) => {
    parts[2] = patchBytes(parts[2] as Uint8Array, placeholder, replacement);
  });
}

/** Re-signs a COSE_Sign1 (as `signer`) with another protected header. */
function resignHeader(
  bytes: Uint8Array,
  signer: PrivateKey,
  header: ReadonlyArray<readonly [number | string, CborValue]>,
): Promise<Uint8Array> {
  return resign(bytes, signer, (parts) => {
    parts[0] = encodeCbor(cmap(header));
  });
}

/** Re-signs a trust list (as the root) after `edit` changes its decoded payload. */
function retrust(bytes: Uint8Array, root: PrivateKey, edit: (payload: Map<number, CborValue>) => void) {
  return resign(bytes, root, (parts) => {
    const payload = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096 }, 't') as Map<number, CborValue>;
    edit(payload);
    parts[2] = encodeCbor(payload);
  });
}

/** A COSE_Key map without its `label` member. */
function withoutMember(key: CborValue, label: number): CborValue {
  return cmap([...(key as Map<number, CborValue>).entries()].filter(([l]) => l !== label));
}

/** A COSE_Key map with `extra` members added, in deterministic order. */
function withMembers(key: CborValue, extra: ReadonlyArray<readonly [number, CborValue]>): CborValue {
  return cmap([...(key as Map<number, CborValue>).entries(), ...extra]);
}

function flipLastByte(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[out.length - 1] = (out[out.length - 1] as number) ^ 0x01;
  return out;
}

/** Replaces the ECDSA signature (last 64 bytes) with its high-S twin (r, n − s). */
function highS(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const sig = out.subarray(out.length - 64);
  const n = p256.Point.CURVE().n;
  const s = BigInt(`0x${toHex(sig.subarray(32))}`);
  const hs = (n - s).toString(16).padStart(64, '0');
  for (let i = 0; i < 32; i++) sig[32 + i] = Number.parseInt(hs.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function _credentialParts(cred: Uint8Array): CborValue[] {
  return decodeCbor(cred, { maxBytes: 4096 }, 'c') as CborValue[];
}

const claimsEdit =
  (edit: (claims: Map<number | string, CborValue>) => void) =>
  (p: CborValue): CborValue => {
    const m = p as Map<number | string, CborValue>;
    edit(m);
    return cmap([...m.entries()]);
  };

const presentationEdit =
  (edit: (fields: CborValue[]) => void) =>
  (p: CborValue): CborValue => {
    edit(p as CborValue[]);
    return p;
  };

const cases: Case[] = [
  {
    name: 'valid-es256-full',
    description: 'A student card, ES256 throughout, full mode.',
    mode: 'full',
    expected: null,
  },
  {
    name: 'valid-eddsa-full',
    description: 'EdDSA (Ed25519) for the root, issuer and phone keys.',
    mode: 'full',
    alg: 'EdDSA',
    holderAlg: 'EdDSA',
    expected: null,
  },
  {
    name: 'valid-es256-compact',
    description: 'Compact mode: card id and phone kid, roster.',
    mode: 'compact',
    expected: null,
  },
  {
    name: 'valid-eddsa-compact',
    description: 'Compact mode with Ed25519 keys.',
    mode: 'compact',
    alg: 'EdDSA',
    holderAlg: 'EdDSA',
    expected: null,
  },
  {
    name: 'valid-es256-compact-text-card-id',
    description: 'Compact mode with a card id that is not a canonical decimal: sent as text.',
    mode: 'compact',
    compactCardId: 'T-0042',
    credential: { cardId: 'T-0042', role: 'teacher' },
    trustEntry: { roles: ['teacher', 'student', 'parent'] },
    expected: null,
  },
  // compact-mode card ids (§5.2): one encoding each, at the boundaries of "sent as an integer"
  ...(
    [
      ['15-digits', '999999999999999', 'the largest 15-digit id: an integer'],
      ['16-digits', '1000000000000000', 'the smallest 16-digit id: an integer (below 2^53)'],
      ['max-safe', '9007199254740991', '2^53 − 1, the largest id sent as an integer'],
      ['2-53-as-text', '9007199254740992', '2^53: decimal, but too large for an integer, so text'],
      ['zero-as-text', '0', '"0": its only digit is a leading zero, so text'],
      ['leading-zero-as-text', '007', 'a leading zero: text (the integer 7 is the card id "7")'],
    ] as const
  ).map(
    ([n, cardId, what]): Case => ({
      name: `valid-compact-card-id-${n}`,
      description: `Compact mode, card id "${cardId}": ${what}.`,
      mode: 'compact',
      credential: { cardId },
      expected: null,
    }),
  ),
  {
    name: 'compact-card-id-decimal-as-text',
    description:
      'Compact mode, card id "1000000000000000" sent (and signed) as text: a decimal card id below 2^53 without a leading zero has only the integer encoding.',
    mode: 'compact',
    credential: { cardId: '1000000000000000' },
    mutate: (b, k) => resignFields(b, k.holder, (f) => (f[0] = '1000000000000000')),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'compact-card-id-zero-as-integer',
    description:
      'Compact mode, card id "0" sent (and signed) as the integer 0: "0" has only the text encoding.',
    mode: 'compact',
    credential: { cardId: '0' },
    mutate: (b, k) => resignFields(b, k.holder, (f) => (f[0] = 0)),
    expected: 'ERR_STRUCTURE',
  },
  // the limits of §2.1: 64 elements in one array or map of a credential, 64 characters (code
  // points) in every text field; each one over is refused however it was signed
  {
    name: 'valid-limits-credential-64-groups',
    description: 'A credential with 64 groups, the most one array of a credential may hold.',
    mode: 'full',
    credential: { groups: Array.from({ length: 64 }, (_, i) => `g${i}`) },
    expected: null,
  },
  {
    name: 'limits-credential-65-groups',
    description:
      'A credential with 65 groups (about 300 bytes, within 600), signed by its issuer: over the 64 elements of one array of a credential.',
    mode: 'full',
    credential: { groups: Array.from({ length: 64 }, (_, i) => `g${i}`) },
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        const cc = m.get('c') as CborValue[];
        ((cc[3] as Map<number, CborValue>).get(5) as CborValue[]).push('g64');
      }),
    expected: 'ERR_INPUT_TOO_LARGE',
  },
  {
    name: 'valid-limits-credential-card-id-64-chars',
    description: 'A credential whose card id (sub) has 64 characters, the most a text field may have.',
    mode: 'full',
    credential: { cardId: 'C'.repeat(64) },
    expected: null,
  },
  {
    name: 'limits-credential-card-id-65-chars',
    description:
      'A credential whose card id (sub) has 65 characters, signed by its issuer: over the 64 of a text field.',
    mode: 'full',
    credential: { cardId: 'C'.repeat(64) },
    mutateCredential: (c, k) => reissue(c, k.issuer, (m) => m.set(2, 'C'.repeat(65))),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'valid-limits-compact-card-id-64-chars',
    description: 'Compact mode, a card id of 64 characters, the most a text field may have.',
    mode: 'compact',
    credential: { cardId: 'C'.repeat(64) },
    expected: null,
  },
  {
    name: 'valid-limits-compact-card-id-64-code-points',
    description:
      'Compact mode, a card id of 64 times U+20000: 64 characters (code points), though 128 UTF-16 code units and 256 UTF-8 bytes.',
    mode: 'compact',
    credential: { cardId: '\u{20000}'.repeat(64) },
    expected: null,
  },
  {
    name: 'limits-compact-card-id-65-chars',
    description:
      'Compact mode, a card id of 65 characters, signed by the phone: over the 64 of a text field.',
    mode: 'compact',
    credential: { cardId: 'C'.repeat(64) },
    mutate: (b, k) => resignFields(b, k.holder, (f) => (f[0] = 'C'.repeat(65))),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'valid-es256-high-s-presentation',
    description:
      'The phone signature is the high-S twin of a valid signature; ECDSA verification must accept it.',
    mode: 'full',
    mutate: (b, k) => resign(b, k.holder, () => {}).then(highS),
    expected: null,
  },
  {
    name: 'valid-es256-high-s-credential',
    description: 'The issuer signature of the credential is high-S.',
    mode: 'full',
    mutateCredential: (c) => highS(c),
    expected: null,
  },
  {
    name: 'valid-mixed-es256-issuer-eddsa-phone',
    description: 'ES256 issuer, Ed25519 phone key.',
    mode: 'full',
    holderAlg: 'EdDSA',
    expected: null,
  },
  {
    name: 'valid-parent-card-with-extras',
    description: 'A parent card with iss, a physical card, groups and linked students.',
    mode: 'full',
    credential: {
      role: 'parent',
      cardId: 'P2024000077',
      includeSchool: true,
      physicalCard: 'M1-0000777',
      groups: ['pickup:gate-north'],
      linkedCards: ['2024010123', '2022010456'],
    },
    trustEntry: { roles: ['teacher', 'student', 'parent'] },
    expected: null,
  },
  {
    name: 'valid-with-scene',
    description: 'A code with the payment scene hint.',
    mode: 'full',
    scene: 2,
    expected: null,
  },
  {
    name: 'valid-oldest-edge',
    description: 't = now − 90 s, the oldest accepted.',
    mode: 'full',
    t: NOW - 90,
    expected: null,
  },
  {
    name: 'valid-newest-edge',
    description: 't = now + 30 s, the newest accepted.',
    mode: 'full',
    t: NOW + 30,
    expected: null,
  },
  {
    name: 'valid-multi-school-issuer-with-iss',
    description: 'An issuer key for several schools; the credential names its school in iss.',
    mode: 'full',
    trustEntry: { schools: ['10001', '10002'] },
    credential: { includeSchool: true },
    expected: null,
  },
  // tampering: each signed field
  ...(
    [
      ['card-id', 'sub', (m: Map<number | string, CborValue>) => m.set(2, '2024010124')],
      ['iat', 'iat', (m: Map<number | string, CborValue>) => m.set(6, (m.get(6) as number) + 86_400)],
      ['role', 'role', (m: Map<number | string, CborValue>) => ((m.get('c') as CborValue[])[0] = 1)],
      [
        'status-index',
        'status index',
        (m: Map<number | string, CborValue>) => ((m.get('c') as CborValue[])[1] = 7),
      ],
      [
        'validity',
        'validity days',
        (m: Map<number | string, CborValue>) => ((m.get('c') as CborValue[])[2] = 400),
      ],
      [
        'holder-key',
        'phone key x coordinate',
        (m: Map<number | string, CborValue>) => {
          const k = (m.get(8) as Map<number, Map<number, CborValue>>).get(1) as Map<number, CborValue>;
          const x = Uint8Array.from(k.get(-2) as Uint8Array);
          x[31] = (x[31] as number) ^ 1;
          k.set(-2, x);
        },
      ],
    ] as const
  ).map(
    ([n, field, edit]): Case => ({
      name: `tampered-credential-${n}`,
      description: `The credential's ${field} was changed after the issuer signed it (the phone re-signs).`,
      mode: 'full',
      mutateCredential: (c) => tamperPayload(c, claimsEdit(edit)),
      expected: 'ERR_SIGNATURE_INVALID',
    }),
  ),
  ...(
    [
      ['t', 'time', (f: CborValue[]) => (f[3] = (f[3] as number) - 1)],
      ['nonce', 'nonce', (f: CborValue[]) => (f[4] = new Uint8Array([1, 2, 3, 4]))],
      ['scene', 'scene', (f: CborValue[]) => (f[5] = 1)],
    ] as const
  ).map(
    ([n, field, edit]): Case => ({
      name: `tampered-presentation-${n}`,
      description: `The presentation's ${field} was changed after the phone signed it.`,
      mode: 'full',
      scene: 2,
      mutate: (b) => tamperPayload(b, presentationEdit(edit)),
      expected: 'ERR_SIGNATURE_INVALID',
    }),
  ),
  {
    name: 'tampered-compact-card-id',
    description: 'Compact mode: the card id was changed after signing.',
    mode: 'compact',
    mutate: (b) =>
      tamperPayload(
        b,
        presentationEdit((f) => (f[0] = 2024010124)),
      ),
    expected: 'ERR_UNKNOWN_CARD',
  },
  {
    name: 'tampered-issuer-signature',
    description: 'One bit of the issuer signature flipped.',
    mode: 'full',
    mutateCredential: (c) => flipLastByte(c),
    expected: 'ERR_SIGNATURE_INVALID',
  },
  {
    name: 'tampered-holder-signature',
    description: 'One bit of the phone signature flipped.',
    mode: 'full',
    mutate: (b) => flipLastByte(b),
    expected: 'ERR_SIGNATURE_INVALID',
  },
  {
    name: 'tampered-credential-kid',
    description: 'The credential names an issuer kid that is not in the trust list.',
    mode: 'full',
    mutateCredential: (c, k) =>
      resign(c, k.issuer, (parts) => {
        parts[0] = encodeCbor(
          cmap([
            [1, -7],
            [4, new Uint8Array(8).fill(0xee)],
          ]),
        );
      }),
    expected: 'ERR_UNKNOWN_ISSUER',
  },
  {
    name: 'alg-unknown-presentation',
    description: 'The presentation header names ES384 (−35): not allowed.',
    mode: 'full',
    mutate: (b, k) => resign(b, k.holder, (parts) => (parts[0] = encodeCbor(cmap([[1, -35]])))),
    expected: 'ERR_ALG_NOT_ALLOWED',
  },
  {
    name: 'alg-none-presentation',
    description: 'The presentation header names alg 0 (reserved; the "none" of COSE): not allowed.',
    mode: 'full',
    mutate: (b, k) => resign(b, k.holder, (parts) => (parts[0] = encodeCbor(cmap([[1, 0]])))),
    expected: 'ERR_ALG_NOT_ALLOWED',
  },
  {
    name: 'alg-mismatch-credential',
    description: 'The credential header says EdDSA but the issuer key is ES256.',
    mode: 'full',
    mutateCredential: (c, k) =>
      resign(c, k.issuer, (parts) => {
        parts[0] = encodeCbor(
          cmap([
            [1, -8],
            [4, k.issuer.kid],
          ]),
        );
      }),
    expected: 'ERR_ALG_NOT_ALLOWED',
  },
  {
    name: 'wrong-holder-key',
    description: 'The code is signed by a phone key other than the one in the credential.',
    mode: 'full',
    mutate: (b, k) => resign(b, k.other, () => {}),
    expected: 'ERR_SIGNATURE_INVALID',
  },
  {
    name: 'wrong-issuer-key',
    description: "The credential carries the trusted issuer's kid but another key signed it.",
    mode: 'full',
    mutateCredential: (c, _k) => resign(c, key('impostor', 'ES256').privateKey, () => {}),
    expected: 'ERR_SIGNATURE_INVALID',
  },
  {
    name: 'compact-unknown-phone-key',
    description: 'Compact mode: the phone key is not registered for the card in the roster.',
    mode: 'compact',
    compactSigner: (k) => k.other,
    expected: 'ERR_UNKNOWN_CARD',
  },
  {
    name: 'issuer-not-allowed-for-role',
    description: 'The issuer key may sign student cards only; this is a teacher card.',
    mode: 'full',
    credential: { role: 'teacher', cardId: 'T20190001' },
    expected: 'ERR_ISSUER_ROLE_NOT_ALLOWED',
  },
  {
    name: 'issuer-not-allowed-for-school',
    description: 'The issuer key may sign for school 10002 only; the credential names 10001.',
    mode: 'full',
    trustEntry: { schools: ['10002', '10003'] },
    credential: { includeSchool: true },
    expected: 'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
  },
  {
    name: 'issuer-key-expired',
    description: 'The credential was issued after the issuer key validity ended.',
    mode: 'full',
    trustEntry: { exp: NOW - 86_400 * 2 },
    expected: 'ERR_ISSUER_KEY_EXPIRED',
  },
  {
    name: 'credential-expired',
    description: 'The card expired (iat + 30 days ≤ now).',
    mode: 'full',
    credential: { iat: NOW - 30 * 86_400 },
    trustEntry: { nbf: NOW - 400 * 86_400 },
    expected: 'ERR_CREDENTIAL_EXPIRED',
  },
  {
    name: 'credential-not-yet-valid',
    description: 'The credential iat is an hour ahead of the reader clock.',
    mode: 'full',
    credential: { iat: NOW + 3600 },
    t: NOW,
    expected: 'ERR_CREDENTIAL_NOT_YET_VALID',
  },
  {
    name: 'presentation-too-old',
    description: 't = now − 91 s.',
    mode: 'full',
    t: NOW - 91,
    expected: 'ERR_PRESENTATION_TOO_OLD',
  },
  {
    name: 'presentation-screenshot-an-hour-old',
    description: 'A screenshot of a code made an hour ago.',
    mode: 'full',
    t: NOW - 3600,
    expected: 'ERR_PRESENTATION_TOO_OLD',
  },
  {
    name: 'presentation-from-future',
    description: 't = now + 31 s.',
    mode: 'full',
    t: NOW + 31,
    expected: 'ERR_PRESENTATION_FROM_FUTURE',
  },
  {
    name: 'revoked-card',
    description: 'The status list marks the card revoked (1).',
    mode: 'full',
    statuses: statusesWith(1234, 1),
    expected: 'ERR_REVOKED',
  },
  {
    name: 'lost-card-suspended',
    description: 'The card was reported lost: status suspended (2).',
    mode: 'full',
    statuses: statusesWith(1234, 2),
    expected: 'ERR_REVOKED',
  },
  {
    name: 'revoked-card-compact',
    description: 'Compact mode, card revoked in the status list.',
    mode: 'compact',
    statuses: statusesWith(1234, 1),
    expected: 'ERR_REVOKED',
  },
  {
    name: 'status-index-out-of-range',
    description: 'The status list is shorter than the card index: fail closed.',
    mode: 'full',
    statuses: new Array(100).fill(0),
    expected: 'ERR_STATUS_INDEX_OUT_OF_RANGE',
  },
  {
    name: 'trust-list-rollback',
    description: 'The reader already holds trust list version 5; this one is version 4.',
    mode: 'full',
    heldTrustListVersion: 5,
    expected: 'ERR_ROLLBACK',
  },
  {
    name: 'trust-list-tampered',
    description: 'A byte of the trust list payload changed after the root signed it.',
    mode: 'full',
    mutateTrustList: (tl) =>
      tamperPayload(
        tl,
        claimsEdit((m) => m.set(1, 99)),
      ),
    expected: 'ERR_SIGNATURE_INVALID',
  },
  {
    name: 'qr-wrong-prefix',
    description: 'Prefix CC2: instead of CC1:.',
    mode: 'full',
    mutateQr: (q) => `CC2:${q.slice(4)}`,
    expected: 'ERR_QR_PREFIX',
  },
  {
    name: 'qr-no-prefix',
    description: 'Base45 without any prefix.',
    mode: 'full',
    mutateQr: (q) => q.slice(4),
    expected: 'ERR_QR_PREFIX',
  },
  {
    name: 'qr-lowercase',
    description: 'Lower-case letters are not Base45.',
    mode: 'full',
    mutateQr: (q) => q.slice(0, 4) + q.slice(4).toLowerCase(),
    expected: 'ERR_QR_BASE45',
  },
  {
    name: 'qr-base45-dangling',
    description: 'One character too many: a dangling Base45 character.',
    mode: 'full',
    mutateQr: (q) => `${q}0`,
    expected: 'ERR_QR_BASE45',
  },
  {
    name: 'qr-base45-overflow',
    description: 'The triplet ":::" is above 65535.',
    mode: 'full',
    mutateQr: (q) => `CC1::::${q.slice(4)}`,
    expected: 'ERR_QR_BASE45',
  },
  {
    name: 'cbor-truncated',
    description: 'The presentation bytes cut short by 10 bytes.',
    mode: 'full',
    mutate: (b) => b.subarray(0, b.length - 10),
    expected: 'ERR_CBOR_MALFORMED',
  },
  {
    name: 'cbor-trailing-bytes',
    description: 'Two extra bytes after the presentation.',
    mode: 'full',
    mutate: (b) => Uint8Array.from([...b, 0, 0]),
    expected: 'ERR_CBOR_MALFORMED',
  },
  {
    name: 'cbor-tagged',
    description: 'The presentation wrapped in tag 18 (COSE_Sign1 tag): tags are not allowed.',
    mode: 'full',
    mutate: (b) => Uint8Array.from([0xd2, ...b]),
    expected: 'ERR_CBOR_UNSUPPORTED_TYPE',
  },
  {
    name: 'cbor-not-deterministic',
    description: 'The outer array head written in a non-shortest form (0x98 0x04).',
    mode: 'full',
    mutate: (b) => Uint8Array.from([0x98, 0x04, ...b.subarray(1)]),
    expected: 'ERR_CBOR_NOT_DETERMINISTIC',
  },
  {
    name: 'cbor-indefinite-length',
    description: 'An indefinite-length array.',
    mode: 'full',
    mutate: (b) => Uint8Array.from([0x9f, ...b.subarray(1), 0xff]),
    expected: 'ERR_CBOR_UNSUPPORTED_TYPE',
  },
  {
    name: 'cbor-too-deep',
    description: 'Arrays nested 20 deep.',
    mode: 'full',
    mutate: () => Uint8Array.from([...new Array(20).fill(0x81), 0x00]),
    expected: 'ERR_CBOR_TOO_DEEP',
  },
  {
    name: 'cbor-negative-integer-too-large',
    description:
      'The presentation header names alg −2^53 (3b 001fffffffffffff): integers stop at −(2^53 − 1), so this is not an alg to look up but an integer out of range.',
    mode: 'full',
    mutate: (b, k) =>
      resign(b, k.holder, (parts) => {
        const header = encodeCbor(cmap([[1, -(2 ** 53 - 1)]]));
        // −(2^53 − 1) is 3b 001ffffffffffffe; one more is −2^53, which encodeCbor will not write
        if (header[header.length - 1] !== 0xfe) throw new Error('unexpected encoding of the alg');
        header[header.length - 1] = 0xff;
        parts[0] = header;
      }),
    expected: 'ERR_CBOR_UNSUPPORTED_TYPE',
  },
  {
    name: 'wrong-type-t',
    description: 'A correctly signed presentation whose time is a text string.',
    mode: 'full',
    mutate: (b, k) =>
      resign(b, k.holder, (parts) => {
        const f = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096 }, 'p') as CborValue[];
        f[3] = String(f[3]);
        parts[2] = encodeCbor(f);
      }),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'wrong-type-signature-length',
    description: 'A 63-byte signature.',
    mode: 'full',
    mutate: (b) => {
      const parts = decodeCbor(b, { maxBytes: 4096 }, 'x') as CborValue[];
      parts[3] = (parts[3] as Uint8Array).subarray(0, 63);
      return encodeCbor(parts);
    },
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'unprotected-header-not-empty',
    description: 'A kid in the unprotected header: the profile requires it empty.',
    mode: 'full',
    mutate: (b) => {
      const parts = decodeCbor(b, { maxBytes: 4096 }, 'x') as CborValue[];
      parts[1] = cmap([[4, new Uint8Array(8)]]);
      return encodeCbor(parts);
    },
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'oversized-input',
    description: 'A QR text of 1 500 characters.',
    mode: 'full',
    mutateQr: () => `CC1:${'0'.repeat(1500)}`,
    expected: 'ERR_INPUT_TOO_LARGE',
  },
  // text strings are UTF-8 (spec §2.1): invalid UTF-8 anywhere is ERR_CBOR_MALFORMED, however it
  // was signed; every valid code point, a leading U+FEFF included, is text as it stands
  {
    name: 'valid-compact-card-id-utf8-boundaries',
    description:
      'Compact mode, a card id of the first and last code points of each UTF-8 length and those around the surrogates: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.',
    mode: 'compact',
    credential: { cardId: '\u0080\u07FF\u0800\uD7FF\uE000\uFFFF\u{10000}\u{10FFFF}' },
    expected: null,
  },
  {
    name: 'valid-compact-card-id-leading-bom',
    description:
      'Compact mode, the card id "\\uFEFFT-0042" (EF BB BF "T-0042"): a leading U+FEFF is part of the text, not a byte order mark to strip; the roster lists the card under that id.',
    mode: 'compact',
    credential: { cardId: '\uFEFFT-0042' },
    expected: null,
  },
  ...(
    [
      [
        'lone-continuation',
        'has a continuation byte (80) that continues nothing',
        utf8Bytes('T-00', 0x80, '42'),
      ],
      [
        'overlong',
        'spells "/" in an overlong three-byte form (E0 80 AF)',
        utf8Bytes('T-', 0xe0, 0x80, 0xaf, '42'),
      ],
      [
        'surrogate',
        'encodes the UTF-16 surrogate U+D800 (ED A0 80)',
        utf8Bytes('T-', 0xed, 0xa0, 0x80, '42'),
      ],
      [
        'above-10ffff',
        'encodes U+110000, above the last code point U+10FFFF (F4 90 80 80)',
        utf8Bytes('T-', 0xf4, 0x90, 0x80, 0x80, '42'),
      ],
      [
        'truncated',
        'ends inside a three-byte character (E2 82, the first two bytes of "€")',
        utf8Bytes('T-0042', 0xe2, 0x82),
      ],
    ] as const
  ).map(([n, what, bytes]): Case => {
    const placeholder = 'X'.repeat(bytes.length);
    return {
      name: `utf8-compact-card-id-${n}`,
      description: `Compact mode, a text card id, signed by the phone, that ${what}: not UTF-8.`,
      mode: 'compact',
      compactCardId: placeholder,
      mutate: (b, k) => resignPatched(b, k.holder, placeholder, bytes),
      expected: 'ERR_CBOR_MALFORMED',
    };
  }),
  {
    name: 'utf8-credential-card-id-overlong',
    description:
      'A credential, signed by its issuer, whose card id (sub) spells "/" in an overlong two-byte form (C0 AF): not UTF-8.',
    mode: 'full',
    credential: { cardId: 'T-XX42' },
    mutateCredential: (c, k) => resignPatched(c, k.issuer, 'T-XX42', utf8Bytes('T-', 0xc0, 0xaf, '42')),
    expected: 'ERR_CBOR_MALFORMED',
  },
  {
    name: 'utf8-credential-group-byte-ff',
    description:
      'A credential, signed by its issuer, with a group ending in the byte FF, which never occurs in UTF-8.',
    mode: 'full',
    credential: { groups: ['dorm:XX'] },
    mutateCredential: (c, k) => resignPatched(c, k.issuer, 'dorm:XX', utf8Bytes('dorm:B', 0xff)),
    expected: 'ERR_CBOR_MALFORMED',
  },
  // protected headers (spec §2.2): {1: alg} in a presentation, {1: alg, 4: kid} in every other
  // structure, nothing else; each header below is signed by the right key
  {
    name: 'presentation-header-kid',
    description:
      "The presentation's protected header carries the phone key's kid (4): a presentation's header is {1: alg} only.",
    mode: 'full',
    mutate: (b, k) =>
      resignHeader(b, k.holder, [
        [1, COSE_ALG[k.holder.alg]],
        [4, k.holder.kid],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'presentation-header-content-type',
    description:
      "The presentation's protected header carries a content type (3: 60, application/cbor): no label but alg is allowed there.",
    mode: 'full',
    mutate: (b, k) =>
      resignHeader(b, k.holder, [
        [1, COSE_ALG[k.holder.alg]],
        [3, 60],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'presentation-header-text-label',
    description: 'The presentation\'s protected header carries a text label ("v": 1) besides alg.',
    mode: 'full',
    mutate: (b, k) =>
      resignHeader(b, k.holder, [
        [1, COSE_ALG[k.holder.alg]],
        ['v', 1],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'credential-header-content-type',
    description:
      "The credential's protected header carries a content type (3: 61, application/cwt), as many CWTs do: only alg and kid are allowed.",
    mode: 'full',
    uncheckedCredential: true,
    mutateCredential: (c, k) =>
      resignHeader(c, k.issuer, [
        [1, COSE_ALG[k.issuer.alg]],
        [3, 61],
        [4, k.issuer.kid],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'credential-header-no-kid',
    description: "The credential's protected header names no kid: a credential's header is {1: alg, 4: kid}.",
    mode: 'full',
    uncheckedCredential: true,
    mutateCredential: (c, k) => resignHeader(c, k.issuer, [[1, COSE_ALG[k.issuer.alg]]]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'credential-header-short-kid',
    description: "The credential's protected header has a 7-byte kid (the issuer kid less its last byte).",
    mode: 'full',
    uncheckedCredential: true,
    mutateCredential: (c, k) =>
      resignHeader(c, k.issuer, [
        [1, COSE_ALG[k.issuer.alg]],
        [4, k.issuer.kid.subarray(0, 7)],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'trust-list-header-content-type',
    description:
      "The trust list's protected header, signed by the root, carries a content type (3: 61) besides alg and kid.",
    mode: 'full',
    mutateTrustList: (tl, k) =>
      resignHeader(tl, k.root, [
        [1, COSE_ALG[k.root.alg]],
        [3, 61],
        [4, k.root.kid],
      ]),
    expected: 'ERR_STRUCTURE',
  },
  // COSE_Keys (spec §2.4) hold kty, alg, crv, x and y only: never a kid, which is computed
  {
    name: 'holder-key-with-kid',
    description:
      "The credential's phone key (cnf), signed by the issuer, carries its own kid (2), the right one: a COSE_Key carries no kid.",
    mode: 'full',
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        const cnf = m.get(8) as Map<number, CborValue>;
        cnf.set(1, withMembers(cnf.get(1) as CborValue, [[2, k.holder.kid]]));
      }),
    expected: 'ERR_KEY_INVALID',
  },
  {
    name: 'holder-key-with-private-d',
    description:
      "The credential's phone key (cnf), signed by the issuer, carries the private key d (-4): a COSE_Key holds kty, alg, crv, x and y only.",
    mode: 'full',
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        const cnf = m.get(8) as Map<number, CborValue>;
        cnf.set(1, withMembers(cnf.get(1) as CborValue, [[-4, k.holder.d]]));
      }),
    expected: 'ERR_KEY_INVALID',
  },
  {
    name: 'trust-list-key-with-kid',
    description:
      'The issuer key of the trust list, signed by the root, carries its own kid (2), the right one: a COSE_Key carries no kid.',
    mode: 'full',
    mutateTrustList: (tl, k) =>
      retrust(tl, k.root, (p) => {
        const entry = (p.get(4) as Map<number, CborValue>[])[0] as Map<number, CborValue>;
        entry.set(1, withMembers(entry.get(1) as CborValue, [[2, k.issuer.kid]]));
      }),
    expected: 'ERR_KEY_INVALID',
  },
  // §2.4: trust lists and rosters name a key's algorithm (3); a credential's phone key leaves it
  // out. One encoding per key where it appears.
  {
    name: 'holder-key-with-alg',
    description:
      "The credential's phone key (cnf), signed by the issuer, carries 3 (alg), the right one (-7): the phone key of a credential leaves alg out.",
    mode: 'full',
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        const cnf = m.get(8) as Map<number, CborValue>;
        cnf.set(1, withMembers(cnf.get(1) as CborValue, [[3, COSE_ALG[k.holder.alg]]]));
      }),
    expected: 'ERR_KEY_INVALID',
  },
  {
    name: 'trust-list-key-without-alg',
    description:
      'The issuer key of the trust list, signed by the root, leaves out 3 (alg): a trust list names the algorithm of every key.',
    mode: 'full',
    mutateTrustList: (tl, k) =>
      retrust(tl, k.root, (p) => {
        const entry = (p.get(4) as Map<number, CborValue>[])[0] as Map<number, CborValue>;
        entry.set(1, withoutMember(entry.get(1) as CborValue, 3));
      }),
    expected: 'ERR_KEY_INVALID',
  },
  {
    name: 'roster-key-without-alg',
    description:
      "Compact mode: the card's phone key in the roster, signed by the status key, leaves out 3 (alg): a roster names the algorithm of every key.",
    mode: 'compact',
    mutateRoster: (r, k) =>
      resign(r, k.status, (parts) => {
        const payload = decodeCbor(parts[2] as Uint8Array, { maxBytes: 4096 }, 'r') as Map<number, CborValue>;
        const card = (payload.get(4) as Map<number, CborValue>[])[0] as Map<number, CborValue>;
        card.set(
          4,
          (card.get(4) as CborValue[]).map((key) => withoutMember(key, 3)),
        );
        parts[2] = encodeCbor(payload);
      }),
    expected: 'ERR_KEY_INVALID',
  },
  // `[+ …]` is at least one (spec §3, §4.1): an empty one is refused, as a missing one would be
  {
    name: 'trust-list-empty',
    description:
      'A trust list with no keys (keys = []), signed by the root: a trust list names at least one key.',
    mode: 'full',
    mutateTrustList: (tl, k) => retrust(tl, k.root, (p) => p.set(4, [])),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'credential-groups-empty',
    description:
      'A credential, signed by its issuer, whose extras hold an empty group list (5: []): groups are [+ tstr], left out when there are none.',
    mode: 'full',
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        (m.get('c') as CborValue[]).push(cmap([[5, []]]));
      }),
    expected: 'ERR_STRUCTURE',
  },
  {
    name: 'credential-extras-empty',
    description:
      'A credential, signed by its issuer, whose campus claims end in an empty extras map: extras are present only when one of their keys is.',
    mode: 'full',
    mutateCredential: (c, k) =>
      reissue(c, k.issuer, (m) => {
        (m.get('c') as CborValue[]).push(new Map());
      }),
    expected: 'ERR_STRUCTURE',
  },
];

/**
 * A full-mode presentation (no scene) of a credential that `createPresentation` refuses to carry,
 * built and signed by the phone as `createPresentation` would.
 */
function presentUnchecked(
  credential: Uint8Array,
  t: number,
  nonce: Uint8Array,
  holder: PrivateKey,
): Uint8Array {
  const parts = decodeCbor(credential, { maxBytes: 4096 }, 'c') as CborValue[];
  const protectedBytes = encodeCbor(cmap([[1, COSE_ALG[holder.alg]]]));
  const payload = encodeCbor([
    parts[0] as Uint8Array,
    parts[2] as Uint8Array,
    parts[3] as Uint8Array,
    t,
    nonce,
  ]);
  const signature = signBytes(holder, sign1ToBeSigned(protectedBytes, payload));
  return encodeCbor([protectedBytes, new Map(), payload, signature]);
}

function statusesWith(index: number, value: number): number[] {
  const s = new Array(2048).fill(0);
  s[index] = value;
  return s;
}

async function build(c: Case): Promise<Record<string, unknown>> {
  const alg = c.alg ?? 'ES256';
  const holderAlg = c.holderAlg ?? alg;
  const k = keysFor(alg, holderAlg);
  const now = c.now ?? NOW;
  const role: Role = c.credential?.role ?? 'student';
  const trustInput: TrustListInput = {
    version: 4,
    iat: NOW - 3600,
    authority: 'platform',
    keys: [
      {
        key: k.issuer.publicKey,
        roles: ['student'],
        nbf: NOW - 200 * 86_400,
        exp: NOW + 200 * 86_400,
        schools: [SCHOOL],
        uses: KEY_USE.credentials,
        ...c.trustEntry,
      },
      {
        key: k.status.publicKey,
        roles: ['teacher', 'student', 'parent'],
        nbf: NOW - 200 * 86_400,
        exp: NOW + 200 * 86_400,
        schools: [SCHOOL],
        uses: KEY_USE.statusLists | KEY_USE.rosters,
      },
    ],
  };
  let trustList = await signTrustList(trustInput, k.root);
  if (c.mutateTrustList) trustList = await c.mutateTrustList(trustList, k);
  const statusList = await signStatusList(
    { school: SCHOOL, version: 9, iat: NOW - 600, statuses: c.statuses ?? new Array(2048).fill(0) },
    k.status,
  );
  const credInput: IssueCredentialInput = {
    school: SCHOOL,
    includeSchool: false,
    cardId: '2024010123',
    role,
    iat: NOW - 86_400,
    validityDays: 30,
    holderKey: k.holder.publicKey,
    statusIndex: 1234,
    ...c.credential,
  };
  let credential = await issueCredential(credInput, k.issuer);
  if (c.mutateCredential) credential = await c.mutateCredential(credential, k);
  const t = c.t ?? now - 5;
  const nonce = new Uint8Array([0x5a, 0x17, 0xc0, 0xde]);
  const scene = c.scene;
  let presentation: Uint8Array;
  let roster: Uint8Array | undefined;
  if (c.mode === 'full') {
    presentation = c.uncheckedCredential
      ? presentUnchecked(credential, t, nonce, k.holder)
      : await createPresentation(
          { credential, t, nonce, ...(scene === undefined ? {} : { scene }) },
          k.holder,
        );
  } else {
    const signer = c.compactSigner ? c.compactSigner(k) : k.holder;
    presentation = await createCompactPresentation(
      { cardId: c.compactCardId ?? credInput.cardId, t, nonce, ...(scene === undefined ? {} : { scene }) },
      signer,
    );
    roster = await signRoster(
      {
        school: SCHOOL,
        version: 3,
        iat: NOW - 900,
        cards: [
          {
            cardId: credInput.cardId,
            role,
            statusIndex: credInput.statusIndex,
            keys: [k.holder.publicKey],
            uidHashes: [],
            groups: [],
            exp: credInput.iat + credInput.validityDays * 86_400,
          },
        ],
      },
      k.status,
    );
    if (c.mutateRoster) roster = await c.mutateRoster(roster, k);
  }
  if (c.mutate) presentation = await c.mutate(presentation, k);
  let qr = `CC1:${encodeBase45(presentation)}`;
  if (c.mutateQr) qr = c.mutateQr(qr);
  if (!c.mutate && !c.mutateQr && qr !== encodeQr(presentation)) throw new Error('encodeQr disagrees');

  const intermediates: Record<string, string> = {
    credential: toHex(credential),
    presentation: toHex(presentation),
  };
  try {
    const cs = decodeSign1(credential, { maxBytes: 4096 }, 'credential', true);
    intermediates.credentialToBeSigned = toHex(sign1ToBeSigned(cs.protectedBytes, cs.payload));
  } catch {
    // a deliberately broken credential has no ToBeSigned
  }
  try {
    const ps = decodeSign1(presentation, { maxBytes: 4096 }, 'presentation', false);
    intermediates.presentationToBeSigned = toHex(sign1ToBeSigned(ps.protectedBytes, ps.payload));
  } catch {
    // a deliberately broken presentation has no ToBeSigned
  }
  return {
    name: c.name,
    description: c.description,
    mode: c.mode,
    now,
    keys: {
      root: exportJwk(k.root),
      issuer: exportJwk(k.issuer),
      status: exportJwk(k.status),
      holder: exportJwk(k.holder),
    },
    trustList: toHex(trustList),
    statusList: toHex(statusList),
    ...(roster ? { roster: toHex(roster) } : {}),
    ...(c.heldTrustListVersion !== undefined ? { heldTrustListVersion: c.heldTrustListVersion } : {}),
    intermediates,
    qr,
    expected: { valid: c.expected === null, code: c.expected },
  };
}

mkdirSync(outDir, { recursive: true });
for (const f of readdirSync(outDir)) if (f.endsWith('.json')) rmSync(join(outDir, f));
const names = new Set<string>();
for (const c of cases) {
  if (names.has(c.name)) throw new Error(`duplicate vector ${c.name}`);
  names.add(c.name);
  writeFileSync(join(outDir, `${c.name}.json`), `${JSON.stringify(await build(c), null, 2)}\n`);
}
console.log(`wrote ${cases.length} vectors to ${outDir}`);
