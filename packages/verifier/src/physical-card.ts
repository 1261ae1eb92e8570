/**
 * Physical card taps (C5, G1): the card UID is looked up, hashed, in the synced roster.
 *
 * @module
 */
import { computeUidHash, type RosterCard, type RosterIndex } from '@campus-card/core';

/** A tap of a physical card: the UID bytes the reader got from the card (e.g. 4 or 7 bytes). */
export interface PhysicalCardTap {
  readonly uid: Uint8Array;
}

/** Whether `input` is a {@link PhysicalCardTap}. */
export function isPhysicalCardTap(input: unknown): input is PhysicalCardTap {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof Uint8Array) &&
    (input as { uid?: unknown }).uid instanceof Uint8Array
  );
}

/**
 * Finds the roster card of a tapped UID: `computeUidHash(roster school, uid)` (spec §6.2), then
 * the roster index. `undefined` when the UID is not linked to any card of the roster.
 */
export function findPhysicalCard(roster: RosterIndex, uid: Uint8Array): RosterCard | undefined {
  if (uid.length === 0) return undefined;
  return roster.byUidHash(computeUidHash(roster.roster.school, uid));
}
