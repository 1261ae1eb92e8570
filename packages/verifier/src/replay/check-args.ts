/**
 * Internal argument checks shared by the replay stores (not exported from the package).
 *
 * @module
 */
import { REPLAY_DIGEST_BYTES } from './replay-store.js';

/** Largest `expiresAt` a store accepts: the u32 range of the memory table (year 2106), unix seconds. */
export const MAX_EXPIRES_AT = 0xffff_ffff;

/** Throws `TypeError`/`RangeError` unless `digest` is a 16-byte `Uint8Array`. */
export function checkDigest(digest: unknown): asserts digest is Uint8Array {
  if (!(digest instanceof Uint8Array)) throw new TypeError('"digest" must be a Uint8Array');
  if (digest.length !== REPLAY_DIGEST_BYTES) {
    throw new RangeError(`"digest" must be ${REPLAY_DIGEST_BYTES} bytes, got ${digest.length}`);
  }
}

/** Throws unless `now` is a finite, non-negative number of seconds. */
export function checkNow(now: unknown): asserts now is number {
  if (typeof now !== 'number') throw new TypeError('"now" must be a number (unix seconds)');
  if (!(now >= 0 && now < Number.POSITIVE_INFINITY)) {
    throw new RangeError('"now" must be a finite, non-negative number of unix seconds');
  }
}

/**
 * Throws unless `now < expiresAt <= MAX_EXPIRES_AT`. An `expiresAt <= now` is a caller bug (the entry
 * would never be live, so the code could be accepted twice): see `ReplayStore`.
 */
export function checkExpiresAt(expiresAt: unknown, now: number): asserts expiresAt is number {
  if (typeof expiresAt !== 'number') throw new TypeError('"expiresAt" must be a number (unix seconds)');
  if (!(expiresAt > now && expiresAt <= MAX_EXPIRES_AT)) {
    throw new RangeError(`"expiresAt" must be after "now" and at most ${MAX_EXPIRES_AT}, got ${expiresAt}`);
  }
}
