/**
 * Deliberately broken verifiers, to prove the verifier plan catches each flaw (issue 6 §6).
 */
import { bytesEqual } from '@campus-card/core';
import {
  createMemoryReplayStore,
  createVerifier,
  type Decision,
  type LoadResult,
  type Verifier,
  type VerifierOptions,
} from '@campus-card/verifier';
import type { HarnessHandler } from '../../src/conformance/verifier/connections.js';
import { SCHOOL } from '../../src/conformance/verifier/fixtures.js';
import { createReferenceHarness } from '../../src/conformance/verifier/reference-harness.js';

/** A verifier whose replay window says every code is fresh. */
export function acceptsReplays(options: VerifierOptions): Verifier {
  return createVerifier({ ...options, replayStore: { checkAndInsert: () => 'fresh' } });
}

/**
 * A harness whose verifier's replay window is shared across reboots (one store, as a Redis one is)
 * but forgets an entry 30 s after the code was used, instead of when the code's time window closes.
 * The store starts over at each `reset` (a new reader), as the reference harness's does.
 */
export function shortReplayWindowHarness(): HarnessHandler {
  let store = createMemoryReplayStore({ capacity: 10_000 });
  const inner = createReferenceHarness({
    createVerifier: (options: VerifierOptions) =>
      createVerifier({
        ...options,
        replayStore: {
          checkAndInsert: (digest, expiresAt, now) =>
            store.checkAndInsert(digest, Math.min(expiresAt, now + 30), now),
        },
      }),
  });
  return (message) => {
    if (message.op === 'reset') store = createMemoryReplayStore({ capacity: 10_000 });
    return inner(message);
  };
}

function admitting(options: VerifierOptions, ignored: ReadonlySet<string>): Verifier {
  const inner = createVerifier(options);
  return {
    ...inner,
    async verify(input, context) {
      const d: Decision = await inner.verify(input, context);
      if (d.accepted || !ignored.has(d.reason)) return d;
      return { ...d, accepted: true, warnings: [] } as unknown as Decision;
    },
  };
}

/** A verifier that never consults the status list (revoked, lost, missing or stale lists admit). */
export function ignoresStatusList(options: VerifierOptions): Verifier {
  return admitting(options, new Set(['REVOKED', 'NO_STATUS_LIST', 'STATUS_LIST_STALE']));
}

/** A verifier that ignores time: card validity, the code's time window, staleness and the floor. */
export function ignoresTime(options: VerifierOptions): Verifier {
  return admitting(
    options,
    new Set([
      'EXPIRED',
      'NOT_YET_VALID',
      'CODE_TOO_OLD',
      'CODE_FROM_FUTURE',
      'CLOCK_BEFORE_FLOOR',
      'TRUST_LIST_STALE',
      'STATUS_LIST_STALE',
      'ROSTER_STALE',
    ]),
  );
}

/** A verifier whose floor is moved by any signed time, however far in the future (no bound). */
export function unboundedFloor(options: VerifierOptions): Verifier {
  return createVerifier({ ...options, maxFutureSignedTime: Number.MAX_SAFE_INTEGER });
}

/**
 * A verifier that installs a roster it refuses as a rollback, when `installs(rosterHeld)` says so
 * (`rosterHeld`: it has installed a roster since it was made or restored). The roster goes into a
 * new verifier given the trust list and status lists loaded so far, as a reader that keeps no
 * version mark for its roster would install it.
 */
function installsRolledBackRosters(
  options: VerifierOptions,
  installs: (rosterHeld: boolean) => boolean,
): Verifier {
  let inner = createVerifier(options);
  let rosterHeld = false;
  const loaded: Array<(v: Verifier) => LoadResult> = [];
  const logged = (load: (v: Verifier) => LoadResult): LoadResult => {
    const r = load(inner);
    if (r.ok) loaded.push(load);
    return r;
  };
  return {
    loadTrustList: (bytes, at) => logged((v) => v.loadTrustList(bytes, at)),
    loadStatusList: (bytes, at) => logged((v) => v.loadStatusList(bytes, at)),
    loadRoster(bytes, at) {
      let r = inner.loadRoster(bytes, at);
      if (!r.ok && r.reason === 'ROLLBACK' && installs(rosterHeld)) {
        inner = createVerifier(options);
        for (const load of loaded) load(inner);
        r = inner.loadRoster(bytes, at);
      }
      if (r.ok) rosterHeld = true;
      return r;
    },
    verify: (input, context) => inner.verify(input, context),
    checkPolicy: (subject, context) => inner.checkPolicy(subject, context),
    snapshot: (at) => inner.snapshot(at),
    replayJournal: (bytes, at) => inner.replayJournal(bytes, at),
    markReplayWindowLost: (at) => inner.markReplayWindowLost(at),
    recordUse: (input, at) => inner.recordUse(input, at),
    restore(bytes, at) {
      inner.restore(bytes, at);
      rosterHeld = false;
    },
    status: (now) => inner.status(now),
  };
}

/** A verifier whose roster loading ignores versions: an older roster, or another of the version held, is installed. */
export function ignoresRosterVersions(options: VerifierOptions): Verifier {
  return installsRolledBackRosters(options, () => true);
}

/**
 * A verifier that compares a roster's version with the roster it holds in memory only, not with a
 * persisted mark: after a reboot, before its roster is loaded again, an older roster is installed.
 */
export function forgetsRosterVersionOnReboot(options: VerifierOptions): Verifier {
  return installsRolledBackRosters(options, (rosterHeld) => !rosterHeld);
}

/**
 * A verifier that holds one trust list at a time, whatever the root keys, as a reader written for a
 * single root does: a new list must be newer than the one held, whatever its authority, and replaces
 * it (the status lists and roster loaded so far are loaded again into the new reader, and its
 * persisted state carried over). It checks each list against its root's authority (the verifier's own
 * check), so only holding several lists at once is wrong.
 */
export function holdsOneTrustList(options: VerifierOptions): Verifier {
  let inner = createVerifier(options);
  let held: { bytes: Uint8Array; version: number } | undefined;
  const loaded: Array<(v: Verifier) => LoadResult> = [];
  const logged = (load: (v: Verifier) => LoadResult): LoadResult => {
    const r = load(inner);
    if (r.ok) loaded.push(load);
    return r;
  };
  return {
    loadTrustList(bytes, at) {
      if (held === undefined || bytesEqual(held.bytes, bytes)) {
        const r = inner.loadTrustList(bytes, at);
        if (r.ok) held = { bytes: Uint8Array.from(bytes), version: r.version };
        return r;
      }
      const fresh = createVerifier(options);
      fresh.restore(inner.snapshot(at), at);
      const r = fresh.loadTrustList(bytes, at);
      if (!r.ok) return r;
      if (r.version <= held.version) {
        return {
          ok: false,
          material: 'trustList',
          reason: 'ROLLBACK',
          coreCode: 'ERR_ROLLBACK',
          detail: `trust list version ${r.version} is not newer than the version ${held.version} held`,
        };
      }
      for (const load of loaded) load(fresh);
      inner = fresh;
      held = { bytes: Uint8Array.from(bytes), version: r.version };
      return r;
    },
    loadStatusList: (bytes, at) => logged((v) => v.loadStatusList(bytes, at)),
    loadRoster: (bytes, at) => logged((v) => v.loadRoster(bytes, at)),
    verify: (input, context) => inner.verify(input, context),
    checkPolicy: (subject, context) => inner.checkPolicy(subject, context),
    snapshot: (at) => inner.snapshot(at),
    replayJournal: (bytes, at) => inner.replayJournal(bytes, at),
    markReplayWindowLost: (at) => inner.markReplayWindowLost(at),
    recordUse: (input, at) => inner.recordUse(input, at),
    restore: (bytes, at) => inner.restore(bytes, at),
    status: (now) => inner.status(now),
  };
}

/**
 * A verifier that takes a single bare root key as the anchor of the platform and of the scenario
 * school, so that it holds their lists apart, one per authority, as if it had two roots: a list of
 * the other authority need not be newer, and does not replace the list the root signed before.
 * (Only the verifier plan's `single-root` and `authorities` modules make sense with it: other
 * authorities' lists of that root are refused.)
 */
export function bareRootPerAuthority(options: VerifierOptions): Verifier {
  const [only, ...rest] = options.rootKeys;
  if (only === undefined || rest.length > 0 || 'authority' in only) return createVerifier(options);
  return createVerifier({
    ...options,
    rootKeys: [
      { key: only, authority: 'platform' },
      { key: only, authority: SCHOOL },
    ],
  });
}
