/**
 * Two group commits of one thread on one database file (two platforms serving one file in one
 * process): a batch of one holds the write lock until its COMMIT at the end of the turn, on this
 * thread, so the other must not wait for it with the thread stopped.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { createClock, createMockPlatform } from '../../src/index.js';
import { openDatabase } from '../../src/lib/db.js';
import { createGroupCommit } from '../../src/lib/group-commit.js';
import { json, operator, signed, T0, testDir } from '../helpers.js';

function twoOnOneFile() {
  const path = join(testDir('cc-gc-a5-'), 'g.db');
  const a = openDatabase(path);
  a.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  const b = openDatabase(path);
  const reader = new Database(path, { readonly: true });
  const seen = (k: string) => reader.prepare('SELECT 1 FROM t WHERE k = ?').get(k) !== undefined;
  const close = () => {
    for (const db of [a, b, reader]) if (db.open) db.close();
  };
  return { a, b, seen, close };
}

describe('two group commits of one thread on one file', () => {
  it('a join while the other holds a batch commits that batch first, at once, and opens its own', async () => {
    const { a, b, seen, close } = twoOnOneFile();
    try {
      const ga = createGroupCommit(a);
      const gb = createGroupCommit(b);
      ga.join();
      a.prepare("INSERT INTO t VALUES ('a1')").run();
      const batchA = ga.current();
      const t0 = performance.now();
      gb.join(); // the lock A's batch holds is let go by A's COMMIT, on this thread
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(seen('a1')).toBe(true);
      await expect(batchA?.committed).resolves.toBeUndefined();
      expect(ga.current()).toBeUndefined();
      b.prepare("INSERT INTO t VALUES ('b1')").run();
      await gb.settled();
      expect(seen('b1')).toBe(true);
      expect(ga.stats().batches + gb.stats().batches).toBe(2);
    } finally {
      close();
    }
  });

  it('a transaction of the other that is no batch (held across turns) fails the join at once, not after the busy timeout', () => {
    const { a, b, close } = twoOnOneFile();
    try {
      const gb = createGroupCommit(b);
      createGroupCommit(a);
      a.exec('BEGIN IMMEDIATE'); // as a demo load holds it
      const t0 = performance.now();
      expect(() => gb.join()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(b.pragma('busy_timeout', { simple: true })).toBe(5000);
      a.exec('COMMIT');
      gb.join();
      expect(b.inTransaction).toBe(true);
      gb.flush();
    } finally {
      close();
    }
  });
});

describe('two platforms of one process serving one file', () => {
  it('answer requests that arrive together, without the event loop stopping for the busy timeout', async () => {
    const dbPath = join(testDir('cc-gc-a5-'), 'platform.db');
    const clock = createClock({ start: T0, frozen: true });
    const a = await createMockPlatform({ dbPath, demo: true, clock });
    const b = await createMockPlatform({ dbPath, demo: true, clock });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const t0 = performance.now();
      const answers = await Promise.all(
        [a, b, a, b].map((p, i) =>
          p.app.inject(
            signed(p, operator(p), 'POST', '/v1/wallets/s-001/top-ups', {
              out_trade_no: `TWO-${i}`,
              amount: 100,
              channel: 'simulated',
            }),
          ),
        ),
      );
      // before: the second platform's BEGIN IMMEDIATE spun on the thread for the 5 s busy timeout
      // while the batch holding the lock waited for that thread, then answered 500 `database is locked`
      expect(answers.map((r) => [r.statusCode, json(r).code])).toEqual(answers.map(() => [201, undefined]));
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(errors).not.toHaveBeenCalled();
      const reader = new Database(dbPath, { readonly: true });
      expect(
        reader.prepare("SELECT COUNT(*) FROM orders WHERE out_trade_no LIKE 'TWO-%'").pluck().get(),
      ).toBe(4);
      reader.close();
    } finally {
      errors.mockRestore();
      await a.close();
      await b.close();
    }
  }, 30_000);
});
