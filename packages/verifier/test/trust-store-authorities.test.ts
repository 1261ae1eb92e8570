/**
 * One trust list per authority (spec §3, §7.1): a reader configured with the platform's root and
 * a school's holds both lists at once, each with its own version, rollback protection, first-load
 * time and staleness; a list of one authority never replaces or drops another's.
 */
import { createCompactPresentation, encodeQr, signRoster, type TrustAnchor } from '@campus-card/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createVerifier,
  createWebCryptoBackend,
  nobleBackend,
  type Verifier,
  type VerifierOptions,
} from '../src/index.js';
import { decodeVerifierState, encodeVerifierState } from '../src/snapshot.js';
import type { HeldVersions } from '../src/trust-store.js';
import {
  ANCHORS,
  code,
  DAY,
  gate,
  type ListOptions,
  OTHER,
  otherIssuer,
  phone,
  platformIssuer,
  platformList,
  platformRoot,
  SCHOOL,
  schoolIssuer,
  schoolList,
  schoolRoot,
  statusList,
  trustList,
} from './helpers/authorities.js';
import { T0 } from './helpers/fixtures.js';

function verifier(options: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({ rootKeys: ANCHORS, ...options });
}

/** Platform list v3 and school list v5 loaded, with the status lists of 10002 (platform) and 10001 (school). */
async function bothHeld(options: Partial<VerifierOptions> = {}, now = T0): Promise<Verifier> {
  const v = verifier(options);
  expect(v.loadTrustList(await platformList(3), { now })).toMatchObject({ ok: true, authority: 'platform' });
  expect(v.loadTrustList(await schoolList(5), { now })).toMatchObject({ ok: true, authority: SCHOOL });
  expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now })).toMatchObject({ ok: true });
  expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now })).toMatchObject({ ok: true });
  return v;
}

let platformCard: string;
let schoolCard: string;
beforeAll(async () => {
  platformCard = await code(platformIssuer, OTHER);
  schoolCard = await code(schoolIssuer, SCHOOL);
});

describe('the platform list (v3) and a school list (v5) held at once', () => {
  it('admits a platform card and a school card; status and audit show both lists', async () => {
    const v = await bothHeld();
    const a = await v.verify(platformCard, { now: T0, reader: gate });
    expect(a).toMatchObject({ accepted: true, school: OTHER });
    expect(a.audit).toMatchObject({
      trustList: { version: 3, iat: T0 - 3600 },
      trustListAuthority: 'platform',
      trustLists: { platform: { version: 3 }, [SCHOOL]: { version: 5 } },
    });
    const b = await v.verify(schoolCard, { now: T0, reader: gate });
    expect(b).toMatchObject({ accepted: true, school: SCHOOL });
    expect(b.audit).toMatchObject({ trustList: { version: 5 }, trustListAuthority: SCHOOL });
    const s = v.status(T0);
    expect(Object.keys(s.trustLists ?? {}).sort()).toEqual([SCHOOL, 'platform']);
    expect(s.trustLists).toMatchObject({
      platform: { version: 3, state: 'fresh' },
      [SCHOOL]: { version: 5, state: 'fresh' },
    });
    // the school list loaded first: the same lists held
    const w = verifier();
    expect(w.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    expect(w.loadTrustList(await platformList(3), { now: T0 }).ok).toBe(true);
    expect(w.status(T0).trustLists).toEqual(s.trustLists);
  });

  it("the platform's v4 loads after the school's v5, and replaces only the platform's v3", async () => {
    const v = await bothHeld();
    expect(v.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({
      ok: true,
      changed: true,
      authority: 'platform',
      version: 4,
      dropped: [],
    });
    expect(v.status(T0).trustLists).toMatchObject({ platform: { version: 4 }, [SCHOOL]: { version: 5 } });
    expect(await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
    });
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
    });
  });

  it('refuses a rollback per authority: lower version, same version with other bytes; same bytes is a no-op', async () => {
    const v = await bothHeld();
    const rollback = { ok: false, reason: 'ROLLBACK', coreCode: 'ERR_ROLLBACK' };
    expect(v.loadTrustList(await platformList(2), { now: T0 })).toMatchObject(rollback);
    expect(v.loadTrustList(await schoolList(4), { now: T0 })).toMatchObject(rollback);
    // same version, other bytes (another iat)
    expect(v.loadTrustList(await platformList(3, { iat: T0 - 60 }), { now: T0 })).toMatchObject(rollback);
    expect(v.loadTrustList(await schoolList(5, { iat: T0 - 60 }), { now: T0 })).toMatchObject(rollback);
    // the same bytes: nothing changes
    expect(v.loadTrustList(await platformList(3), { now: T0 })).toMatchObject({ ok: true, changed: false });
    // versions are compared within an authority only: the platform's 4 < the school's 5 loads
    expect(v.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({ ok: true, changed: true });
    expect(v.status(T0).trustLists).toMatchObject({ platform: { version: 4 }, [SCHOOL]: { version: 5 } });
  });

  it("a new list of one authority drops only what that authority's old keys alone admitted", async () => {
    const v = await bothHeld();
    // the platform's v4 trusts another issuer: its old issuer's status list (10002) goes; the
    // school's status list, vouched for by the school's list, stays
    const r = v.loadTrustList(await platformList(4, { issuers: [{ key: otherIssuer }] }), { now: T0 });
    expect(r).toMatchObject({ ok: true, dropped: [`statusList:${OTHER}`] });
    expect(Object.keys(v.status(T0).statusLists)).toEqual([SCHOOL]);
    expect(await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'UNKNOWN_ISSUER',
    });
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
    });
    // and the school's new list, dropping its issuer, drops the school's status list only
    const s = v.loadTrustList(await schoolList(6, { issuers: [{ key: otherIssuer }] }), { now: T0 });
    expect(s).toMatchObject({ ok: true, dropped: [`statusList:${SCHOOL}`] });
  });

  it('a status list that both lists vouch for stays while either does', async () => {
    const v = verifier();
    // the platform's list also trusts the school's issuer for 10001
    const issuers = [{ key: platformIssuer }, { key: schoolIssuer, schools: [SCHOOL] }];
    expect(v.loadTrustList(await platformList(3, { issuers }), { now: T0 }).ok).toBe(true);
    expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
    expect(v.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({ ok: true, dropped: [] });
    expect(
      v.loadTrustList(await schoolList(6, { issuers: [{ key: otherIssuer }] }), { now: T0 }),
    ).toMatchObject({
      ok: true,
      dropped: [`statusList:${SCHOOL}`],
    });
  });
});

describe("a school's list speaks for its own school only, beside the platform's", () => {
  it("cannot admit its keys for another school's cards or status lists, nor for the platform's cards", async () => {
    const v = await bothHeld();
    // the school's issuer (schools empty in the school's list: 10001 only) signs a 10002 card;
    // the platform's list, where empty means any school, is held beside it and changes nothing
    expect(await v.verify(await code(schoolIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'ISSUER_NOT_ALLOWED_FOR_SCHOOL',
    });
    expect(
      v.loadStatusList(await statusList(OTHER, schoolIssuer, { version: 2 }), { now: T0 }),
    ).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_ISSUER',
    });
    // a list its root signs as the platform's is refused (the root anchors 10001 only)
    const forged = await trustList('platform', schoolRoot, 9, schoolIssuer, T0 - 60);
    expect(v.loadTrustList(forged, { now: T0 })).toMatchObject({ ok: false, reason: 'UNKNOWN_ISSUER' });
    expect(v.status(T0).trustLists).toMatchObject({ platform: { version: 3 }, [SCHOOL]: { version: 5 } });
  });
});

describe('staleness per authority', () => {
  const maxStaleness = { trustList: 10 * DAY, statusList: 100 * DAY, roster: 100 * DAY };

  async function stalePlatform(options: Partial<VerifierOptions> = {}, issuers?: ListOptions['issuers']) {
    const v = verifier({ maxStaleness, ...options });
    // the platform's list signed 20 days ago; the school's an hour ago
    const old = { iat: T0 - 20 * DAY, ...(issuers ? { issuers } : {}) };
    expect(v.loadTrustList(await platformList(3, old), { now: T0 - 20 * DAY }).ok).toBe(true);
    expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
    return v;
  }

  it("a stale platform list does not fail a school card the school's fresh list vouches for", async () => {
    const v = await stalePlatform();
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: SCHOOL },
    });
    const d = await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate });
    expect(d).toMatchObject({ accepted: false, reason: 'TRUST_LIST_STALE' });
    expect(v.status(T0).trustLists).toMatchObject({
      platform: { state: 'stale' },
      [SCHOOL]: { state: 'fresh' },
    });
    // the one-list field shows the list that needs a sync
    expect(v.status(T0).trustList).toMatchObject({ version: 3, state: 'stale' });
  });

  it('within the grace period: admitted with a warning, only for cards the stale list vouches for', async () => {
    const v = await stalePlatform({ stalenessGrace: { trustList: 30 * DAY } });
    expect(await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: 'platform', trustList: { version: 3 } },
    });
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      warnings: [],
    });
  });

  it('a key in both lists: the fresh list vouches for the card', async () => {
    const issuers = [{ key: platformIssuer }, { key: schoolIssuer, schools: [SCHOOL] }];
    const v = await stalePlatform({}, issuers);
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: SCHOOL, trustList: { version: 5 } },
    });
  });

  it('a card whose status list only the stale list vouches for is denied', async () => {
    const v = verifier({ maxStaleness });
    expect(v.loadTrustList(await platformList(3, { iat: T0 - 20 * DAY }), { now: T0 - 20 * DAY }).ok).toBe(
      true,
    );
    expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    // the platform's issuer signs school 10001's status list
    expect(v.loadStatusList(await statusList(SCHOOL, platformIssuer), { now: T0 }).ok).toBe(true);
    expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'TRUST_LIST_STALE',
    });
  });

  it('every list stale: denied before the code is even decoded, as with one list', async () => {
    const v = verifier({ maxStaleness });
    expect(v.loadTrustList(await platformList(3), { now: T0 }).ok).toBe(true);
    expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    expect(await v.verify('not a code', { now: T0 + 20 * DAY, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'TRUST_LIST_STALE',
    });
  });

  it("a compact code: the list vouching for the roster counts, not the other authority's", async () => {
    const v = await stalePlatform();
    const roster = await signRoster(
      {
        school: SCHOOL,
        version: 1,
        iat: T0 - 600,
        cards: [
          {
            cardId: 'c-1',
            role: 'student',
            statusIndex: 1,
            keys: [phone.publicKey],
            uidHashes: [],
            groups: [],
            exp: T0 + 10 * DAY,
          },
        ],
      },
      schoolIssuer.privateKey,
    );
    expect(v.loadRoster(roster, { now: T0 }).ok).toBe(true);
    const compact = encodeQr(
      await createCompactPresentation(
        { cardId: 'c-1', t: T0, nonce: new Uint8Array([9, 9, 9, 9]) },
        phone.privateKey,
      ),
    );
    expect(await v.verify(compact, { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      mode: 'compact',
      audit: { trustListAuthority: SCHOOL },
    });
  });
});

describe('a card of an issuer no held list names, beside a stale list', () => {
  const maxStaleness = { trustList: 10 * DAY, statusList: 100 * DAY, roster: 100 * DAY };
  /** What the reader says of a card no list held admits: the newer list of a stale one may. */
  const unknownBesideStale = (stale: string) =>
    `${stale} is ${20 * DAY} s old (max ${10 * DAY} s), and no fresh trust list has the credential's issuer key id`;

  /**
   * The platform's list v3 fresh; school 10001's v5 signed `schoolAge` seconds before T0 (and
   * loaded then), with the status lists of 10002 (platform) and 10001 (school).
   */
  async function platformAndSchool(schoolAge: number, options: Partial<VerifierOptions>) {
    const v = verifier({ maxStaleness, ...options });
    const at = T0 - schoolAge;
    expect(v.loadTrustList(await schoolList(5, { iat: at }), { now: at }).ok).toBe(true);
    expect(v.loadTrustList(await platformList(3), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now: T0 }).ok).toBe(true);
    expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
    return v;
  }

  describe.each([
    ['noble (synchronous)', nobleBackend],
    ['WebCrypto (asynchronous)', createWebCryptoBackend(globalThis.crypto.subtle)],
  ])('with the %s backend', (_, backend) => {
    it("the school's list stale: TRUST_LIST_STALE naming it, not UNKNOWN_ISSUER (core code kept)", async () => {
      const v = await platformAndSchool(20 * DAY, { backend });
      const d = await v.verify(await code(otherIssuer, OTHER), { now: T0, reader: gate });
      expect(d).toMatchObject({
        accepted: false,
        reason: 'TRUST_LIST_STALE',
        coreCode: 'ERR_UNKNOWN_ISSUER',
        detail: unknownBesideStale(`trustList of ${SCHOOL} v5`),
      });
      // what a reader holding the stale school list alone says of the same card
      const alone = createVerifier({ rootKeys: [ANCHORS[1] as TrustAnchor], maxStaleness, backend });
      expect(
        alone.loadTrustList(await schoolList(5, { iat: T0 - 20 * DAY }), { now: T0 - 20 * DAY }).ok,
      ).toBe(true);
      expect(await alone.verify(await code(otherIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
        accepted: false,
        reason: 'TRUST_LIST_STALE',
      });
      // the fresh platform list still admits its cards
      expect(await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
        accepted: true,
        warnings: [],
      });
    });

    it("the platform's list stale, the school's fresh: TRUST_LIST_STALE naming the platform's", async () => {
      const v = verifier({ maxStaleness, backend });
      expect(v.loadTrustList(await platformList(3, { iat: T0 - 20 * DAY }), { now: T0 - 20 * DAY }).ok).toBe(
        true,
      );
      expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
      expect(await v.verify(await code(otherIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
        accepted: false,
        reason: 'TRUST_LIST_STALE',
        coreCode: 'ERR_UNKNOWN_ISSUER',
        detail: unknownBesideStale('trustList of platform v3'),
      });
    });

    it('both lists fresh: UNKNOWN_ISSUER', async () => {
      const v = await platformAndSchool(3600, { backend });
      expect(await v.verify(await code(otherIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
        accepted: false,
        reason: 'UNKNOWN_ISSUER',
        coreCode: 'ERR_UNKNOWN_ISSUER',
      });
    });

    it("the school's list within its grace: UNKNOWN_ISSUER, and its cards still admitted with the warning", async () => {
      const v = await platformAndSchool(20 * DAY, { backend, stalenessGrace: { trustList: 30 * DAY } });
      expect(v.status(T0).trustLists).toMatchObject({
        platform: { state: 'fresh' },
        [SCHOOL]: { state: 'grace' },
      });
      expect(await v.verify(await code(otherIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
        accepted: false,
        reason: 'UNKNOWN_ISSUER',
        coreCode: 'ERR_UNKNOWN_ISSUER',
      });
      expect(await v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate })).toMatchObject({
        accepted: true,
        warnings: ['TRUST_LIST_STALE'],
        audit: { trustListAuthority: SCHOOL },
      });
      expect(await v.verify(await code(platformIssuer, OTHER), { now: T0, reader: gate })).toMatchObject({
        accepted: true,
        warnings: [],
        audit: { trustListAuthority: 'platform' },
      });
    });
  });

  it('the issuer key dropped by a list loaded while the backend awaits: the same reasons', async () => {
    /** Scans a school card and, while WebCrypto answers, loads the school's v6 without its issuer. */
    async function droppedMidScan(platformAge: number) {
      const v = verifier({ maxStaleness, backend: createWebCryptoBackend(globalThis.crypto.subtle) });
      const at = T0 - platformAge;
      expect(v.loadTrustList(await platformList(3, { iat: at }), { now: at }).ok).toBe(true);
      expect(v.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
      expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
      const v6 = await schoolList(6, { issuers: [{ key: otherIssuer }] });
      const pending = v.verify(await code(schoolIssuer, SCHOOL), { now: T0, reader: gate });
      expect(v.loadTrustList(v6, { now: T0 })).toMatchObject({ ok: true, dropped: [`statusList:${SCHOOL}`] });
      const d = await pending;
      expect(d.audit).toMatchObject({ trustLists: { [SCHOOL]: { version: 6 } } });
      return d;
    }
    expect(await droppedMidScan(20 * DAY)).toMatchObject({
      accepted: false,
      reason: 'TRUST_LIST_STALE',
      coreCode: 'ERR_UNKNOWN_ISSUER',
      detail: unknownBesideStale('trustList of platform v3'),
    });
    expect(await droppedMidScan(3600)).toMatchObject({
      accepted: false,
      reason: 'UNKNOWN_ISSUER',
      coreCode: 'ERR_UNKNOWN_ISSUER',
    });
  });
});

describe('snapshots with lists of several authorities', () => {
  it('round-trips the version of each authority: a reboot reopens no rollback of either', async () => {
    const v = await bothHeld();
    expect(v.loadTrustList(await platformList(4), { now: T0 }).ok).toBe(true);
    const snap = v.snapshot({ now: T0 });
    const versions = decodeVerifierState(snap).versions;
    expect(versions.trustList).toBeUndefined();
    expect(Object.keys(versions.trustLists).sort()).toEqual([SCHOOL, 'platform']);
    const w = verifier();
    w.restore(snap, { now: T0 });
    const rollback = { ok: false, reason: 'ROLLBACK' };
    expect(w.loadTrustList(await platformList(3), { now: T0 })).toMatchObject(rollback);
    expect(w.loadTrustList(await schoolList(4), { now: T0 })).toMatchObject(rollback);
    expect(w.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({ ok: true });
    expect(w.loadTrustList(await schoolList(5), { now: T0 })).toMatchObject({ ok: true });
    // a restore never lowers what is held: an older snapshot changes nothing
    const older = verifier();
    expect(older.loadTrustList(await schoolList(2), { now: T0 }).ok).toBe(true);
    w.restore(older.snapshot({ now: T0 }), { now: T0 });
    expect(w.status(T0).trustLists).toMatchObject({ platform: { version: 4 }, [SCHOOL]: { version: 5 } });
  });

  /** `v`'s snapshot as the previous version wrote it: one `trustList` mark, no authority. */
  function previousFormat(v: Verifier, authority: string): Uint8Array {
    const state = decodeVerifierState(v.snapshot({ now: T0 }));
    const versions = {
      trustList: state.versions.trustLists[authority],
      statusLists: state.versions.statusLists,
      rosters: state.versions.rosters,
    } as unknown as HeldVersions;
    const bytes = encodeVerifierState({ ...state, versions });
    expect(new TextDecoder().decode(bytes)).not.toContain('trustLists');
    return bytes;
  }

  it("an old snapshot's mark is a floor for every authority until a list with its bytes is loaded", async () => {
    const old = verifier();
    const p3 = await platformList(3);
    expect(old.loadTrustList(p3, { now: T0 - 100 }).ok).toBe(true);
    const snap = previousFormat(old, 'platform');
    const v = verifier();
    v.restore(snap, { now: T0 });
    const rollback = { ok: false, reason: 'ROLLBACK' };
    // whose mark is unknown: the school's v1 and the platform's v2 are below it
    expect(v.loadTrustList(await schoolList(1), { now: T0 })).toMatchObject(rollback);
    expect(v.loadTrustList(await platformList(2), { now: T0 })).toMatchObject(rollback);
    // the school's v4 is above it
    expect(v.loadTrustList(await schoolList(4), { now: T0 })).toMatchObject({ ok: true });
    // the very bytes it names: the platform's; from now on it is the platform's mark only
    expect(v.loadTrustList(p3, { now: T0 })).toMatchObject({ ok: true, authority: 'platform' });
    expect(v.status(T0).trustLists?.platform).toMatchObject({ version: 3 });
    const w = verifier();
    expect(w.loadTrustList(await schoolList(1), { now: T0 }).ok).toBe(true);
    w.restore(snap, { now: T0 }); // the school's v1, held, is below the unknown mark: dropped
    expect(w.status(T0).trustLists).toEqual({});
    expect(w.loadTrustList(p3, { now: T0 }).ok).toBe(true);
    expect(w.loadTrustList(await schoolList(1), { now: T0 })).toMatchObject({ ok: true });
    expect(w.loadTrustList(await platformList(2), { now: T0 })).toMatchObject(rollback);
    const versions = decodeVerifierState(w.snapshot({ now: T0 })).versions;
    expect(versions.trustList).toBeUndefined();
    expect(versions.trustLists).toMatchObject({ platform: { version: 3 }, [SCHOOL]: { version: 1 } });
  });

  it("an old snapshot's mark belongs to the only authority the root keys anchor", async () => {
    const old = createVerifier({ rootKeys: [{ key: schoolRoot.publicKey, authority: SCHOOL }] });
    expect(old.loadTrustList(await schoolList(5), { now: T0 }).ok).toBe(true);
    const v = createVerifier({ rootKeys: [{ key: schoolRoot.publicKey, authority: SCHOOL }] });
    v.restore(previousFormat(old, SCHOOL), { now: T0 });
    const versions = decodeVerifierState(v.snapshot({ now: T0 })).versions;
    expect(versions.trustList).toBeUndefined();
    expect(versions.trustLists[SCHOOL]).toMatchObject({ version: 5 });
    expect(v.loadTrustList(await schoolList(4), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
  });

  it('a single bare root key behaves as before: one list, newer versions replace it, an old snapshot restores', async () => {
    const old = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(old.loadTrustList(await platformList(3), { now: T0 }).ok).toBe(true);
    const v = createVerifier({ rootKeys: [platformRoot.publicKey] });
    v.restore(previousFormat(old, 'platform'), { now: T0 });
    expect(v.loadTrustList(await platformList(2), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(v.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({
      ok: true,
      authority: 'platform',
    });
    expect(v.loadTrustList(await platformList(5), { now: T0 })).toMatchObject({ ok: true });
    expect(Object.keys(v.status(T0).trustLists ?? {})).toEqual(['platform']);
    expect(v.status(T0).trustList).toMatchObject({ version: 5 });
  });

  it('a single bare root key is one source: its list of another authority replaces the one held, and an older one is a rollback', async () => {
    // the one root signs a platform list and then a school list (an operator moving a gate to its
    // school's list): the platform list's issuer must not stay trusted through a list never replaced
    const v = createVerifier({ rootKeys: [platformRoot.publicKey] });
    expect(v.loadTrustList(await platformList(3), { now: T0 }).ok).toBe(true);
    const moved = await trustList(SCHOOL, platformRoot, 4, schoolIssuer);
    expect(v.loadTrustList(moved, { now: T0 })).toMatchObject({ ok: true, authority: SCHOOL });
    expect(Object.keys(v.status(T0).trustLists ?? {})).toEqual([SCHOOL]);
    expect(v.loadTrustList(await platformList(3), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(v.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    // and across a snapshot
    const w = createVerifier({ rootKeys: [platformRoot.publicKey] });
    w.restore(v.snapshot({ now: T0 }), { now: T0 });
    expect(w.loadTrustList(await platformList(4), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(w.loadTrustList(await platformList(5), { now: T0 })).toMatchObject({ ok: true });
    expect(Object.keys(w.status(T0).trustLists ?? {})).toEqual(['platform']);
  });

  it('minTrustListVersion applies to every authority and is not written into the snapshot', async () => {
    const v = verifier({ minTrustListVersion: 3 });
    expect(v.loadTrustList(await schoolList(2), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(v.loadTrustList(await platformList(2), { now: T0 })).toMatchObject({
      ok: false,
      reason: 'ROLLBACK',
    });
    expect(v.loadTrustList(await schoolList(3), { now: T0 })).toMatchObject({ ok: true });
    const versions = decodeVerifierState(v.snapshot({ now: T0 })).versions;
    expect(versions.trustList).toBeUndefined();
    expect(Object.keys(versions.trustLists)).toEqual([SCHOOL]);
  });
});

describe('property: what is held for each authority is the highest version loaded for it', () => {
  it('over any order of loads (and across a snapshot)', async () => {
    const signed = new Map<string, Uint8Array>();
    for (let n = 1; n <= 4; n++) {
      signed.set(`platform:${n}`, await platformList(n));
      signed.set(`${SCHOOL}:${n}`, await schoolList(n));
    }
    const load = fc.record({
      authority: fc.constantFrom('platform', SCHOOL),
      version: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(load, { maxLength: 10 }), (loads) => {
        const v = verifier();
        const highest: Record<string, number> = {};
        for (const { authority, version } of loads) {
          const r = v.loadTrustList(signed.get(`${authority}:${version}`) as Uint8Array, { now: T0 });
          const before = highest[authority];
          expect(r.ok).toBe(before === undefined || version >= before);
          highest[authority] = Math.max(before ?? 0, version);
        }
        const held = Object.fromEntries(
          Object.entries(v.status(T0).trustLists ?? {}).map(([a, s]) => [a, s.version]),
        );
        expect(held).toEqual(highest);
        // a verifier restored from its snapshot refuses every lower version of each authority
        const w = verifier();
        w.restore(v.snapshot({ now: T0 }), { now: T0 });
        for (const [authority, top] of Object.entries(highest)) {
          for (let n = 1; n < top; n++) {
            expect(w.loadTrustList(signed.get(`${authority}:${n}`) as Uint8Array, { now: T0 }).ok).toBe(
              false,
            );
          }
          expect(w.loadTrustList(signed.get(`${authority}:${top}`) as Uint8Array, { now: T0 }).ok).toBe(true);
        }
      }),
      { numRuns: 30, seed: 20260101 },
    );
  });
});
