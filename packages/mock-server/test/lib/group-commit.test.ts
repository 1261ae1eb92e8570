import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  return { db, seen };
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
