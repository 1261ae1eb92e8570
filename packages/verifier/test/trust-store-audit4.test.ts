/**
 * Trust anchors bound to authorities (spec §3) and unambiguous rosters (spec §6.2), seen through
 * `createVerifier`: one school's root cannot make another school's cards pass, and a roster that
 * repeats a card id or a UID hash is refused whole, the last good copy kept.
 */
import {
  createPresentation,
  decodeSign1,
  encodeQr,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  type PublicKey,
  sign1ToBeSigned,
  signBytes,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { makeCampus, PEOPLE, seed, T0 } from './helpers/fixtures.js';

const DAY = 86_400;
const A = '10001';
const B = '10002';
const gate = { id: 'gate-1' };

type Pair = { privateKey: PrivateKey; publicKey: PublicKey };
const key = (n: number): Pair => generateKeyPair('ES256', { seed: seed(n) });

/** A trust list signed by `root` stating `authority`, trusting `issuer` for `schools`. */
function trustList(root: Pair, authority: string, issuer: Pair, version: number, schools?: string[]) {
  return signTrustList(
    {
      version,
      iat: T0 - 3600,
      authority,
      keys: [
        {
          key: issuer.publicKey,
          roles: ['student'],
          nbf: T0 - 365 * DAY,
          exp: T0 + 365 * DAY,
          ...(schools === undefined ? {} : { schools }),
        },
      ],
    },
    root.privateKey,
  );
}

/** A fresh full-mode code of a school's student card signed by `issuer`. */
async function code(issuer: Pair, school: string, phone: Pair): Promise<string> {
  const credential = await issueCredential(
    {
      school,
      cardId: '2024020001',
      role: 'student',
      iat: T0 - DAY,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 1,
    },
    issuer.privateKey,
  );
  return encodeQr(await createPresentation({ credential, t: T0 }, phone.privateKey));
}

describe('root keys anchor one authority each', () => {
  it("school A's root cannot sign a list that speaks for school B or the platform; B's cards stay safe", async () => {
    const [rootA, rootB, issuerA, issuerB, phone] = [key(101), key(102), key(103), key(104), key(105)];
    const v = createVerifier({
      rootKeys: [
        { key: rootA.publicKey, authority: A },
        { key: rootB.publicKey, authority: B },
      ],
    });
    // school B's reader holds B's list and B's status list
    expect(v.loadTrustList(await trustList(rootB, B, issuerB, 1), { now: T0 })).toMatchObject({ ok: true });
    const statuses = new Array<number>(8).fill(0);
    const sl = await signStatusList({ school: B, version: 1, iat: T0 - 600, statuses }, issuerB.privateKey);
    expect(v.loadStatusList(sl, { now: T0 })).toMatchObject({ ok: true });
    // school A's root signs newer lists trusting A's issuer for B
    for (const [authority, schools] of [
      [B, undefined],
      [B, [B]],
      ['platform', undefined],
      ['platform', [B]],
    ] as const) {
      const forged = await trustList(rootA, authority, issuerA, 2, schools && [...schools]);
      expect(v.loadTrustList(forged, { now: T0 }), `${authority} ${schools}`).toMatchObject({
        ok: false,
        reason: 'UNKNOWN_ISSUER',
        coreCode: 'ERR_UNKNOWN_ISSUER',
      });
    }
    // B's list is still the one held, and a card of B issued by A's issuer is refused
    expect(v.status(T0).trustList).toMatchObject({ version: 1 });
    expect(await v.verify(await code(issuerA, B, phone), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'UNKNOWN_ISSUER',
    });
    expect(await v.verify(await code(issuerB, B, phone), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
    });
    // A's root still loads A's own list
    expect(v.loadTrustList(await trustList(rootA, A, issuerA, 3), { now: T0 })).toMatchObject({ ok: true });
  });

  it('several root keys must each name their authority (TypeError at creation); one may stay bare', () => {
    const [rootA, rootB] = [key(101), key(102)];
    const bad: unknown[][] = [
      [rootA.publicKey, rootB.publicKey],
      [rootA.publicKey, { key: rootB.publicKey, authority: B }],
      [{ key: rootA.publicKey, authority: A }, rootB.publicKey],
      [{ key: rootA.publicKey, authority: '' }],
      [{ key: rootA.publicKey, authority: 7 }],
      [{ key: rootA.privateKey, authority: A }],
    ];
    for (const rootKeys of bad) {
      expect(() => createVerifier({ rootKeys: rootKeys as PublicKey[] })).toThrow(TypeError);
    }
    expect(() => createVerifier({ rootKeys: [rootA.publicKey] })).not.toThrow();
    expect(() => createVerifier({ rootKeys: [{ key: rootA.publicKey, authority: A }] })).not.toThrow();
  });

  it('the anchors are copied at creation', async () => {
    const [rootA, rootB, issuerA] = [key(101), key(102), key(103)];
    const anchor = { key: rootA.publicKey, authority: A };
    const v = createVerifier({ rootKeys: [anchor, { key: rootB.publicKey, authority: B }] });
    (anchor as { authority: string }).authority = B;
    expect(v.loadTrustList(await trustList(rootA, B, issuerA, 1), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_ISSUER',
    });
  });
});

/** CBOR byte string header + bytes. */
function bstr(b: Uint8Array): Uint8Array {
  const n = b.length;
  const head =
    n < 24
      ? [0x40 + n]
      : n < 256
        ? [0x58, n]
        : n < 65536
          ? [0x59, n >> 8, n & 0xff]
          : [0x5a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Uint8Array.from([...head, ...b]);
}

/** The first index of `needle` in `hay` at or after `from`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

describe('a roster naming a card or a physical card twice is refused whole', () => {
  it('a card id listed twice: BAD_FORMAT (ERR_STRUCTURE), the roster held stays', async () => {
    const campus = await makeCampus();
    const v = createVerifier({ rootKeys: [campus.root.publicKey] });
    expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 }).ok).toBe(true);
    expect(v.loadRoster(await campus.roster(1, T0 - 600), { now: T0 }).ok).toBe(true);

    // roster v2, re-signed by the issuer with the second card's id replaced by the first's (same
    // length): that entry carries the second card's phone key, status index and physical card
    const good = await campus.roster(2, T0 - 300);
    const sign1 = decodeSign1(good, { maxBytes: 1 << 20 }, 'roster', true);
    const payload = Uint8Array.from(sign1.payload);
    const first = new TextEncoder().encode(PEOPLE[0]?.cardId);
    const second = new TextEncoder().encode(PEOPLE[1]?.cardId);
    expect(first.length).toBe(second.length);
    const at = indexOf(payload, second);
    expect(at).toBeGreaterThan(indexOf(payload, first));
    payload.set(first, at);
    const signature = signBytes(campus.issuer.privateKey, sign1ToBeSigned(sign1.protectedBytes, payload));
    const dup = Uint8Array.from([
      0x84,
      ...bstr(sign1.protectedBytes),
      0xa0,
      ...bstr(payload),
      ...bstr(signature),
    ]);
    expect(v.loadRoster(dup, { now: T0 })).toMatchObject({
      ok: false,
      reason: 'BAD_FORMAT',
      coreCode: 'ERR_STRUCTURE',
    });
    expect(v.status(T0).roster).toMatchObject({ version: 1 });
    // the first card's compact code still resolves to that card
    const scan = await v.verify(await campus.compact(PEOPLE[0]?.cardId as string, T0), {
      now: T0,
      reader: gate,
    });
    expect(scan).toMatchObject({ accepted: true, cardId: PEOPLE[0]?.cardId });
  });
});
