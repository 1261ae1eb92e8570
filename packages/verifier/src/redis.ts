/**
 * A replay window in Redis, shared by several readers (`@campus-card/verifier/redis`).
 *
 * The package does not depend on a Redis client: pass any client that fits {@link RedisReplayClient}
 * (an ioredis `Redis` or `Cluster` instance does).
 *
 * @module
 */
import { VerifierError } from './errors.js';
import { checkDigest, checkExpiresAt, checkNow } from './replay/check-args.js';
import type { ReplayOutcome, ReplayStore } from './replay/replay-store.js';

/**
 * The part of a Redis client the store uses, matching ioredis's signatures.
 * `set` must send `SET key value PX|PXAT ms NX` and resolve to `'OK'` (set) or `null` (key exists).
 */
export interface RedisReplayClient {
  /** `SET key value PX ms NX`. */
  set(key: string, value: string, mode: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>;
  /** `SET key value PXAT unixMs NX` (Redis ≥ 6.2). */
  set(key: string, value: string, mode: 'PXAT', unixMilliseconds: number, nx: 'NX'): Promise<'OK' | null>;
  /** `EVAL script numKeys ...keysAndArgs`; needed only with the `capacity` option. */
  eval?(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Options of {@link createRedisReplayStore}. */
export interface RedisReplayStoreOptions {
  /** The Redis client (e.g. `new Redis(url)` from ioredis). The store never closes it. */
  client: RedisReplayClient;
  /**
   * Key prefix; a key is `prefix` + the digest in lower-case hex. Default `'campus-card:replay:'`.
   * With `capacity` on Redis Cluster, include a hash tag (e.g. `'{campus-card:replay}:'`) so that the
   * entry keys and the index key share a slot.
   */
  prefix?: string;
  /**
   * Optional bound on the number of live entries under `prefix`, kept in a sorted set `prefix + 'index'`
   * by an atomic Lua script (the client must implement `eval`). When reached, `checkAndInsert` answers
   * `'full'` (deny). The count uses each reader's `now`, so with skewed reader clocks it is approximate;
   * it never makes a replay pass. Default: no bound (Redis `maxmemory` is then the limit; use a
   * `noeviction` or `volatile-*` policy that cannot evict live entries early).
   */
  capacity?: number;
  /**
   * How the expiry is sent. `'relative'` (default): `PX expiresAt − now`, so the entry lives as long as
   * the reader's own clock says, whatever Redis's clock reads. `'absolute'`: `PXAT expiresAt`, which
   * trusts Redis's clock to agree with the readers'. Both work with `capacity`; `'absolute'` with
   * `capacity` needs Redis ≥ 7.0 (the script reads `PEXPIRETIME`), without it Redis ≥ 6.2.
   */
  expiry?: 'relative' | 'absolute';
  /**
   * Seconds each entry is kept beyond the expiry the accepting reader computed (default 60). An
   * entry's lifetime comes from one reader's clock; another reader whose clock is behind by δ still
   * holds the code inside its time window for δ seconds after the entry would have gone, and would
   * accept it again. The margin covers readers (and, with `'absolute'`, Redis) that disagree on time
   * by up to this much; keep the readers' clocks within it. `0` keeps entries exactly as long as
   * the reader's window.
   */
  skewMarginS?: number;
  /**
   * Milliseconds to wait for Redis before failing closed with `ERR_REPLAY_STORE_UNAVAILABLE`.
   * Default 1000. `0` disables the timer (rely on the client's own timeouts).
   */
  timeoutMs?: number;
}

const DEFAULT_PREFIX = 'campus-card:replay:';
const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_SKEW_MARGIN_S = 60;

/**
 * KEYS: entry, index. ARGV: now ms, ttl ms, capacity, absolute expiry ms (0: relative expiry).
 * Returns 0 fresh, 1 replayed, 2 full. With an absolute expiry the entry is set with `PXAT` and
 * the index kept at least until then (`PEXPIRETIME`/`PEXPIREAT`, Redis ≥ 7.0); else `PX ttl`.
 */
const CAPPED_SCRIPT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local at = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
if at > 0 then
  redis.call('SET', KEYS[1], '1', 'PXAT', at)
  redis.call('ZADD', KEYS[2], at, KEYS[1])
  if redis.call('PEXPIRETIME', KEYS[2]) < at then redis.call('PEXPIREAT', KEYS[2], at) end
  return 0
end
redis.call('SET', KEYS[1], '1', 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 0
`;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}

function unavailable(message: string, cause?: unknown): VerifierError {
  return new VerifierError('ERR_REPLAY_STORE_UNAVAILABLE', `redis replay store: ${message}`, { cause });
}

/**
 * Creates a {@link ReplayStore} backed by Redis `SET NX` with an expiry: the first reader to set the key
 * gets `'fresh'`, every other reader (or the same one) gets `'replayed'` until the key expires. Several
 * readers sharing one Redis thus accept a code exactly once, as long as their clocks agree within
 * `skewMarginS` (default 60 s).
 *
 * Fails closed: a client error, an unexpected reply or a timeout rejects with a `VerifierError` of code
 * `ERR_REPLAY_STORE_UNAVAILABLE`, which the verifier turns into a denial.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisReplayStore } from '@campus-card/verifier/redis';
 * const store = createRedisReplayStore({ client: new Redis(process.env.REDIS_URL!) });
 * const outcome = await store.checkAndInsert(digest, t + maxAge + 1, now);
 * ```
 */
export function createRedisReplayStore(options: RedisReplayStoreOptions): ReplayStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('"options" must be an object');
  const {
    client,
    prefix = DEFAULT_PREFIX,
    capacity,
    expiry = 'relative',
    timeoutMs = DEFAULT_TIMEOUT_MS,
    skewMarginS = DEFAULT_SKEW_MARGIN_S,
  } = options;
  if (typeof client !== 'object' || client === null || typeof client.set !== 'function') {
    throw new TypeError('"client" must be a Redis client with a set() method');
  }
  if (typeof prefix !== 'string') throw new TypeError('"prefix" must be a string');
  if (capacity !== undefined) {
    if (typeof capacity !== 'number' || !Number.isInteger(capacity))
      throw new TypeError('"capacity" must be an integer');
    if (capacity < 1) throw new RangeError('"capacity" must be at least 1');
    if (typeof client.eval !== 'function')
      throw new TypeError('"capacity" needs a client with an eval() method');
  }
  if (expiry !== 'relative' && expiry !== 'absolute') {
    throw new TypeError('"expiry" must be "relative" or "absolute"');
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs < Number.POSITIVE_INFINITY)) {
    throw new RangeError('"timeoutMs" must be a finite, non-negative number of milliseconds');
  }
  if (typeof skewMarginS !== 'number' || !(skewMarginS >= 0 && skewMarginS <= 86_400)) {
    throw new RangeError('"skewMarginS" must be a number of seconds from 0 to 86400');
  }
  const indexKey = `${prefix}index`;

  function withTimeout<T>(promise: Promise<T>): Promise<T> {
    if (timeoutMs === 0) return promise;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable(`no answer within ${timeoutMs} ms`)), timeoutMs);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async function send(digest: Uint8Array, expiresAt: number, now: number): Promise<ReplayOutcome> {
    const key = prefix + toHex(digest);
    const ttlMs = Math.ceil((expiresAt + skewMarginS - now) * 1000);
    const atMs = Math.ceil((expiresAt + skewMarginS) * 1000);
    let reply: unknown;
    try {
      if (capacity !== undefined && client.eval !== undefined) {
        reply = await withTimeout(
          client.eval(
            CAPPED_SCRIPT,
            2,
            key,
            indexKey,
            Math.floor(now * 1000),
            ttlMs,
            capacity,
            expiry === 'absolute' ? atMs : 0,
          ),
        );
        if (reply === 0) return 'fresh';
        if (reply === 1) return 'replayed';
        if (reply === 2) return 'full';
      } else {
        reply = await withTimeout(
          expiry === 'absolute'
            ? client.set(key, '1', 'PXAT', atMs, 'NX')
            : client.set(key, '1', 'PX', ttlMs, 'NX'),
        );
        if (reply === 'OK') return 'fresh';
        if (reply === null) return 'replayed';
      }
    } catch (error) {
      if (error instanceof VerifierError) throw error;
      throw unavailable(error instanceof Error ? error.message : 'client error', error);
    }
    throw unavailable(`unexpected reply ${JSON.stringify(reply)}`);
  }

  return {
    checkAndInsert(digest: Uint8Array, expiresAt: number, now: number): Promise<ReplayOutcome> {
      checkDigest(digest);
      checkNow(now);
      checkExpiresAt(expiresAt, now);
      return send(digest, expiresAt, now);
    },
  };
}
