/**
 * The replay-window contract (token format §7.3): one code, one use.
 *
 * @module
 */

/**
 * The answer of {@link ReplayStore.checkAndInsert}:
 * - `'fresh'`: the digest was not live; it is now recorded until its `expiresAt`. Accept.
 * - `'replayed'`: the digest is live (already used). Deny.
 * - `'full'`: the store holds `capacity` live entries and cannot record another one. Deny
 *   (fail closed): a store never forgets or evicts a live entry to make room.
 */
export type ReplayOutcome = 'fresh' | 'replayed' | 'full';

/**
 * A replay window: records 16-byte digests of used presentations until they expire.
 *
 * The digest covers the signed fields of §7.3 (phone kid, card id, `t`, nonce), never signature bytes.
 * An entry is **live while `now < expiresAt`** (unix seconds). Because the time window accepts a
 * presentation while `t >= now - maxAge`, the verifier must pass `expiresAt = t + maxAge + 1`
 * (the first second at which `t` is too old), so that no accepted code outlives its entry.
 *
 * Implementations: `createMemoryReplayStore` (in-process, fixed capacity, with snapshot and journal)
 * and `createRedisReplayStore` (`@campus-card/verifier/redis`, shared by several readers).
 */
export interface ReplayStore {
  /**
   * Atomically checks whether `digest` is live and, if not, records it until `expiresAt`.
   *
   * @param digest - 16 bytes (`Uint8Array`).
   * @param expiresAt - unix seconds; the entry is live while `now < expiresAt`. Must be greater than `now`.
   * @param now - the current time, unix seconds (the reader's clock; never read implicitly).
   * @returns the outcome, synchronously (memory) or as a promise (network stores).
   * @throws `TypeError` / `RangeError` for bad arguments; a `VerifierError` with code
   *   `ERR_REPLAY_STORE_UNAVAILABLE` when the backing store cannot answer (deny).
   */
  checkAndInsert(digest: Uint8Array, expiresAt: number, now: number): ReplayOutcome | Promise<ReplayOutcome>;
}

/** Length of a replay digest, bytes. */
export const REPLAY_DIGEST_BYTES = 16;
