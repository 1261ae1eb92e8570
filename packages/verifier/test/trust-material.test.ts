/**
 * Loading status lists and rosters (src/trust-store.ts): signature and signer checks, rollback
 * refusal, and the last good copy kept, seen through `createVerifier` (scans and `status()`).
 */
import {
  decodeRoster,
  decodeStatusList,
  generateKeyPair,
  KEY_USE,
  type PrivateKey,
  type PublicKey,
  signRoster,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Decision, type Verifier } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, rosterEntry, SCHOOL, seed, T0 } from './helpers/fixtures.js';

const DAY = 86_400;
const OTHER_SCHOOL = '20002';
const gate = { id: 'gate-1' };
/** The card whose fate the attacking material tries to change (status index 1, has a phone key). */
const VICTIM = '2024010001';

type Pair = { privateKey: PrivateKey; publicKey: PublicKey };
let campus: Campus;
/** Keys with a restricted trust-list entry, or none. */
let keys: {
  stranger: Pair; // not in the trust list at all
  credOnly: Pair; // uses: credentials only
  statusOnly: Pair; // uses: status lists only
  rosterOnly: Pair; // uses: rosters only
  otherSchool: Pair; // every use, but only for OTHER_SCHOOL
  expired: Pair; // every use, for SCHOOL, but its validity ended before the material's iat
};
let tl1: Uint8Array;

beforeAll(async () => {
  campus = await makeCampus();
  const k = (n: number) => generateKeyPair('ES256', { seed: seed(n) });
  keys = {
    stranger: k(90),
    credOnly: k(91),
    statusOnly: k(92),
    rosterOnly: k(93),
    otherSchool: k(94),
    expired: k(95),
  };
  const roles = ['teacher', 'student', 'parent'] as const;
  const entry = (key: PublicKey, extra: { uses?: number; schools?: string[]; exp?: number } = {}) => ({
    key,
    roles,
    nbf: T0 - 365 * DAY,
    exp: extra.exp ?? T0 + 365 * DAY,
    schools: extra.schools ?? [SCHOOL],
    ...(extra.uses === undefined ? {} : { uses: extra.uses }),
  });
  tl1 = await signTrustList(
    {
      version: 1,
      iat: T0 - 3600,
      authority: 'platform',
      keys: [
        entry(campus.issuer.publicKey),
        entry(keys.credOnly.publicKey, { uses: KEY_USE.credentials }),
        entry(keys.statusOnly.publicKey, { uses: KEY_USE.statusLists }),
        entry(keys.rosterOnly.publicKey, { uses: KEY_USE.rosters }),
        entry(keys.otherSchool.publicKey, { schools: [OTHER_SCHOOL] }),
        entry(keys.expired.publicKey, { exp: T0 - 2 * DAY }),
      ],
    },
    campus.root.privateKey,
  );
});

/** A status list of `school`: `revoked` maps status index → status. */
function statusList(
  signer: PrivateKey,
  version: number,
  opts: { iat?: number; revoked?: Record<number, number>; school?: string } = {},
): Promise<Uint8Array> {
  const statuses = new Array<number>(64).fill(0);
  for (const [i, s] of Object.entries(opts.revoked ?? {})) statuses[Number(i)] = s;
  return signStatusList(
    { school: opts.school ?? SCHOOL, version, iat: opts.iat ?? T0 - 300, statuses },
    signer,
  );
}

/** A roster of the campus cards, without the cards in `without`. */
function roster(
  signer: PrivateKey,
  version: number,
  opts: { iat?: number; without?: readonly string[] } = {},
): Promise<Uint8Array> {
  const cards = [...campus.cards.values()].filter((c) => !(opts.without ?? []).includes(c.cardId));
  return signRoster(
    {
      school: SCHOOL,
      version,
      iat: opts.iat ?? T0 - 300,
      cards: cards.map(rosterEntry),
    },
    signer,
  );
}

/** A verifier holding `tl1`, status list v1 (nothing revoked) and roster v1 (every card). */
async function loaded(): Promise<Verifier> {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
  expect(v.loadTrustList(tl1, { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await statusList(campus.issuer.privateKey, 1), { now: T0 })).toMatchObject({
    ok: true,
    version: 1,
  });
  expect(v.loadRoster(await roster(campus.issuer.privateKey, 1), { now: T0 })).toMatchObject({
    ok: true,
    version: 1,
  });
  return v;
}

/** `bytes` with one bit of its last signature byte flipped. */
function flipSignature(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out[out.length - 1] = (out[out.length - 1] as number) ^ 0x01;
  return out;
}

/**
 * `bytes` with one bit flipped in the last byte of the COSE_Sign1 payload (a status byte of a
 * status list, the last card's `exp` of a roster), so the result still decodes: only the signature
 * can catch it.
 */
function flipPayload(bytes: Uint8Array, decode: (b: Uint8Array) => { sign1: { payload: Uint8Array } }) {
  const { payload } = decode(bytes).sign1;
  const end = bytes.length - 66; // the payload is followed by the 64-byte signature and its 2-byte head
  const at = end - 1;
  expect(bytes.subarray(end - payload.length, end)).toEqual(payload);
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ 0x01;
  expect(() => decode(out)).not.toThrow();
  expect(decode(out).sign1.payload).not.toEqual(payload);
  return out;
}

let nextT = T0;
/** A scan of a fresh full-mode code of `cardId` (a new code each time: no replay). */
async function scanFull(v: Verifier, cardId: string): Promise<Decision> {
  const t = ++nextT;
  return v.verify(await campus.code(cardId, t), { now: t, reader: gate });
}
/** A scan of a fresh compact-mode code of `cardId` (checked against the roster). */
async function scanCompact(v: Verifier, cardId: string): Promise<Decision> {
  const t = ++nextT;
  return v.verify(await campus.compact(cardId, t), { now: t, reader: gate });
}

describe('status list loading: signature and signer', () => {
  it('refuses a tampered signature or payload (BAD_SIGNATURE) and keeps the held list', async () => {
    const v = await loaded();
    expect((await scanFull(v, VICTIM)).accepted).toBe(true);
    const good = await statusList(campus.issuer.privateKey, 2, { revoked: { 1: 1 } });
    for (const bad of [flipSignature(good), flipPayload(good, decodeStatusList)]) {
      expect(v.loadStatusList(bad, { now: T0 })).toMatchObject({
        ok: false,
        material: 'statusList',
        reason: 'BAD_SIGNATURE',
        coreCode: 'ERR_SIGNATURE_INVALID',
      });
      expect(v.status(T0).statusLists[SCHOOL]).toMatchObject({ version: 1, iat: T0 - 300 });
      expect(await scanFull(v, VICTIM)).toMatchObject({
        accepted: true,
        audit: { statusList: { version: 1 } },
      });
    }
    // the refused loads did not raise the version mark: the genuine v2 goes in, and revokes
    expect(v.loadStatusList(good, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: true });
    expect(v.status(T0).statusLists[SCHOOL]).toMatchObject({ version: 2 });
    expect(await scanFull(v, VICTIM)).toMatchObject({ accepted: false, reason: 'REVOKED' });
  });

  it('refuses a list validly signed by a key that may not sign it (UNKNOWN_ISSUER) and keeps the held list', async () => {
    const v = await loaded();
    const attempts: Array<[string, PrivateKey, string]> = [
      ['not in the trust list', keys.stranger.privateKey, SCHOOL],
      ['credentials only', keys.credOnly.privateKey, SCHOOL],
      ['rosters only', keys.rosterOnly.privateKey, SCHOOL],
      ['another school', keys.otherSchool.privateKey, SCHOOL],
      ['expired before the iat', keys.expired.privateKey, SCHOOL],
      ['issuer of SCHOOL, list of another school', campus.issuer.privateKey, OTHER_SCHOOL],
    ];
    for (const [why, signer, school] of attempts) {
      const bytes = await statusList(signer, 2, { revoked: { 1: 1 }, school });
      expect(v.loadStatusList(bytes, { now: T0 }), why).toMatchObject({
        ok: false,
        material: 'statusList',
        reason: 'UNKNOWN_ISSUER',
        coreCode: 'ERR_UNKNOWN_ISSUER',
      });
      const status = v.status(T0);
      expect(Object.keys(status.statusLists), why).toEqual([SCHOOL]);
      expect(status.statusLists[SCHOOL], why).toMatchObject({ version: 1 });
      expect(await scanFull(v, VICTIM), why).toMatchObject({ accepted: true });
    }
    // controls: the same kind of list signed by a key allowed to sign it is accepted
    const bySchoolKey = await statusList(keys.otherSchool.privateKey, 1, { school: OTHER_SCHOOL });
    expect(v.loadStatusList(bySchoolKey, { now: T0 })).toMatchObject({ ok: true, school: OTHER_SCHOOL });
    const byStatusKey = await statusList(keys.statusOnly.privateKey, 2, { revoked: { 1: 1 } });
    expect(v.loadStatusList(byStatusKey, { now: T0 })).toMatchObject({ ok: true, version: 2 });
    expect(await scanFull(v, VICTIM)).toMatchObject({ accepted: false, reason: 'REVOKED' });
  });
});

describe('roster loading: signature and signer', () => {
  it('refuses a tampered signature or payload (BAD_SIGNATURE) and keeps the held roster', async () => {
    const v = await loaded();
    expect((await scanCompact(v, VICTIM)).accepted).toBe(true);
    const good = await roster(campus.issuer.privateKey, 2, { without: [VICTIM] });
    for (const bad of [flipSignature(good), flipPayload(good, decodeRoster)]) {
      expect(v.loadRoster(bad, { now: T0 })).toMatchObject({
        ok: false,
        material: 'roster',
        reason: 'BAD_SIGNATURE',
        coreCode: 'ERR_SIGNATURE_INVALID',
      });
      expect(v.status(T0).roster).toMatchObject({ version: 1, school: SCHOOL });
      expect(await scanCompact(v, VICTIM)).toMatchObject({
        accepted: true,
        audit: { roster: { version: 1 } },
      });
    }
    expect(v.loadRoster(good, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: true });
    expect(v.status(T0).roster).toMatchObject({ version: 2 });
    expect(await scanCompact(v, VICTIM)).toMatchObject({ accepted: false, reason: 'UNKNOWN_CARD' });
  });

  it('refuses a roster validly signed by a key that may not sign it (UNKNOWN_ISSUER) and keeps the held roster', async () => {
    const v = await loaded();
    const attempts: Array<[string, PrivateKey]> = [
      ['not in the trust list', keys.stranger.privateKey],
      ['credentials only', keys.credOnly.privateKey],
      ['status lists only', keys.statusOnly.privateKey],
      ['another school', keys.otherSchool.privateKey],
      ['expired before the iat', keys.expired.privateKey],
    ];
    for (const [why, signer] of attempts) {
      const bytes = await roster(signer, 2, { without: [VICTIM] });
      expect(v.loadRoster(bytes, { now: T0 }), why).toMatchObject({
        ok: false,
        material: 'roster',
        reason: 'UNKNOWN_ISSUER',
        coreCode: 'ERR_UNKNOWN_ISSUER',
      });
      expect(v.status(T0).roster, why).toMatchObject({ version: 1, school: SCHOOL });
      expect(await scanCompact(v, VICTIM), why).toMatchObject({ accepted: true });
      const tap = await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0, reader: gate });
      expect(tap, why).toMatchObject({ accepted: true, cardId: '2024010002' });
    }
    // control: a roster key may sign it
    const byRosterKey = await roster(keys.rosterOnly.privateKey, 2, { without: [VICTIM] });
    expect(v.loadRoster(byRosterKey, { now: T0 })).toMatchObject({ ok: true, version: 2 });
    expect(await scanCompact(v, VICTIM)).toMatchObject({ accepted: false, reason: 'UNKNOWN_CARD' });
  });
});

describe('rollback', () => {
  it('roster: an older version, or the same version with other bytes, is refused; a newer one is accepted', async () => {
    const v = await loaded();
    const sign = campus.issuer.privateKey;
    const v1 = await roster(sign, 1); // the bytes `loaded` installed
    const v2 = await roster(sign, 2, { without: [VICTIM] });
    expect(v.loadRoster(v2, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: true });
    expect(await scanCompact(v, VICTIM)).toMatchObject({ accepted: false, reason: 'UNKNOWN_CARD' });

    const refusals: Array<[string, Uint8Array]> = [
      ['v1 again', v1],
      ['v1 signed later', await roster(sign, 1, { iat: T0 - 10 })],
      ['v2 with other bytes', await roster(sign, 2)],
      ['v2 with another iat', await roster(sign, 2, { iat: T0 - 10, without: [VICTIM] })],
    ];
    for (const [why, bytes] of refusals) {
      expect(v.loadRoster(bytes, { now: T0 }), why).toMatchObject({
        ok: false,
        material: 'roster',
        reason: 'ROLLBACK',
        coreCode: 'ERR_ROLLBACK',
      });
      expect(v.status(T0).roster, why).toMatchObject({ version: 2, iat: T0 - 300 });
      expect(await scanCompact(v, VICTIM), why).toMatchObject({ accepted: false, reason: 'UNKNOWN_CARD' });
    }
    // the bytes held are a no-op; a newer version is accepted
    expect(v.loadRoster(v2, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: false });
    expect(v.loadRoster(await roster(sign, 3), { now: T0 })).toMatchObject({
      ok: true,
      version: 3,
      changed: true,
    });
    expect(v.status(T0).roster).toMatchObject({ version: 3 });
    expect(await scanCompact(v, VICTIM)).toMatchObject({ accepted: true, audit: { roster: { version: 3 } } });
  });

  it('status list: an older version, or the same version with other bytes, is refused; a newer one is accepted', async () => {
    const v = await loaded();
    const sign = campus.issuer.privateKey;
    const v1 = await statusList(sign, 1);
    const v2 = await statusList(sign, 2, { revoked: { 1: 1 } });
    expect(v.loadStatusList(v2, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: true });
    expect(await scanFull(v, VICTIM)).toMatchObject({ accepted: false, reason: 'REVOKED' });

    const refusals: Array<[string, Uint8Array]> = [
      ['v1 again', v1],
      ['v1 signed later', await statusList(sign, 1, { iat: T0 - 10 })],
      ['v2 with other bytes', await statusList(sign, 2)],
      ['v2 with another iat', await statusList(sign, 2, { iat: T0 - 10, revoked: { 1: 1 } })],
      ['v2 by another allowed key', await statusList(keys.statusOnly.privateKey, 2)],
    ];
    for (const [why, bytes] of refusals) {
      expect(v.loadStatusList(bytes, { now: T0 }), why).toMatchObject({
        ok: false,
        material: 'statusList',
        reason: 'ROLLBACK',
        coreCode: 'ERR_ROLLBACK',
      });
      expect(v.status(T0).statusLists[SCHOOL], why).toMatchObject({ version: 2, iat: T0 - 300 });
      expect(await scanFull(v, VICTIM), why).toMatchObject({ accepted: false, reason: 'REVOKED' });
    }
    expect(v.loadStatusList(v2, { now: T0 })).toMatchObject({ ok: true, version: 2, changed: false });
    expect(v.loadStatusList(await statusList(sign, 3), { now: T0 })).toMatchObject({
      ok: true,
      version: 3,
      changed: true,
    });
    expect(v.status(T0).statusLists[SCHOOL]).toMatchObject({ version: 3 });
    expect(await scanFull(v, VICTIM)).toMatchObject({
      accepted: true,
      audit: { statusList: { version: 3 } },
    });
  });

  it('status list versions are held per school', async () => {
    const v = await loaded();
    expect(v.loadStatusList(await statusList(campus.issuer.privateKey, 5), { now: T0 }).ok).toBe(true);
    // another school's v1 is not a rollback of SCHOOL's v5
    const other1 = await statusList(keys.otherSchool.privateKey, 1, { school: OTHER_SCHOOL });
    expect(v.loadStatusList(other1, { now: T0 })).toMatchObject({
      ok: true,
      version: 1,
      school: OTHER_SCHOOL,
    });
    const other0 = await statusList(keys.otherSchool.privateKey, 0, { school: OTHER_SCHOOL });
    expect(v.loadStatusList(other0, { now: T0 })).toMatchObject({ ok: false, reason: 'ROLLBACK' });
    expect(v.status(T0).statusLists).toMatchObject({
      [SCHOOL]: { version: 5 },
      [OTHER_SCHOOL]: { version: 1 },
    });
  });

  it('the refusal survives a snapshot and restore (reboot)', async () => {
    const v = await loaded();
    const sign = campus.issuer.privateKey;
    expect(v.loadStatusList(await statusList(sign, 2, { revoked: { 1: 1 } }), { now: T0 }).ok).toBe(true);
    expect(v.loadRoster(await roster(sign, 2, { without: [VICTIM] }), { now: T0 }).ok).toBe(true);
    const snap = v.snapshot({ now: T0 + 10 });

    const rebooted = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    rebooted.restore(snap, { now: T0 + 20 });
    expect(rebooted.loadTrustList(tl1, { now: T0 + 20 }).ok).toBe(true);
    expect(rebooted.loadStatusList(await statusList(sign, 1), { now: T0 + 20 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(rebooted.loadRoster(await roster(sign, 1), { now: T0 + 20 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(rebooted.status(T0 + 20)).toMatchObject({ statusLists: {}, roster: null });
    expect(rebooted.loadRoster(await roster(sign, 3), { now: T0 + 20 })).toMatchObject({
      ok: true,
      version: 3,
    });
  });

  it('material loaded before a restore that the snapshot has seen a newer version of is dropped, not kept in use', async () => {
    const v = await loaded();
    const sign = campus.issuer.privateKey;
    expect(v.loadStatusList(await statusList(sign, 2, { revoked: { 1: 1 } }), { now: T0 }).ok).toBe(true);
    expect(v.loadRoster(await roster(sign, 2, { without: [VICTIM] }), { now: T0 }).ok).toBe(true);
    const snap = v.snapshot({ now: T0 + 10 });

    // boot in the wrong order: the old copies from disk first (the victim not yet revoked), then the state
    const rebooted = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    expect(rebooted.loadTrustList(tl1, { now: T0 + 20 }).ok).toBe(true);
    expect(rebooted.loadStatusList(await statusList(sign, 1), { now: T0 + 20 }).ok).toBe(true);
    expect(rebooted.loadRoster(await roster(sign, 1), { now: T0 + 20 }).ok).toBe(true);
    rebooted.restore(snap, { now: T0 + 20 });
    // a rollback the restore would otherwise have let in: the revoked card admitted
    expect(rebooted.status(T0 + 20)).toMatchObject({ statusLists: {}, roster: null });
    expect(
      await rebooted.verify(await campus.code(VICTIM, T0 + 20), { now: T0 + 20, reader: gate }),
    ).toMatchObject({
      accepted: false,
      reason: 'NO_STATUS_LIST',
    });
    // the trust list of the same version and bytes stays
    expect(rebooted.status(T0 + 20).trustList).toMatchObject({ version: 1 });
  });
});

describe('school ids are data, not property names', () => {
  it('status lists and rosters of schools named like Object.prototype members load, refuse rollbacks and survive a snapshot', async () => {
    const schools = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const tl = await signTrustList(
      {
        version: 1,
        iat: T0 - 3600,
        authority: 'platform',
        keys: [
          {
            key: campus.issuer.publicKey,
            roles: ['teacher', 'student', 'parent'],
            nbf: T0 - 86_400,
            exp: T0 + 86_400,
            schools,
          },
        ],
      },
      campus.root.privateKey,
    );
    const list = (school: string, version: number) =>
      signStatusList(
        { school, version, iat: T0 - 600 + version, statuses: [0, 0] },
        campus.issuer.privateKey,
      );
    const roster = (school: string, version: number) =>
      signRoster({ school, version, iat: T0 - 600 + version, cards: [] }, campus.issuer.privateKey);
    const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    expect(v.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    for (const school of schools) {
      expect([school, v.loadStatusList(await list(school, 2), { now: T0 })]).toMatchObject([
        school,
        { ok: true, version: 2 },
      ]);
      expect([school, v.loadStatusList(await list(school, 1), { now: T0 })]).toMatchObject([
        school,
        { ok: false, reason: 'ROLLBACK' },
      ]);
    }
    expect(v.loadRoster(await roster('__proto__', 3), { now: T0 })).toMatchObject({ ok: true, version: 3 });
    expect(Object.getPrototypeOf({})).toBe(Object.prototype); // nothing leaked onto Object.prototype
    expect(Object.keys(v.status(T0).statusLists).sort()).toEqual([...schools].sort());
    // the marks cross a reboot
    const after = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend });
    after.restore(v.snapshot({ now: T0 }), { now: T0 });
    expect(after.loadTrustList(tl, { now: T0 }).ok).toBe(true);
    for (const school of schools) {
      expect([school, after.loadStatusList(await list(school, 1), { now: T0 })]).toMatchObject([
        school,
        { ok: false, reason: 'ROLLBACK' },
      ]);
    }
    expect(after.loadRoster(await roster('__proto__', 2), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
  });
});
