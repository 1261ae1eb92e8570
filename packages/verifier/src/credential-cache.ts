/**
 * A bounded LRU cache of verified credentials (core's `CredentialCache`).
 *
 * @module
 */
import type { CredentialCache, VerifiedCredential } from '@campus-card/core';

/** Default number of credentials {@link createCredentialCache} keeps. */
export const DEFAULT_CREDENTIAL_CACHE_SIZE = 4096;

/** A {@link CredentialCache} with a fixed maximum size, evicting the least recently used entry. */
export interface LruCredentialCache extends CredentialCache {
  /** Entries held. */
  readonly size: number;
  /** The maximum number of entries. */
  readonly capacity: number;
  /** Drops every entry (e.g. after a trust list change, although hits are rechecked anyway). */
  clear(): void;
}

/**
 * Creates a bounded LRU cache of credentials whose issuer signature was verified, keyed by the
 * hex SHA-256 of the credential bytes (never signature bytes). A hit lets the verifier skip the
 * issuer signature; core uses it only while its trust-list entry is still in the current list.
 *
 * @param capacity - Most entries kept, a positive integer. Default {@link DEFAULT_CREDENTIAL_CACHE_SIZE}
 *   (about 1 KB an entry). `0` disables caching.
 * @throws `RangeError` for a negative or non-integer capacity.
 * @example
 * ```ts
 * const cache = createCredentialCache(10_000);
 * await verifyPresentation(qr, { trustList, statusLists, now, credentialCache: cache });
 * ```
 */
export function createCredentialCache(capacity: number = DEFAULT_CREDENTIAL_CACHE_SIZE): LruCredentialCache {
  if (!Number.isSafeInteger(capacity) || capacity < 0) {
    throw new RangeError(`credential cache capacity must be a non-negative integer, got ${String(capacity)}`);
  }
  // a Map iterates in insertion order: re-inserting on a hit makes the first key the LRU one
  const map = new Map<string, VerifiedCredential>();
  /** The key inserted last (the most recent one): a hit on it needs no reordering. */
  let newest: string | undefined;
  return {
    get(key) {
      const v = map.get(key);
      if (v !== undefined && key !== newest) {
        map.delete(key);
        map.set(key, v);
        newest = key;
      }
      return v;
    },
    set(key, value) {
      if (capacity === 0) return;
      map.delete(key);
      map.set(key, value);
      newest = key;
      if (map.size > capacity) {
        const oldest = map.keys().next();
        if (!oldest.done) map.delete(oldest.value);
      }
    },
    clear() {
      map.clear();
      newest = undefined;
    },
    get size() {
      return map.size;
    },
    capacity,
  };
}
