/**
 * The verifier plan's stateful sequences: replay, anti-passback, rollback, revocation after a
 * sync, and the field failure modes of issue 7 (stale trust material, a clock set back, a list
 * signed in the future). Material is made at run time by `./fixtures.ts`.
 *
 * @module
 */
import { type ConditionMeta, failed, passed, type Verdict, warning } from '../model.js';
import type { ModuleContext, ModuleDef } from '../runner.js';
import { code, compactCode, DAY, highSTwin, rootJwk, roster, statusList, T0, trustList } from './fixtures.js';
import { describe, type HarnessClient, type VerifyOutcome } from './harness-client.js';
import type { HarnessOptions, HarnessReader } from './protocol.js';
import { type Vector, validVectorsReplayed } from './vectors.js';

/** The reader options of every scenario (sent at `reset`), seconds. */
export const SCENARIO_OPTIONS: HarnessOptions = {
  maxAge: 90,
  maxFuture: 30,
  clockSkew: 30,
  maxStaleness: { trustList: 30 * DAY, statusList: DAY, roster: 7 * DAY },
  floorTolerance: 300,
  maxFutureSignedTime: 300,
};

/** PASSED when accepted. */
export function expectAccepted(d: VerifyOutcome, what = 'the code'): Verdict {
  return d.accepted ? passed() : failed(`${what} was ${describe(d)}; it must be accepted`);
}

/** PASSED when denied with `reason`; WARNING when denied with another; FAILED when accepted. */
export function expectDenied(d: VerifyOutcome, reason: string, why: string): Verdict {
  if (d.accepted) return failed(`accepted; must be denied ${reason}: ${why}`);
  return d.reason === reason ? passed() : warning(`denied ${d.reason}, expected ${reason}`);
}

/** A fresh reader holding trust list v1 and status list v1, both recent at `now`. */
async function standardReader(h: HarnessClient, now: number): Promise<void> {
  await h.reset([rootJwk()], SCENARIO_OPTIONS);
  await h.mustLoad('trustList', await trustList(1, now - 3600), now);
  await h.mustLoad('statusList', await statusList(1, now - 600), now);
}

const NEEDS_SNAPSHOT =
  'the harness does not declare the "snapshot" capability; the replay window, the trusted-time floor and the held versions must survive a reboot (issue 7 §2)';

/** Runs `fn` after a reboot (snapshot at `then`, restore at `now`); FAILED without the capability. */
async function reboot(h: HarnessClient, then: number, now: number): Promise<Verdict | undefined> {
  if (!h.capabilities.has('snapshot')) return failed(NEEDS_SNAPSHOT);
  const state = await h.snapshot(then);
  await h.restore(state, now);
  return undefined;
}

/** A reboot (snapshot at `then`, restore at `now`), then the standard reader's material loaded again. */
async function rebootAndSync(h: HarnessClient, then: number, now: number): Promise<Verdict | undefined> {
  const r = await reboot(h, then, now);
  if (r !== undefined) return r;
  await h.mustLoad('trustList', await trustList(1, T0 - 3600), now);
  await h.mustLoad('statusList', await statusList(1, T0 - 600), now);
  return undefined;
}

const m = (id: string, title: string, ...spec: string[]): ConditionMeta => ({ id, title, spec });

/** Replay window (token-format §7.3). */
export function replayModule(vectors: readonly Vector[]): ModuleDef<HarnessClient> {
  return {
    id: 'replay',
    title: 'One code, one use: the replay window (§7.3)',
    async run(ctx: ModuleContext, h: HarnessClient) {
      await standardReader(h, T0);
      const qr = await code(T0 - 5);
      await ctx.check(
        m('first-scan-accepted', 'A fresh valid code is accepted.', 'token-format §5.3'),
        async () => expectAccepted(await h.verify(qr, T0)),
      );
      await ctx.check(
        m(
          'second-scan-replayed',
          'The same code scanned again is denied REPLAYED.',
          'token-format §7.3',
          'token-format §5.3',
        ),
        async () => expectDenied(await h.verify(qr, T0 + 10), 'REPLAYED', 'a screenshot of a used code'),
      );
      await ctx.check(
        m(
          'new-code-same-card-accepted',
          "A new code of the same card (another nonce) is accepted: the replay key is the code's signed fields, not the card.",
          'token-format §7.3',
        ),
        async () =>
          expectAccepted(await h.verify(await code(T0 - 5, { nonce: 2 }), T0 + 12), 'a new code of the card'),
      );
      await ctx.check(
        m(
          'high-s-twin-replayed',
          'The high-S twin of a used code (same signed fields, other signature bytes) is denied REPLAYED: replay detection is not keyed on signature bytes.',
          'token-format §7.3',
          'token-format §2.3',
        ),
        async () => {
          const d = await h.verify(await highSTwin(T0 - 5), T0 + 15);
          if (!d.accepted && d.reason === 'BAD_SIGNATURE') {
            return failed(
              'denied BAD_SIGNATURE: high-S ECDSA signatures must verify (§2.3), and the twin must be REPLAYED',
            );
          }
          return expectDenied(d, 'REPLAYED', 'a high-S twin of a used code');
        },
      );
      await ctx.check(
        m(
          'replay-survives-reboot',
          'A code used before a reboot is still denied REPLAYED after it (the replay window is persisted).',
          'token-format §7.3',
          'issue 7 §2',
        ),
        async () => {
          const again = await code(T0 + 20, { nonce: 3 });
          const first = await h.verify(again, T0 + 25);
          if (!first.accepted) return failed(`setup: a fresh code was ${describe(first)}`);
          const r = await rebootAndSync(h, T0 + 26, T0 + 28);
          if (r !== undefined) return r;
          return expectDenied(await h.verify(again, T0 + 30), 'REPLAYED', 'a code used before the reboot');
        },
      );
      await ctx.check(
        m(
          'replay-held-for-the-whole-window',
          "A used code rescanned near the end of its validity (maxAge), before and after a reboot, is still denied REPLAYED: the replay window keeps an entry as long as the code's time window admits it, not a shorter time.",
          'token-format §7.3',
          'issue 7 §2',
        ),
        async () => {
          // t = T0 + 40 is admitted until T0 + 130 (maxAge 90): rescans at T0 + 125 and, after a
          // reboot, at T0 + 128 are inside its window; a store that forgets entries sooner reopens it
          const late = await code(T0 + 40, { nonce: 4 });
          const first = await h.verify(late, T0 + 45);
          if (!first.accepted) return failed(`setup: a fresh code was ${describe(first)}`);
          const before = expectDenied(
            await h.verify(late, T0 + 125),
            'REPLAYED',
            'a code used 80 s earlier, 5 s before its time window closes',
          );
          if (before.status !== 'PASSED') return before;
          const r = await rebootAndSync(h, T0 + 126, T0 + 127);
          if (r !== undefined) return r;
          return expectDenied(
            await h.verify(late, T0 + 128),
            'REPLAYED',
            'a code used before the reboot, 2 s before its time window closes',
          );
        },
      );
      await ctx.check(
        m(
          'valid-vectors-replayed',
          'Every valid vector, scanned a second time, is denied REPLAYED.',
          'token-format §7.3',
          'token-format §10',
        ),
        () => validVectorsReplayed(vectors)(h),
      );
    },
  };
}

const LIBRARY_POLICY = {
  id: 'library',
  rules: [{ kind: 'antiPassback', id: 'apb-library', zone: 'library', minReentrySeconds: 0 }],
};
const LIBRARY_IN: HarnessReader = {
  id: 'library-in',
  policy: LIBRARY_POLICY,
  direction: 'in',
  zone: 'library',
};
const LIBRARY_OUT: HarnessReader = {
  id: 'library-out',
  policy: LIBRARY_POLICY,
  direction: 'out',
  zone: 'library',
};

/** Anti-passback (reader policies, capability `policies`). */
export const antiPassbackModule: ModuleDef<HarnessClient> = {
  id: 'anti-passback',
  title: 'Anti-passback: no second entry without an exit (reader policies)',
  async run(ctx, h) {
    const conditions = [
      m('entry-accepted', 'A card enters the zone.', 'token-format §5.3 step 6'),
      m(
        'second-entry-denied',
        'A second entry without an exit is denied POLICY_DENIED.',
        'token-format §5.3 step 6',
      ),
      m('exit-accepted', 'The card leaves the zone.', 'token-format §5.3 step 6'),
      m('re-entry-accepted', 'After the exit it may enter again.', 'token-format §5.3 step 6'),
    ] as const;
    if (!h.capabilities.has('policies')) {
      for (const c of conditions) ctx.skip(c, 'the harness does not declare the "policies" capability');
      return;
    }
    await standardReader(h, T0);
    await ctx.check(conditions[0], async () =>
      expectAccepted(await h.verify(await code(T0 - 5, { nonce: 10 }), T0, LIBRARY_IN)),
    );
    await ctx.check(conditions[1], async () =>
      expectDenied(
        await h.verify(await code(T0 + 5, { nonce: 11 }), T0 + 10, LIBRARY_IN),
        'POLICY_DENIED',
        'passback: the card is already inside',
      ),
    );
    await ctx.check(conditions[2], async () =>
      expectAccepted(await h.verify(await code(T0 + 15, { nonce: 12 }), T0 + 20, LIBRARY_OUT)),
    );
    await ctx.check(conditions[3], async () =>
      expectAccepted(await h.verify(await code(T0 + 25, { nonce: 13 }), T0 + 30, LIBRARY_IN)),
    );
  },
};

/** PASSED when the load was refused with `reason`; WARNING when refused with another; FAILED when loaded. */
export function expectRefused(
  r: { ok: boolean; reason: string | null },
  reason: string,
  what: string,
): Verdict {
  if (r.ok) return failed(`${what} was loaded; it must be refused ${reason}`);
  return r.reason === reason ? passed() : warning(`refused ${r.reason}, expected ${reason}`);
}

/** Rollback of trust material (token-format §7.1). */
export const rollbackModule: ModuleDef<HarnessClient> = {
  id: 'rollback',
  title: 'Trust material never goes back (§7.1)',
  async run(ctx, h) {
    const now = T0;
    await h.reset([rootJwk()], SCENARIO_OPTIONS);
    await h.mustLoad('trustList', await trustList(5, now - 3600, ['issuer', 'issuer2']), now);
    await h.mustLoad('statusList', await statusList(3, now - 600, 1), now);
    // roster v2 listed the card's second phone; v3 removed it (a lost phone)
    await h.mustLoad('roster', await roster(3, now - 300), now);
    await ctx.check(
      m(
        'older-trust-list-refused',
        'A trust list older than the one held (v4 after v5) is refused ROLLBACK.',
        'token-format §7.1',
        'token-format §3',
      ),
      async () =>
        expectRefused(
          await h.load('trustList', await trustList(4, now - 7200), now + 1),
          'ROLLBACK',
          'trust list v4',
        ),
    );
    await ctx.check(
      m(
        'same-version-other-bytes-refused',
        'A trust list of the same version with other bytes is refused ROLLBACK.',
        'token-format §3',
      ),
      async () =>
        expectRefused(
          await h.load('trustList', await trustList(5, now - 1800), now + 2),
          'ROLLBACK',
          'another trust list v5',
        ),
    );
    await ctx.check(
      m(
        'older-status-list-refused',
        'A status list older than the one held (v2 after v3) is refused ROLLBACK.',
        'token-format §7.1',
        'token-format §6.1',
      ),
      async () =>
        expectRefused(
          await h.load('statusList', await statusList(2, now - 1200, 0), now + 3),
          'ROLLBACK',
          'status list v2',
        ),
    );
    await ctx.check(
      m(
        'older-roster-refused',
        'A roster older than the one held (v2 after v3) is refused ROLLBACK: the phone key v3 removed does not come back.',
        'token-format §7.1',
        'token-format §6.2',
      ),
      async () =>
        expectRefused(
          await h.load('roster', await roster(2, now - 900, ['holder', 'holder2']), now + 4),
          'ROLLBACK',
          'roster v2',
        ),
    );
    await ctx.check(
      m(
        'same-version-roster-other-bytes-refused',
        'A roster of the same version with other bytes (v3 listing the removed phone key again) is refused ROLLBACK.',
        'token-format §7.1',
        'token-format §6.2',
      ),
      async () =>
        expectRefused(
          await h.load('roster', await roster(3, now - 200, ['holder', 'holder2']), now + 4),
          'ROLLBACK',
          'another roster v3',
        ),
    );
    await ctx.check(
      m(
        'last-good-copies-kept',
        'After refused rollbacks the reader still uses the last good copies: a card revoked in status list v3 stays REVOKED.',
        'token-format §7.1',
      ),
      async () =>
        expectDenied(
          await h.verify(await code(now, { issuer: 'issuer2' }), now + 5),
          'REVOKED',
          'status list v3 revokes the card; v2 was refused',
        ),
    );
    await ctx.check(
      m(
        'removed-phone-key-stays-refused',
        'After the refused roster rollbacks the reader still uses roster v3: a compact code of the phone key it lists is accepted, one of the phone key it removed is denied UNKNOWN_CARD.',
        'token-format §7.1',
        'token-format §5.2',
      ),
      async () => {
        const kept = await h.verify(await compactCode(now), now + 5);
        if (!kept.accepted) {
          return failed(
            `a compact code of the phone key roster v3 lists was ${describe(kept)}: the last good roster must stay in use`,
          );
        }
        return expectDenied(
          await h.verify(await compactCode(now, { phone: 'holder2' }), now + 5),
          'UNKNOWN_CARD',
          'roster v3 removed the phone key; v2 and another v3 listing it were refused',
        );
      },
    );
    await ctx.check(
      m(
        'rollback-refused-after-reboot',
        'After a reboot, the older trust list is still refused ROLLBACK (held versions are persisted).',
        'token-format §7.1',
        'issue 7 §2',
      ),
      async () => {
        const r = await reboot(h, now + 6, now + 7);
        if (r !== undefined) return r;
        return expectRefused(
          await h.load('trustList', await trustList(4, now - 7200), now + 8),
          'ROLLBACK',
          'trust list v4 after a reboot',
        );
      },
    );
    await ctx.check(
      m(
        'roster-rollback-refused-after-reboot',
        'After a reboot, with the trust list reloaded but not the roster, roster v2 is still refused ROLLBACK (the roster version held is persisted, not read from the roster in memory).',
        'token-format §7.1',
        'issue 7 §2',
      ),
      async () => {
        const r = await reboot(h, now + 9, now + 10);
        if (r !== undefined) return r;
        await h.mustLoad('trustList', await trustList(5, now - 3600, ['issuer', 'issuer2']), now + 11);
        await h.mustLoad('statusList', await statusList(3, now - 600, 1), now + 11);
        return expectRefused(
          await h.load('roster', await roster(2, now - 900, ['holder', 'holder2']), now + 12),
          'ROLLBACK',
          'roster v2 after a reboot',
        );
      },
    );
  },
};

/** Revocation after a sync (token-format §6.1). */
export const revocationModule: ModuleDef<HarnessClient> = {
  id: 'revocation',
  title: 'Lost and revoked cards stop at the next sync (§6.1)',
  async run(ctx, h) {
    await standardReader(h, T0);
    await ctx.check(
      m('valid-before-sync', 'Before the sync, the card is accepted.', 'token-format §6.1'),
      async () => expectAccepted(await h.verify(await code(T0 - 5), T0)),
    );
    await ctx.check(
      m(
        'revoked-after-sync',
        'After a status list v2 marking the card revoked is loaded, its next code is denied REVOKED.',
        'token-format §6.1',
        'token-format §5.3',
      ),
      async () => {
        await h.mustLoad('statusList', await statusList(2, T0 + 50, 1), T0 + 60);
        return expectDenied(
          await h.verify(await code(T0 + 55, { nonce: 2 }), T0 + 60),
          'REVOKED',
          'status list v2 revokes the card',
        );
      },
    );
    await ctx.check(
      m(
        'lost-card-denied',
        'A card reported lost (status 2, suspended) is denied REVOKED.',
        'token-format §6.1',
      ),
      async () => {
        await h.mustLoad('statusList', await statusList(3, T0 + 100, 2), T0 + 110);
        return expectDenied(
          await h.verify(await code(T0 + 105, { nonce: 3 }), T0 + 110),
          'REVOKED',
          'status 2 (lost)',
        );
      },
    );
    await ctx.check(
      m(
        'found-card-restored',
        'When a later status list restores the card (status 0), it is accepted again.',
        'token-format §6.1',
      ),
      async () => {
        await h.mustLoad('statusList', await statusList(4, T0 + 150, 0), T0 + 160);
        return expectAccepted(await h.verify(await code(T0 + 155, { nonce: 4 }), T0 + 160));
      },
    );
    await ctx.check(
      m(
        'no-status-list-denied',
        'A reader that holds no status list for the school denies NO_STATUS_LIST (fail closed).',
        'token-format §6.1',
        'token-format §9',
      ),
      async () => {
        await h.reset([rootJwk()], SCENARIO_OPTIONS);
        await h.mustLoad('trustList', await trustList(1, T0 - 3600), T0);
        return expectDenied(
          await h.verify(await code(T0 - 5, { nonce: 5 }), T0),
          'NO_STATUS_LIST',
          'no status list held',
        );
      },
    );
  },
};

/** Bounded staleness (issue 7 §1). */
export const stalenessModule: ModuleDef<HarnessClient> = {
  id: 'staleness',
  title: 'Stale trust material is denied, naming the material (issue 7 §1)',
  async run(ctx, h) {
    const now = T0 + 40 * DAY;
    await ctx.check(
      m(
        'trust-list-within-max-age',
        'A trust list 29 days old (maximum 30) is usable.',
        'issue 7 §1',
        'token-format §7.1',
      ),
      async () => {
        await h.reset([rootJwk()], SCENARIO_OPTIONS);
        await h.mustLoad('trustList', await trustList(1, now - 29 * DAY), now);
        await h.mustLoad('statusList', await statusList(1, now - 600), now);
        return expectAccepted(await h.verify(await code(now - 5), now));
      },
    );
    await ctx.check(
      m(
        'trust-list-past-max-age',
        'A trust list 31 days old (maximum 30) makes every scan a denial TRUST_LIST_STALE.',
        'issue 7 §1',
        'issue 7 §4',
      ),
      async () => {
        await h.reset([rootJwk()], SCENARIO_OPTIONS);
        await h.mustLoad('trustList', await trustList(1, now - 31 * DAY), now);
        await h.mustLoad('statusList', await statusList(1, now - 600), now);
        return expectDenied(
          await h.verify(await code(now - 5, { nonce: 2 }), now),
          'TRUST_LIST_STALE',
          'the trust list is past its maximum age',
        );
      },
    );
    await ctx.check(
      m('status-list-within-max-age', 'A status list 23 hours old (maximum 1 day) is usable.', 'issue 7 §1'),
      async () => {
        await standardReader(h, T0);
        const at = T0 + 23 * 3600;
        return expectAccepted(await h.verify(await code(at - 5, { nonce: 3 }), at));
      },
    );
    await ctx.check(
      m(
        'status-list-stopped-refreshing-while-lost',
        'The card is reported lost after the last sync and the status list stops refreshing: two days later its code is denied STATUS_LIST_STALE, not admitted.',
        'issue 7 §1',
        'issue 7 §4',
        'token-format §6.1',
      ),
      async () => {
        await h.reset([rootJwk()], SCENARIO_OPTIONS);
        await h.mustLoad('trustList', await trustList(1, T0 - 3600), T0);
        await h.mustLoad('statusList', await statusList(1, T0, 0), T0);
        // status list v2 (T0 + 1 h) marks the card lost, but never reaches the reader
        const at = T0 + 2 * DAY;
        return expectDenied(
          await h.verify(await code(at - 5, { nonce: 4 }), at),
          'STATUS_LIST_STALE',
          'a lost card admitted because the reader had not synced',
        );
      },
    );
  },
};

/** The trusted-time floor (issue 7 §2). */
export const timeFloorModule: ModuleDef<HarnessClient> = {
  id: 'time-floor',
  title: 'A clock set back does not revive old codes: the trusted-time floor (issue 7 §2)',
  async run(ctx, h) {
    const back = T0 - DAY;
    await ctx.check(
      m(
        'clock-set-back-after-reboot',
        'After a reboot with the clock set back by a day, every scan is denied CLOCK_BEFORE_FLOOR (the floor is persisted).',
        'issue 7 §2',
        'issue 7 §4',
      ),
      async () => {
        await standardReader(h, T0);
        const first = await h.verify(await code(T0 - 5), T0);
        if (!first.accepted) return failed(`setup: a fresh code was ${describe(first)}`);
        const r = await reboot(h, T0 + 1, back);
        if (r !== undefined) return r;
        await h.load('trustList', await trustList(1, T0 - 3600), back);
        await h.load('statusList', await statusList(1, T0 - 600), back);
        // a code made by a phone whose clock agrees with the set-back device clock
        return expectDenied(
          await h.verify(await code(back - 5), back),
          'CLOCK_BEFORE_FLOOR',
          'the clock reads a day before the floor',
        );
      },
    );
    await ctx.check(
      m(
        'clock-set-back-while-running',
        'Without a reboot, a clock set back by a day is denied CLOCK_BEFORE_FLOOR too.',
        'issue 7 §2',
      ),
      async () => {
        await standardReader(h, T0);
        const first = await h.verify(await code(T0 - 5, { nonce: 2 }), T0);
        if (!first.accepted) return failed(`setup: a fresh code was ${describe(first)}`);
        return expectDenied(
          await h.verify(await code(back - 5, { nonce: 2 }), back),
          'CLOCK_BEFORE_FLOOR',
          'the clock reads a day before the floor',
        );
      },
    );
    await ctx.check(
      m('clock-corrected-admits', 'Once the clock is corrected, scans are admitted again.', 'issue 7 §2'),
      async () => expectAccepted(await h.verify(await code(T0 + 55, { nonce: 3 }), T0 + 60)),
    );
    await ctx.check(
      m(
        'small-drift-tolerated',
        'A clock 100 s below the floor (a status list signed 100 s ahead of the clock; tolerance 300 s) still admits.',
        'issue 7 §2',
      ),
      async () => {
        const at = T0 - 700;
        await h.reset([rootJwk()], SCENARIO_OPTIONS);
        await h.mustLoad('trustList', await trustList(1, T0 - 3600), at);
        await h.mustLoad('statusList', await statusList(1, T0 - 600), at);
        return expectAccepted(await h.verify(await code(at - 5, { nonce: 4 }), at));
      },
    );
    await ctx.check(
      m(
        'future-signed-list-does-not-move-floor',
        'A trust list and a status list signed a year in the future do not move the floor: scans at the true time are still admitted.',
        'issue 7 §2',
        'issue 7 §4',
      ),
      async () => {
        await standardReader(h, T0);
        const future = T0 + 365 * DAY;
        await h.load('trustList', await trustList(2, future), T0);
        await h.load('statusList', await statusList(2, future, 0), T0);
        const d = await h.verify(await code(T0 + 5, { nonce: 5 }), T0 + 10);
        if (!d.accepted && d.reason === 'CLOCK_BEFORE_FLOOR') {
          return failed('denied CLOCK_BEFORE_FLOOR: a time signed a year ahead of the clock moved the floor');
        }
        return expectAccepted(d);
      },
    );
  },
};
