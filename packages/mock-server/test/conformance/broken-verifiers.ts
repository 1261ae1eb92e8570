/**
 * Deliberately broken verifiers, to prove the verifier plan catches each flaw (issue 6 §6).
 */
import {
  createMemoryReplayStore,
  createVerifier,
  type Decision,
  type Verifier,
  type VerifierOptions,
} from '@campus-card/verifier';
import type { HarnessHandler } from '../../src/conformance/verifier/connections.js';
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
