/**
 * The verifier plan's trust-list authorities (token-format §3, §7.1): a reader given the platform's
 * root and a school's root, each bound to its authority, holds one trust list per authority; a
 * school's root never speaks for the platform or for another school; and a reader given one bare
 * root key has one source of lists, whatever authority they state.
 *
 * @module
 */
import { type ConditionMeta, failed, passed, type Verdict } from '../model.js';
import type { ModuleDef } from '../runner.js';
import {
  authorityTrustList,
  code,
  OTHER_SCHOOL,
  rootJwk,
  SCHOOL,
  schoolListNamingOtherSchool,
  schoolRootJwk,
  statusList,
  T0,
  trustList,
} from './fixtures.js';
import { describe, type HarnessClient, type LoadOutcome } from './harness-client.js';
import { expectAccepted, expectDenied, expectRefused, SCENARIO_OPTIONS } from './stateful.js';

const m = (id: string, title: string, ...spec: string[]): ConditionMeta => ({ id, title, spec });

/** PASSED when loaded; FAILED, naming the reason and `why`, when refused. */
function expectLoaded(r: LoadOutcome, what: string, why: string): Verdict {
  return r.ok ? passed() : failed(`${what} was refused ${r.reason ?? '(no reason)'}; it must load: ${why}`);
}

/** The first verdict that is not PASSED, else PASSED. */
function firstNotPassed(...verdicts: readonly Verdict[]): Verdict {
  return verdicts.find((v) => v.status !== 'PASSED') ?? passed();
}

const NEEDS_AUTHORITIES =
  'the harness does not declare the "authorities" capability (root keys given as { jwk, authority } at reset: token-format §3)';

/** The school's list of `version`: its root, its school, the second issuer and the status key. */
const schoolList = (version: number, iat: number) =>
  authorityTrustList(version, iat, { authority: SCHOOL, signer: 'schoolRoot' });

const AUTHORITIES = {
  platformAfterSchool: m(
    'platform-list-loads-after-school-list',
    "With the school's trust list v5 held, the platform's v4 loads: trust list versions are compared per authority.",
    'token-format §7.1',
    'token-format §3',
  ),
  platformCard: m(
    'platform-issued-card-accepted',
    "Both lists held: a card whose issuer only the platform's list names is accepted.",
    'token-format §3',
  ),
  schoolCard: m(
    'school-issued-card-accepted',
    "Both lists held: a card whose issuer only the school's list names is accepted.",
    'token-format §3',
  ),
  schoolRollback: m(
    'school-list-rollback-refused',
    "The school's v4 after its v5 is refused ROLLBACK, though the platform's list held is v4.",
    'token-format §7.1',
    'token-format §3',
  ),
  platformRollback: m(
    'platform-list-rollback-refused',
    "The platform's v3 after its v4, and another v4 with other bytes, are refused ROLLBACK.",
    'token-format §7.1',
    'token-format §3',
  ),
  newerSchoolList: m(
    'newer-school-list-keeps-platform-list',
    "The school's v6 replaces the school's v5 only: a card whose issuer only the platform's list names is still accepted.",
    'token-format §3',
  ),
  schoolRootForPlatform: m(
    'school-root-list-for-platform-refused',
    'A trust list stating "platform" signed by the school\'s root is refused UNKNOWN_ISSUER: that root anchors its school only.',
    'token-format §3',
    'token-format §9',
  ),
  schoolRootForOtherSchool: m(
    'school-root-list-for-other-school-refused',
    "A trust list stating another school, signed by the school's root, is refused UNKNOWN_ISSUER.",
    'token-format §3',
    'token-format §9',
  ),
  schoolListNamingOtherSchool: m(
    'school-list-naming-other-school-refused',
    "The school's own list (its authority, its root) whose entry names another school is refused BAD_FORMAT (core ERR_STRUCTURE).",
    'token-format §3',
    'token-format §9',
  ),
  lastGoodListsKept: m(
    'last-good-lists-kept',
    "After the refused lists, both authorities' lists are still in use: a platform-issued card and a school-issued card are accepted.",
    'token-format §7.1',
    'token-format §3',
  ),
} as const;

/**
 * Several authorities (token-format §3, §7.1; capability `authorities`): the platform's root and
 * the scenario school's root, each bound to its authority at `reset`.
 */
export const authoritiesModule: ModuleDef<HarnessClient> = {
  id: 'authorities',
  title: "One trust list per authority: the platform's and a school's, each from its own root (§3)",
  conditions: Object.values(AUTHORITIES),
  async run(ctx, h) {
    if (!h.capabilities.has('authorities')) {
      for (const c of Object.values(AUTHORITIES)) ctx.skip(c, NEEDS_AUTHORITIES);
      return;
    }
    const now = T0;
    const platformCard = (at: number, nonce: number) => code(at, { issuer: 'issuer', nonce });
    const schoolCard = (at: number, nonce: number) => code(at, { issuer: 'issuer2', nonce });
    await h.reset(
      [
        { jwk: rootJwk(), authority: 'platform' },
        { jwk: schoolRootJwk(), authority: SCHOOL },
      ],
      SCENARIO_OPTIONS,
    );
    await h.mustLoad('trustList', await schoolList(5, now - 3600), now);
    await ctx.check(AUTHORITIES.platformAfterSchool, async () =>
      expectLoaded(
        await h.load('trustList', await trustList(4, now - 3000), now),
        "the platform's trust list v4",
        "the school's v5 is another authority's list (§7.1)",
      ),
    );
    // the status key is in both lists: a reader holding either one loads it
    await h.mustLoad('statusList', await statusList(1, now - 600), now);
    await ctx.check(AUTHORITIES.platformCard, async () =>
      expectAccepted(await h.verify(await platformCard(now - 5, 20), now), 'a platform-issued card'),
    );
    await ctx.check(AUTHORITIES.schoolCard, async () =>
      expectAccepted(await h.verify(await schoolCard(now - 5, 21), now), 'a school-issued card'),
    );
    await ctx.check(AUTHORITIES.schoolRollback, async () =>
      expectRefused(
        await h.load('trustList', await schoolList(4, now - 7200), now + 1),
        'ROLLBACK',
        "the school's trust list v4",
      ),
    );
    await ctx.check(AUTHORITIES.platformRollback, async () =>
      firstNotPassed(
        expectRefused(
          await h.load('trustList', await trustList(3, now - 7200), now + 2),
          'ROLLBACK',
          "the platform's trust list v3",
        ),
        expectRefused(
          await h.load('trustList', await trustList(4, now - 1800), now + 2),
          'ROLLBACK',
          'another platform trust list v4',
        ),
      ),
    );
    await ctx.check(AUTHORITIES.newerSchoolList, async () => {
      const r = await h.load('trustList', await schoolList(6, now - 60), now + 3);
      if (!r.ok) return failed(`setup: the school's trust list v6 was refused ${r.reason ?? '(no reason)'}`);
      return expectAccepted(
        await h.verify(await platformCard(now + 3, 22), now + 4),
        "a platform-issued card, after the school's v6,",
      );
    });
    await ctx.check(AUTHORITIES.schoolRootForPlatform, async () =>
      expectRefused(
        await h.load(
          'trustList',
          await authorityTrustList(9, now - 60, { authority: 'platform', signer: 'schoolRoot' }),
          now + 5,
        ),
        'UNKNOWN_ISSUER',
        'a list stating "platform" signed by the school\'s root',
      ),
    );
    await ctx.check(AUTHORITIES.schoolRootForOtherSchool, async () =>
      expectRefused(
        await h.load(
          'trustList',
          await authorityTrustList(9, now - 60, { authority: OTHER_SCHOOL, signer: 'schoolRoot' }),
          now + 6,
        ),
        'UNKNOWN_ISSUER',
        `a list stating school ${OTHER_SCHOOL} signed by school ${SCHOOL}'s root`,
      ),
    );
    await ctx.check(AUTHORITIES.schoolListNamingOtherSchool, async () =>
      expectRefused(
        await h.load('trustList', await schoolListNamingOtherSchool(10, now - 60), now + 7),
        'BAD_FORMAT',
        `school ${SCHOOL}'s list naming school ${OTHER_SCHOOL} in an entry`,
      ),
    );
    await ctx.check(AUTHORITIES.lastGoodListsKept, async () => {
      const p = await h.verify(await platformCard(now + 8, 23), now + 10);
      if (!p.accepted) return failed(`a platform-issued card was ${describe(p)}; it must be accepted`);
      return expectAccepted(await h.verify(await schoolCard(now + 8, 24), now + 10), 'a school-issued card');
    });
  },
};

const SINGLE_ROOT = {
  notNewerRefused: m(
    'other-authority-list-not-newer-refused',
    "With one bare root key and its platform list v5 held, the root's list stating the school, v5, is refused ROLLBACK: one root is one source of lists, and a new list must be newer than every list it signed.",
    'token-format §3',
    'token-format §7.1',
  ),
  newerLoads: m(
    'newer-other-authority-list-loads',
    "The root's list stating the school, v6, loads.",
    'token-format §3',
  ),
  replacedNoLongerAdmits: m(
    'replaced-list-no-longer-admits',
    "The school's v6 replaced the platform's v5: a card whose issuer only v5 named is denied UNKNOWN_ISSUER.",
    'token-format §3',
    'token-format §5.3',
  ),
  newListAdmits: m(
    'new-list-admits',
    "A card whose issuer the school's v6 names is accepted.",
    'token-format §3',
  ),
  replacedNotReloaded: m(
    'replaced-list-not-reloaded',
    "The platform's v5 loaded again (the very bytes held before) is refused ROLLBACK: it is not newer than the root's v6.",
    'token-format §3',
    'token-format §7.1',
  ),
} as const;

/**
 * One bare root key (token-format §3): it anchors whatever authority its lists state, but it is one
 * source of lists. Every harness takes a bare root key, so this module needs no capability.
 */
export const singleRootModule: ModuleDef<HarnessClient> = {
  id: 'single-root',
  title: 'One bare root key, one source of trust lists, whatever authority they state (§3)',
  conditions: Object.values(SINGLE_ROOT),
  async run(ctx, h) {
    const now = T0;
    await h.reset([rootJwk()], SCENARIO_OPTIONS);
    const platformV5 = await trustList(5, now - 3600);
    await h.mustLoad('trustList', platformV5, now);
    await h.mustLoad('statusList', await statusList(1, now - 600), now);
    const schoolList = (version: number, iat: number) =>
      authorityTrustList(version, iat, { authority: SCHOOL, signer: 'root' });
    await ctx.check(SINGLE_ROOT.notNewerRefused, async () =>
      expectRefused(
        await h.load('trustList', await schoolList(5, now - 1800), now + 1),
        'ROLLBACK',
        `the root's list stating school ${SCHOOL}, v5`,
      ),
    );
    const loaded = await ctx.check(SINGLE_ROOT.newerLoads, async () =>
      expectLoaded(
        await h.load('trustList', await schoolList(6, now - 60), now + 2),
        `the root's list stating school ${SCHOOL}, v6`,
        'it is newer than every list the root signed before',
      ),
    );
    const needsV6 = (fn: () => Promise<Verdict>) => async () =>
      loaded.status === 'PASSED' ? fn() : failed("setup: the school's v6 was not loaded");
    await ctx.check(
      SINGLE_ROOT.replacedNoLongerAdmits,
      needsV6(async () =>
        expectDenied(
          await h.verify(await code(now + 2, { issuer: 'issuer', nonce: 30 }), now + 3),
          'UNKNOWN_ISSUER',
          "its issuer is only in the platform's v5, which the root's v6 replaced",
        ),
      ),
    );
    await ctx.check(
      SINGLE_ROOT.newListAdmits,
      needsV6(async () =>
        expectAccepted(
          await h.verify(await code(now + 2, { issuer: 'issuer2', nonce: 31 }), now + 3),
          "a card whose issuer the school's v6 names",
        ),
      ),
    );
    await ctx.check(
      SINGLE_ROOT.replacedNotReloaded,
      needsV6(async () =>
        expectRefused(
          await h.load('trustList', platformV5, now + 4),
          'ROLLBACK',
          "the platform's v5 (the bytes held before the root's v6)",
        ),
      ),
    );
  },
};
