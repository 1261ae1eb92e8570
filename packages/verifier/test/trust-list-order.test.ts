/**
 * The order in which a verifier holding several trust lists has core try them: fresh lists first,
 * then those in their grace period, then the stale ones, each group in held order (platform first,
 * then schools by id). The order is built once for each material and each change of a list's rank,
 * and handed to core as the same array while neither changes: this file watches the array that
 * reaches core's `verifyPresentationEager` (wrapped, not replaced) as time crosses each list's
 * grace and staleness boundaries, and as a new list is loaded.
 */
import * as core from '@campus-card/core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createVerifier, type Decision, type Verifier } from '../src/index.js';
import {
  ANCHORS,
  code,
  DAY,
  gate,
  OTHER,
  type Pair,
  platformIssuer,
  platformList,
  SCHOOL,
  schoolIssuer,
  schoolList,
  statusList,
} from './helpers/authorities.js';
import { T0 } from './helpers/fixtures.js';

vi.mock('@campus-card/core', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@campus-card/core')>();
  return { ...actual, verifyPresentationEager: vi.fn(actual.verifyPresentationEager) };
});

const verifyPresentationEager = vi.mocked(core.verifyPresentationEager);

/** The trust lists core was given for the last scan that reached it. */
function listsGiven(): readonly core.TrustList[] {
  const options = verifyPresentationEager.mock.lastCall?.[1];
  if (options === undefined) throw new Error('no scan reached core');
  return options.trustList as readonly core.TrustList[];
}

const authorities = (lists: readonly core.TrustList[]) => lists.map((l) => l.authority);

/** A trust list is fresh for 10 days, then in its grace period for 5 more, then stale. */
const maxStaleness = { trustList: 10 * DAY, statusList: 100 * DAY, roster: 100 * DAY };
const stalenessGrace = { trustList: 5 * DAY };
/** The school issuer's key, in the platform's list (for school 10001) as in the school's own. */
const bothIssuers = [{ key: platformIssuer }, { key: schoolIssuer, schools: [SCHOOL] }];

let v: Verifier;
beforeAll(async () => {
  v = createVerifier({ rootKeys: ANCHORS, maxStaleness, stalenessGrace });
  // the platform's list signed 9 days before T0: fresh until T0 + 1 day, in its grace until
  // T0 + 6 days; the school's 5 days before T0: fresh until T0 + 5 days, in its grace until
  // T0 + 10 days. Both in their grace from T0 + 5 to T0 + 6 days
  const platform = await platformList(3, { iat: T0 - 9 * DAY, issuers: bothIssuers });
  expect(v.loadTrustList(platform, { now: T0 }).ok).toBe(true);
  expect(v.loadTrustList(await schoolList(5, { iat: T0 - 5 * DAY }), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await statusList(OTHER, platformIssuer), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await statusList(SCHOOL, schoolIssuer), { now: T0 }).ok).toBe(true);
});

/** A code of a card of `school` by `issuer`, shown and scanned at `now`. */
async function scan(issuer: Pair, school: string, now: number): Promise<Decision> {
  return v.verify(await code(issuer, school, now), { now, reader: gate });
}

// the steps run in order, on one verifier, as its clock moves forward
describe('trust lists in the order of their freshness, as time moves and lists load', () => {
  it('every list fresh: held order, the platform list first vouches for a key both name', async () => {
    expect(await scan(schoolIssuer, SCHOOL, T0)).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: 'platform', trustList: { version: 3 } },
    });
    expect(authorities(listsGiven())).toEqual(['platform', SCHOOL]);
  });

  it("the platform's list in its grace: the school's fresh list first; one array for scans at these ranks", async () => {
    expect(await scan(schoolIssuer, SCHOOL, T0 + 2 * DAY)).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: SCHOOL, trustList: { version: 5 } },
    });
    const order = listsGiven();
    expect(authorities(order)).toEqual([SCHOOL, 'platform']);
    expect(Object.isFrozen(order)).toBe(true);
    // a card only the platform's list vouches for: admitted with the warning
    expect(await scan(platformIssuer, OTHER, T0 + 3 * DAY)).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: 'platform' },
    });
    expect(listsGiven()).toBe(order);
    expect(await scan(schoolIssuer, SCHOOL, T0 + 4 * DAY)).toMatchObject({
      accepted: true,
      audit: { trustListAuthority: SCHOOL },
    });
    expect(listsGiven()).toBe(order);
  });

  it('both lists in their grace: held order again (same material, other ranks), each card with the warning', async () => {
    const now = T0 + 5 * DAY + DAY / 2;
    expect(await scan(schoolIssuer, SCHOOL, now)).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: 'platform', trustList: { version: 3 } },
    });
    expect(authorities(listsGiven())).toEqual(['platform', SCHOOL]);
    expect(await scan(platformIssuer, OTHER, now)).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: 'platform' },
    });
  });

  it("the platform's list stale, the school's in its grace: the school's first; the platform's cards denied", async () => {
    expect(await scan(schoolIssuer, SCHOOL, T0 + 7 * DAY)).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: SCHOOL },
    });
    const order = listsGiven();
    expect(authorities(order)).toEqual([SCHOOL, 'platform']);
    expect(await scan(platformIssuer, OTHER, T0 + 7 * DAY)).toMatchObject({
      accepted: false,
      reason: 'TRUST_LIST_STALE',
    });
    expect(listsGiven()).toBe(order);
  });

  it('new lists loaded: the order is built for each new material, at other ranks or the same', async () => {
    const now = T0 + 7 * DAY;
    const before = listsGiven();
    expect(
      v.loadTrustList(await platformList(4, { iat: now - 3600, issuers: bothIssuers }), { now }).ok,
    ).toBe(true);
    // the same time, the same rank for the school's list: the platform's v4 is fresh, and first
    expect(await scan(schoolIssuer, SCHOOL, now)).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: 'platform', trustList: { version: 4 } },
    });
    const after = listsGiven();
    expect(after).not.toBe(before);
    expect(authorities(after)).toEqual(['platform', SCHOOL]);
    expect(after.map((l) => l.version)).toEqual([4, 5]);
    expect(await scan(schoolIssuer, SCHOOL, T0 + 8 * DAY)).toMatchObject({ accepted: true, warnings: [] });
    expect(listsGiven()).toBe(after);
    // the school's v6, signed a minute after its v5: another material at the same ranks
    expect(v.loadTrustList(await schoolList(6, { iat: T0 - 5 * DAY + 60 }), { now: T0 + 8 * DAY }).ok).toBe(
      true,
    );
    expect(await scan(schoolIssuer, SCHOOL, T0 + 8 * DAY)).toMatchObject({ accepted: true, warnings: [] });
    expect(listsGiven().map((l) => `${l.authority} v${l.version}`)).toEqual(['platform v4', `${SCHOOL} v6`]);
    // the school's list stale: the platform's v4 still first
    expect(await scan(schoolIssuer, SCHOOL, T0 + 11 * DAY)).toMatchObject({
      accepted: true,
      warnings: [],
      audit: { trustListAuthority: 'platform' },
    });
    expect(authorities(listsGiven())).toEqual(['platform', SCHOOL]);
  });

  it("the platform's v4 in its grace, the school's stale: the platform's first, with the warning", async () => {
    expect(await scan(schoolIssuer, SCHOOL, T0 + 18 * DAY)).toMatchObject({
      accepted: true,
      warnings: ['TRUST_LIST_STALE'],
      audit: { trustListAuthority: 'platform', trustList: { version: 4 } },
    });
    expect(authorities(listsGiven())).toEqual(['platform', SCHOOL]);
  });

  it('every list stale: denied before the code reaches core', async () => {
    const calls = verifyPresentationEager.mock.calls.length;
    expect(await scan(schoolIssuer, SCHOOL, T0 + 23 * DAY)).toMatchObject({
      accepted: false,
      reason: 'TRUST_LIST_STALE',
    });
    expect(verifyPresentationEager.mock.calls.length).toBe(calls);
  });
});
