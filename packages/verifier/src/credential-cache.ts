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
 * core's `credentialCacheKey` (a 64-bit hash of the signed content, never of signature bytes). A hit
 * lets the verifier skip the issuer signature; core uses it only when the stored content is byte for
 * byte the one scanned, and while the trust lists held are the very ones it was verified with (a list
 * of any authority loaded or dropped since makes it a miss). Lookups and
 * updates are O(1): a `Map` plus a linked recency list.
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
  // a Map for lookup, and a circular doubly linked list through the nodes for recency: a hit
  // relinks one node (four pointer writes) instead of re-inserting its key in the Map
  const map = new Map<string, Node>();
  const head = {} as Node; // sentinel: head.next is the most recent node, head.prev the least
  head.next = head;
  head.prev = head;
  const unlink = (n: Node): void => {
    n.prev.next = n.next;
    n.next.prev = n.prev;
  };
  const pushFront = (n: Node): void => {
    n.prev = head;
    n.next = head.next;
    head.next.prev = n;
    head.next = n;
  };
  return {
    get(key) {
      const n = map.get(key);
      if (n === undefined) return undefined;
      if (head.next !== n) {
        unlink(n);
        pushFront(n);
      }
      return n.value;
    },
    set(key, value) {
      if (capacity === 0) return;
      const old = map.get(key);
      if (old !== undefined) {
        old.value = value;
        unlink(old);
        pushFront(old);
        return;
      }
      const n = { key, value } as Node;
      map.set(key, n);
      pushFront(n);
      if (map.size > capacity) {
        const lru = head.prev;
        unlink(lru);
        map.delete(lru.key);
      }
    },
    clear() {
      map.clear();
      head.next = head;
      head.prev = head;
    },
    get size() {
      return map.size;
    },
    capacity,
  };
}

/** A cache entry, linked in recency order. */
interface Node {
  readonly key: string;
  value: VerifiedCredential;
  prev: Node;
  next: Node;
}
