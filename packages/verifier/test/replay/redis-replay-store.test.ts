import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVerifierError } from '../../src/errors.js';
import { createRedisReplayStore, type RedisReplayClient } from '../../src/redis.js';

const REDIS_URL = process.env.CAMPUS_CARD_REDIS_URL;
const IN_CI = Boolean(process.env.CI);
const NOW = Math.floor(Date.now() / 1000);

function digestOf(n: number, salt: number): Uint8Array {
  const d = new Uint8Array(16);
  const v = new DataView(d.buffer);
  v.setUint32(0, n, true);
  v.setUint32(4, salt, true);
  v.setUint32(8, 0xc0ffee, true);
  return d;
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('createRedisReplayStore (fake clients)', () => {
  it('fails closed with ERR_REPLAY_STORE_UNAVAILABLE on client errors, odd replies and timeouts', async () => {
    const failing: RedisReplayClient = { set: () => Promise.reject(new Error('ECONNREFUSED')) };
    const e1 = await rejectionOf(
      Promise.resolve(
        createRedisReplayStore({ client: failing }).checkAndInsert(digestOf(1, 0), NOW + 9, NOW),
      ),
    );
    expect(isVerifierError(e1, 'ERR_REPLAY_STORE_UNAVAILABLE')).toBe(true);
    expect((e1 as Error).cause).toBeInstanceOf(Error);

    const odd = { set: () => Promise.resolve('QUEUED') } as unknown as RedisReplayClient;
    const e2 = await rejectionOf(
      Promise.resolve(createRedisReplayStore({ client: odd }).checkAndInsert(digestOf(1, 0), NOW + 9, NOW)),
    );
    expect(isVerifierError(e2, 'ERR_REPLAY_STORE_UNAVAILABLE')).toBe(true);

    const hanging: RedisReplayClient = { set: () => new Promise(() => {}) };
    const store = createRedisReplayStore({ client: hanging, timeoutMs: 20 });
    const e3 = await rejectionOf(Promise.resolve(store.checkAndInsert(digestOf(1, 0), NOW + 9, NOW)));
    expect(isVerifierError(e3, 'ERR_REPLAY_STORE_UNAVAILABLE')).toBe(true);
  });

  it('sends SET key 1 PX|PXAT ms NX with the prefix and hex digest', async () => {
    const calls: unknown[][] = [];
    const client: RedisReplayClient = {
      set: (...args: unknown[]) => {
        calls.push(args);
        return Promise.resolve(calls.length === 1 ? 'OK' : null);
      },
    };
    const d = digestOf(0x01020304, 0);
    expect(await createRedisReplayStore({ client, prefix: 'p:' }).checkAndInsert(d, 1000.5, 990)).toBe(
      'fresh',
    );
    expect(await createRedisReplayStore({ client, expiry: 'absolute' }).checkAndInsert(d, 1000, 990)).toBe(
      'replayed',
    );
    expect(calls).toEqual([
      // the reader's expiry plus the default skew margin of 60 s
      ['p:0403020100000000eeffc00000000000', '1', 'PX', 70_500, 'NX'],
      ['campus-card:replay:0403020100000000eeffc00000000000', '1', 'PXAT', 1_060_000, 'NX'],
    ]);
  });

  it('keeps an entry long enough for a reader whose clock is behind the one that accepted the code', async () => {
    // a stand-in for Redis, its clock the true time
    let trueNow = 1_000_000;
    const keys = new Map<string, number>();
    const client: RedisReplayClient = {
      set: (key: string, _v: string, mode: 'PX' | 'PXAT', ms: number) => {
        const at = keys.get(key);
        if (at !== undefined && at > trueNow * 1000) return Promise.resolve(null);
        keys.set(key, mode === 'PX' ? trueNow * 1000 + ms : ms);
        return Promise.resolve('OK');
      },
    };
    const d = digestOf(7, 7);
    const t = 1_000_000; // the code's time; the window admits it until t + 90
    for (const expiry of ['relative', 'absolute'] as const) {
      keys.clear();
      const laneA = createRedisReplayStore({ client, expiry }); // its clock 10 s fast
      const laneB = createRedisReplayStore({ client, expiry }); // its clock right
      trueNow = t + 75;
      expect(await laneA.checkAndInsert(d, t + 91, trueNow + 10)).toBe('fresh');
      trueNow = t + 82; // lane A's entry would be gone by now without the margin; B still admits the code
      expect(await laneB.checkAndInsert(d, t + 91, trueNow)).toBe('replayed');
      // with no margin, the same skew lets the code in twice (what the default margin is for)
      keys.clear();
      const bare = createRedisReplayStore({ client, expiry, skewMarginS: 0 });
      trueNow = t + 75;
      expect(await bare.checkAndInsert(d, t + 91, trueNow + 10)).toBe('fresh');
      trueNow = t + 82;
      expect(await bare.checkAndInsert(d, t + 91, trueNow)).toBe(
        expiry === 'relative' ? 'fresh' : 'replayed',
      );
    }
    expect(() => createRedisReplayStore({ client, skewMarginS: -1 })).toThrow(RangeError);
  });

  it("with capacity, the Lua script gets the absolute expiry under expiry: 'absolute' (0 otherwise)", async () => {
    const calls: unknown[][] = [];
    const client: RedisReplayClient = {
      set: () => Promise.reject(new Error('SET is not used with capacity')),
      eval: (...args: unknown[]) => {
        calls.push(args);
        return Promise.resolve(0);
      },
    };
    const d = digestOf(0x01020304, 0);
    expect(await createRedisReplayStore({ client, capacity: 9 }).checkAndInsert(d, 1000.5, 990)).toBe(
      'fresh',
    );
    expect(
      await createRedisReplayStore({ client, capacity: 9, expiry: 'absolute' }).checkAndInsert(
        d,
        1000.5,
        990,
      ),
    ).toBe('fresh');
    const key = 'campus-card:replay:0403020100000000eeffc00000000000';
    const index = 'campus-card:replay:index';
    expect(calls.map((c) => c.slice(1))).toEqual([
      [2, key, index, 990_000, 70_500, 9, 0],
      [2, key, index, 990_000, 70_500, 9, 1_060_500],
    ]);
    expect(calls[1]?.[0]).toMatch(/'PXAT'/);
  });

  it('rejects bad options and arguments', () => {
    const client: RedisReplayClient = { set: () => Promise.resolve('OK') };
    expect(() => createRedisReplayStore({ client: {} as RedisReplayClient })).toThrow(TypeError);
    expect(() => createRedisReplayStore({ client, capacity: 5 })).toThrow(TypeError); // no eval
    expect(() => createRedisReplayStore({ client, capacity: 0 })).toThrow();
    expect(() => createRedisReplayStore({ client, timeoutMs: -1 })).toThrow(RangeError);
    const store = createRedisReplayStore({ client });
    expect(() => store.checkAndInsert(new Uint8Array(3), NOW + 1, NOW)).toThrow(RangeError);
    expect(() => store.checkAndInsert(digestOf(1, 1), NOW, NOW)).toThrow(RangeError);
  });
});

// A real redis-server: CI exports CAMPUS_CARD_REDIS_URL. Locally the suite is skipped without it;
// under CI a missing URL or an unreachable server fails the run.
const describeRedis = REDIS_URL !== undefined || IN_CI ? describe : describe.skip;

describeRedis('createRedisReplayStore (real Redis)', () => {
  let a: Redis;
  let b: Redis;
  const prefix = `campus-card:test:${process.pid}:${Date.now()}:`;

  beforeAll(async () => {
    if (REDIS_URL === undefined)
      throw new Error('CI is set but CAMPUS_CARD_REDIS_URL is not: cannot run the Redis tests');
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 3000,
      retryStrategy: () => null,
    };
    a = new Redis(REDIS_URL, options);
    b = new Redis(REDIS_URL, options);
    // connection errors surface through connect() and the commands; keep ioredis from logging them twice
    a.on('error', () => {});
    b.on('error', () => {});
    await a.connect();
    await b.connect();
  });

  afterAll(async () => {
    const keys = a ? await a.keys(`${prefix}*`) : [];
    if (keys.length > 0) await a.del(...keys);
    a?.disconnect();
    b?.disconnect();
  });

  it('ioredis fits the structural client type', () => {
    const client: RedisReplayClient = a;
    expect(typeof client.set).toBe('function');
  });

  it('two readers sharing one Redis accept a digest exactly once', async () => {
    const reader1 = createRedisReplayStore({ client: a, prefix });
    const reader2 = createRedisReplayStore({ client: b, prefix });
    const d = digestOf(1, 1);
    expect(await reader1.checkAndInsert(d, NOW + 91, NOW)).toBe('fresh');
    expect(await reader2.checkAndInsert(d, NOW + 91, NOW)).toBe('replayed');
    expect(await reader1.checkAndInsert(d, NOW + 91, NOW)).toBe('replayed');
  });

  it('exactly one fresh under concurrent Promise.all from both readers', async () => {
    const readers = [
      createRedisReplayStore({ client: a, prefix }),
      createRedisReplayStore({ client: b, prefix }),
    ];
    for (let n = 0; n < 20; n++) {
      const d = digestOf(n, 2);
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, k) => readers[k % 2]!.checkAndInsert(d, NOW + 91, NOW)),
      );
      expect(outcomes.filter((o) => o === 'fresh')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'replayed')).toHaveLength(15);
    }
  });

  it('accepts a digest again after its expiry', async () => {
    const store = createRedisReplayStore({ client: a, prefix, skewMarginS: 0 });
    const d = digestOf(1, 3);
    const now = Date.now() / 1000;
    expect(await store.checkAndInsert(d, now + 0.3, now)).toBe('fresh');
    expect(await store.checkAndInsert(d, now + 0.3, now)).toBe('replayed');
    await new Promise((r) => setTimeout(r, 450));
    const later = Date.now() / 1000;
    expect(await store.checkAndInsert(d, later + 10, later)).toBe('fresh');
  });

  it('absolute expiry (PXAT) works too, with capacity as well', async () => {
    const store = createRedisReplayStore({ client: b, prefix, expiry: 'absolute' });
    expect(await store.checkAndInsert(digestOf(1, 4), NOW + 91, NOW)).toBe('fresh');
    expect(await store.checkAndInsert(digestOf(1, 4), NOW + 91, NOW)).toBe('replayed');
    // with capacity, the entry expires at expiresAt by Redis's clock too
    const capPrefix = `${prefix}cap-abs:`;
    // a reader clock 1000 s ahead of Redis's: only an absolute expiry lands on expiresAt
    const now = Math.floor(Date.now() / 1000) + 1000;
    const absolute = createRedisReplayStore({
      client: a,
      prefix: capPrefix,
      capacity: 5,
      expiry: 'absolute',
    });
    const d = digestOf(1, 6);
    expect(await absolute.checkAndInsert(d, now + 91, now)).toBe('fresh');
    expect(await absolute.checkAndInsert(d, now + 91, now)).toBe('replayed');
    const key = `${capPrefix}${Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('')}`;
    // kept the skew margin (60 s by default) beyond the reader's expiry
    expect(await a.call('PEXPIRETIME', key)).toBe((now + 151) * 1000);
    expect(Number(await a.zscore(`${capPrefix}index`, key))).toBe((now + 151) * 1000);
    expect(Number(await a.call('PEXPIRETIME', `${capPrefix}index`))).toBeGreaterThanOrEqual(
      (now + 151) * 1000,
    );
    // relative (the default): a TTL of expiresAt − the reader's now, whatever Redis's clock reads
    const relative = createRedisReplayStore({ client: b, prefix: capPrefix, capacity: 5 });
    const e = digestOf(2, 6);
    expect(await relative.checkAndInsert(e, now + 91, now)).toBe('fresh');
    const ttl = Number(
      await b.pttl(`${capPrefix}${Array.from(e, (x) => x.toString(16).padStart(2, '0')).join('')}`),
    );
    expect(ttl).toBeGreaterThan(149_000);
    expect(ttl).toBeLessThanOrEqual(151_000);
  });

  it("with capacity: 'full' at the bound, exactly-once under concurrency, recovers after expiry", async () => {
    const capPrefix = `${prefix}cap:`;
    const s1 = createRedisReplayStore({ client: a, prefix: capPrefix, capacity: 3, skewMarginS: 0 });
    const s2 = createRedisReplayStore({ client: b, prefix: capPrefix, capacity: 3, skewMarginS: 0 });
    const now = Date.now() / 1000;
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, k) => (k % 2 ? s1 : s2).checkAndInsert(digestOf(1, 5), now + 0.4, now)),
    );
    expect(outcomes.filter((o) => o === 'fresh')).toHaveLength(1);
    expect(await s1.checkAndInsert(digestOf(2, 5), now + 60, now)).toBe('fresh');
    expect(await s2.checkAndInsert(digestOf(3, 5), now + 60, now)).toBe('fresh');
    expect(await s1.checkAndInsert(digestOf(4, 5), now + 60, now)).toBe('full');
    expect(await s1.checkAndInsert(digestOf(2, 5), now + 60, now)).toBe('replayed');
    await new Promise((r) => setTimeout(r, 500));
    const later = Date.now() / 1000;
    expect(await s2.checkAndInsert(digestOf(4, 5), later + 60, later)).toBe('fresh');
    expect(await s2.checkAndInsert(digestOf(5, 5), later + 60, later)).toBe('full');
  });

  it('fails closed when the connection is gone', async () => {
    const dead = new Redis(REDIS_URL ?? '', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    const store = createRedisReplayStore({ client: dead, prefix });
    const e = await rejectionOf(Promise.resolve(store.checkAndInsert(digestOf(9, 9), NOW + 91, NOW)));
    expect(isVerifierError(e, 'ERR_REPLAY_STORE_UNAVAILABLE')).toBe(true);
    dead.disconnect();
  });
});
