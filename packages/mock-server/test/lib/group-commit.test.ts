import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lib/db.js';
import { createGroupCommit } from '../../src/lib/group-commit.js';

const dirs: string[] = [];
const dbs: Database.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileDb() {
  const dir = mkdtempSync(join(tmpdir(), 'cc-gc-'));
  dirs.push(dir);
  const path = join(dir, 'g.db');
  const db = openDatabase(path);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const reader = new Database(path, { readonly: true });
  dbs.push(db, reader);
  const seen = (k: string) => reader.prepare('SELECT v FROM t WHERE k = ?').get(k) !== undefined;
  return { db, seen, path };
}

describe('group commit', () => {
  it('batches savepoints in one transaction; a failed savepoint rolls back only itself; nothing is visible before COMMIT', async () => {
    const { db, seen } = fileDb();
    const gc = createGroupCommit(db);
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const request = (k: string, fail: boolean) => {
      gc.join();
      try {
        db.transaction(() => {
          ins.run(k, 1);
          ins.run(`${k}-2`, 2);
          if (fail) throw new Error('boom');
        })();
      } catch {
        // the request answers an error; its savepoint is rolled back
      }
      return gc.current();
    };
    const a = request('a', false);
    const b = request('b', true);
    const c = request('c', false);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(db.inTransaction).toBe(true);
    // Uncommitted: another connection sees nothing yet.
    expect(seen('a')).toBe(false);
    await a?.committed;
    expect(db.inTransaction).toBe(false);
    expect([seen('a'), seen('a-2'), seen('c'), seen('c-2')]).toEqual([true, true, true, true]);
    expect([seen('b'), seen('b-2')]).toEqual([false, false]);
    expect(gc.stats()).toMatchObject({ batches: 1, failed: 0, joins: 3, maxJoins: 3 });
    // The next write opens a new batch.
    request('d', false);
    expect(gc.current()).not.toBe(a);
    await gc.settled();
    expect(seen('d')).toBe(true);
  });

  it('runs after-commit hooks only after COMMIT', async () => {
    const { db, seen } = fileDb();
    const gc = createGroupCommit(db);
    gc.join();
    db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('h', 1);
    const saw: boolean[] = [];
    gc.afterCommit(() => saw.push(seen('h')));
    expect(saw).toEqual([]);
    await gc.settled();
    expect(saw).toEqual([true]);
  });

  it('calls onCommitted after each COMMIT, with no transaction open, before the waiters resume', async () => {
    const { db, seen } = fileDb();
    const calls: { inTransaction: boolean; seen: boolean }[] = [];
    const order: string[] = [];
    const gc = createGroupCommit(db, {
      onCommitted: () => {
        calls.push({ inTransaction: db.inTransaction, seen: seen(`k${calls.length}`) });
        order.push('committed');
        throw new Error('a failing hook does not fail the batch');
      },
    });
    for (const k of ['k0', 'k1']) {
      gc.join();
      db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, 1);
      const batch = gc.current();
      const waiter = batch?.committed.then(() => order.push('waiter'));
      await waiter;
      expect(batch?.failed).toBe(false);
    }
    expect(calls).toEqual([
      { inTransaction: false, seen: true },
      { inTransaction: false, seen: true },
    ]);
    expect(order).toEqual(['committed', 'waiter', 'committed', 'waiter']);
    expect(gc.stats()).toMatchObject({ batches: 2, failed: 0 });
  });

  it('does not call onCommitted for a batch whose COMMIT failed', async () => {
    const { db } = fileDb();
    db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
    );
    let committed = 0;
    const gc = createGroupCommit(db, { onCommitted: () => committed++ });
    gc.join();
    db.prepare('INSERT INTO child (p) VALUES (42)').run();
    await expect(gc.current()?.committed).rejects.toThrow(/FOREIGN KEY/);
    expect(committed).toBe(0);
  });

  it('a failed COMMIT rolls the whole batch back and rejects its waiters', async () => {
    const { db, seen } = fileDb();
    db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
    );
    const errors: unknown[] = [];
    const gc = createGroupCommit(db, { onError: (e) => errors.push(e) });
    gc.join();
    db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('x', 1);
    db.prepare('INSERT INTO child (p) VALUES (42)').run(); // violates the deferred FK at COMMIT
    const batch = gc.current();
    const hook: string[] = [];
    gc.afterCommit(() => hook.push('ran'));
    await expect(batch?.committed).rejects.toThrow(/FOREIGN KEY/);
    expect(db.inTransaction).toBe(false);
    expect(seen('x')).toBe(false);
    expect(hook).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(gc.stats()).toMatchObject({ batches: 0, failed: 1 });
  });

  it('marks a failed batch and runs the rollback listeners before its waiters resume, never after a COMMIT', async () => {
    const { db } = fileDb();
    db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
    );
    const gc = createGroupCommit(db);
    const events: string[] = [];
    gc.onRollback(() => events.push(`rollback (in transaction: ${db.inTransaction})`));
    gc.onRollback(() => {
      throw new Error('a failing listener');
    });
    gc.onRollback(() => events.push('second listener'));

    gc.join();
    db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('ok', 1);
    const committed = gc.current();
    await gc.settled();
    expect(committed?.failed).toBe(false);
    expect(events).toEqual([]);

    gc.join();
    db.prepare('INSERT INTO child (p) VALUES (42)').run(); // violates the deferred FK at COMMIT
    const batch = gc.current();
    expect(batch?.failed).toBe(false);
    const waiter = batch?.committed.catch(() => events.push(`waiter (failed: ${batch.failed})`));
    gc.flush();
    expect(batch?.failed).toBe(true);
    expect(events).toEqual(['rollback (in transaction: false)', 'second listener']);
    await waiter;
    expect(events).toEqual(['rollback (in transaction: false)', 'second listener', 'waiter (failed: true)']);
  });

  it('when disabled, join() opens nothing and transactions commit on their own', async () => {
    const { db, seen } = fileDb();
    const gc = createGroupCommit(db, { enabled: false });
    gc.join();
    expect(gc.current()).toBeUndefined();
    db.transaction(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run('n', 1))();
    expect(seen('n')).toBe(true);
    await gc.settled();
  });
});

describe('group commit after SQLite rolled the transaction back itself', () => {
  it('fails the lost batch at the next write, which goes into a new batch and commits', async () => {
    const { db, seen } = fileDb();
    const gc = createGroupCommit(db);
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    gc.join();
    ins.run('lost', 1);
    const lost = gc.current();
    db.exec('ROLLBACK'); // as SQLite does on SQLITE_FULL in a statement
    gc.join();
    ins.run('kept', 2);
    const next = gc.current();
    expect(lost?.failed).toBe(true);
    await expect(lost?.committed).rejects.toThrow(/rolled back/);
    expect(next).toBeDefined();
    expect(next).not.toBe(lost);
    expect(db.inTransaction).toBe(true); // the write is in the new batch, not committed on its own
    await next?.committed;
    expect([seen('lost'), seen('kept')]).toEqual([false, true]);
    expect(gc.stats()).toMatchObject({ failed: 1, batches: 1 });
  });
});

/**
 * Another thread's connection holds the write lock (as the checkpointer's RESTART does) from when
 * `held` resolves until `holdMs` later. `releasedAt()` is when it let go, on `performance.timeOrigin`'s
 * absolute scale (milliseconds since the epoch, fractional).
 */
async function holdWriteLock(path: string, holdMs: number) {
  const shared = new SharedArrayBuffer(16);
  const released = new Float64Array(shared, 8, 1);
  const worker = new Worker(
    `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.exec('BEGIN IMMEDIATE');
parentPort.postMessage('held');
Atomics.wait(new Int32Array(workerData.shared, 0, 1), 0, 0, workerData.holdMs);
db.exec('COMMIT');
new Float64Array(workerData.shared, 8, 1)[0] = performance.timeOrigin + performance.now();
db.close();
`,
    {
      eval: true,
      workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3'), shared, holdMs },
    },
  );
  await once(worker, 'message');
  return {
    releasedAt: () => released[0] as number,
    done: once(worker, 'exit'),
  };
}

describe('group commit waiting for the write lock', () => {
  it("takes the lock within a poll step of its release, not at SQLite's next back-off step", async () => {
    const { db, path } = fileDb();
    const gc = createGroupCommit(db);
    const holder = await holdWriteLock(path, 240);
    gc.join(); // blocks until the other connection commits
    const acquiredAt = performance.timeOrigin + performance.now();
    expect(db.inTransaction).toBe(true);
    await holder.done;
    // SQLite's busy handler tries at 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228 and 328 ms after
    // the join: a lock let go 240 ms after the holder took it (so 228 - 240 ms after the join) would
    // be taken at 328, 88 ms late or more. (The holder notes its release after its COMMIT returns,
    // so the lock may be taken just before; the margin is for a loaded machine, where this thread
    // was seen to wake 15 ms late.)
    expect(acquiredAt - holder.releasedAt()).toBeLessThan(25);
    expect(gc.stats().maxBeginMs).toBeGreaterThanOrEqual(200);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it("gives up after the connection's busy timeout with SQLITE_BUSY, and puts the timeout back", async () => {
    const { db, path } = fileDb();
    db.pragma('busy_timeout = 80');
    const gc = createGroupCommit(db);
    const holder = await holdWriteLock(path, 600);
    const t0 = performance.now();
    expect(() => gc.join()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(79);
    expect(waited).toBeLessThan(500);
    expect(gc.current()).toBeUndefined();
    expect(db.pragma('busy_timeout', { simple: true })).toBe(80);
    await holder.done;
    gc.join(); // free again: the next write opens a batch
    expect(gc.current()).toBeDefined();
    gc.flush();
  });
});
