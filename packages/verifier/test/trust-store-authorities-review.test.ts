/**
 * Review of one trust list per authority (spec §3, §7.1): what a restore, a drop or a reload must
 * never let through, and what a single bare root key must keep doing as before.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../src/index.js';
import { decodeVerifierState } from '../src/snapshot.js';
import {
  ANCHORS,
  code,
  gate,
  OTHER,
  platformIssuer,
  platformRoot,
  SCHOOL,
  schoolIssuer,
  schoolRoot,
  statusList,
  trustList,
} from './helpers/authorities.js';
import { T0 } from './helpers/fixtures.js';

const scan = (v: Verifier, qr: string) => v.verify(qr, { now: T0, reader: gate });

let platformCard: () => Promise<string>;
beforeAll(() => {
  platformCard = () => code(platformIssuer, OTHER);
});

describe('a single bare root key is one source of lists, across a restore too', () => {
  it('a list loaded before the restore that the root has since replaced by another authority’s list is dropped', async () => {
    // the root signed the platform's v3, then moved its readers to school 10001's v4 (withdrawing
    // the platform list and its issuer): that is what the snapshot remembers
    const before = createVerifier({ rootKeys: [platformRoot.publicKey] });
    const p3 = await trustList('platform', platformRoot, 3, platformIssuer);
    expect(before.loadTrustList(p3, { now: T0 }).ok).toBe(true);
    expect(
      before.loadTrustList(await trustList(SCHOOL, platformRoot, 4, schoolIssuer), { now: T0 }),
    ).toMatchObject({ ok: true, authority: SCHOOL });
    const snap = before.snapshot({ now: T0 });

    // a reader that loaded an old stored copy (the platform's v3) before restoring: loaded after
    // the restore, that copy is a rollback; loaded before, it must not stay in use either
    const v = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(v.loadTrustList(p3, { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now: T0 }).ok).toBe(true);
    expect((await scan(v, await platformCard())).accepted).toBe(true);
    v.restore(snap, { now: T0 });
    expect(v.status(T0).trustLists).toEqual({});
    expect(await scan(v, await platformCard())).toMatchObject({ accepted: false, reason: 'NO_TRUST_LIST' });
    expect(v.loadTrustList(p3, { now: T0 })).toMatchObject({ ok: false, reason: 'ROLLBACK' });

    // and a school list held that the root's later platform list (v5) replaced
    const back = createVerifier({ rootKeys: [platformRoot.publicKey] });
    const s4 = await trustList(SCHOOL, platformRoot, 4, schoolIssuer);
    expect(back.loadTrustList(s4, { now: T0 }).ok).toBe(true);
    expect(
      back.loadTrustList(await trustList('platform', platformRoot, 5, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    const w = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(w.loadTrustList(s4, { now: T0 }).ok).toBe(true);
    w.restore(back.snapshot({ now: T0 }), { now: T0 });
    expect(w.status(T0).trustLists).toEqual({});
  });

  it('a restore keeps the list held when it is the newest the root signed', async () => {
    const before = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(
      before.loadTrustList(await trustList('platform', platformRoot, 3, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    const s4 = await trustList(SCHOOL, platformRoot, 4, schoolIssuer);
    expect(before.loadTrustList(s4, { now: T0 }).ok).toBe(true);
    const v = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(v.loadTrustList(s4, { now: T0 }).ok).toBe(true);
    v.restore(before.snapshot({ now: T0 }), { now: T0 });
    expect(v.status(T0).trustLists).toMatchObject({ [SCHOOL]: { version: 4 } });
    const p6 = await trustList('platform', platformRoot, 6, platformIssuer);
    expect(v.loadTrustList(p6, { now: T0 })).toMatchObject({ ok: true, authority: 'platform' });
  });
});

describe('lists of several authorities across a restore', () => {
  it('a list the snapshot refuses is dropped with what only it vouched for; its cached credentials go too', async () => {
    const before = createVerifier({ rootKeys: ANCHORS });
    expect(
      before.loadTrustList(await trustList('platform', platformRoot, 4, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    const snap = before.snapshot({ now: T0 });

    const v = createVerifier({ rootKeys: ANCHORS });
    expect(
      v.loadTrustList(await trustList('platform', platformRoot, 3, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    expect(v.loadTrustList(await trustList(SCHOOL, schoolRoot, 2, schoolIssuer), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
    // the platform card's credential is now in the cache
    const credential = await platformCard();
    expect((await scan(v, credential)).accepted).toBe(true);
    v.restore(snap, { now: T0 });
    expect(Object.keys(v.status(T0).trustLists ?? {})).toEqual([SCHOOL]);
    expect(Object.keys(v.status(T0).statusLists)).toEqual([SCHOOL]);
    expect(await scan(v, await platformCard())).toMatchObject({ accepted: false, reason: 'UNKNOWN_ISSUER' });
    expect(await scan(v, await code(schoolIssuer, SCHOOL))).toMatchObject({ accepted: true });
  });
});

describe('the audit of a denial after the credential was admitted, with several lists', () => {
  // The credential's issuer signature and limits passed (a trust list admitted it), and then the
  // status list revoked the card: the audit should name the list that admitted it, as it does with
  // one list held and for every denial made by the verifier itself (policy, replay): core's error
  // names the authority of the list that admitted the credential (`subject.issuerAuthority`).
  it('names the trust list that admitted a revoked card', async () => {
    const v = createVerifier({ rootKeys: ANCHORS });
    expect(
      v.loadTrustList(await trustList('platform', platformRoot, 3, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    expect(v.loadTrustList(await trustList(SCHOOL, schoolRoot, 2, schoolIssuer), { now: T0 }).ok).toBe(true);
    const revoked = new Array<number>(16).fill(0);
    revoked[1] = 1;
    expect(
      v.loadStatusList(await statusList(OTHER, platformIssuer, { statuses: revoked }), { now: T0 }).ok,
    ).toBe(true);
    const d = await scan(v, await platformCard());
    expect(d).toMatchObject({ accepted: false, reason: 'REVOKED', cardId: `card-${OTHER}` });
    expect(d.audit).toMatchObject({ trustListAuthority: 'platform', trustList: { version: 3 } });
  });
});

describe('a snapshot a rolled-back firmware can read', () => {
  it("with a single bare root, keeps the newest trust-list mark in the earlier format's field too", async () => {
    const v = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(
      v.loadTrustList(await trustList('platform', platformRoot, 3, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    expect(v.loadTrustList(await trustList(SCHOOL, platformRoot, 4, schoolIssuer), { now: T0 }).ok).toBe(
      true,
    );
    const versions = decodeVerifierState(v.snapshot({ now: T0 })).versions;
    // what a verifier of before one list per authority reads: its rollback floor
    expect(versions.trustList).toMatchObject({ version: 4 });
    expect(versions.trustLists[SCHOOL]).toMatchObject({ version: 4 });
    // and this version, restored from it, refuses what the root withdrew, takes what it holds
    const w = createVerifier({ rootKeys: [platformRoot.publicKey] });
    w.restore(v.snapshot({ now: T0 }), { now: T0 });
    expect(
      w.loadTrustList(await trustList('platform', platformRoot, 4, platformIssuer), { now: T0 }),
    ).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(w.loadTrustList(await trustList(SCHOOL, platformRoot, 4, schoolIssuer), { now: T0 }).ok).toBe(
      true,
    );
    expect(w.loadTrustList(await trustList(SCHOOL, platformRoot, 5, schoolIssuer), { now: T0 }).ok).toBe(
      true,
    );
  });

  it('with root keys bound to authorities, writes no authority-unknown mark', async () => {
    const v = createVerifier({ rootKeys: ANCHORS });
    expect(
      v.loadTrustList(await trustList('platform', platformRoot, 3, platformIssuer), { now: T0 }).ok,
    ).toBe(true);
    expect(decodeVerifierState(v.snapshot({ now: T0 })).versions.trustList).toBeUndefined();
  });
});
