import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  beginImmediateAsync,
  MIGRATIONS,
  migrate,
  openDatabase,
  SchemaTooNewError,
} from '../../src/lib/db.js';
import { databaseAt } from './database-at.js';

describe('migrations', () => {
  it('are numbered 1, 2, 3, … with no gap, and apply once', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    const db = new Database(':memory:');
    expect(migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('8 writes the parent and class-teacher links of the people already there, and keeps orders unique', () => {
    const db = databaseAt(7);
    db.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    const person = db.prepare(
      "INSERT INTO people (person_id, school_id, kind, name, class_id, student_ids, class_ids, created_at) VALUES (?, '10001', ?, ?, ?, ?, ?, 0)",
    );
    person.run('s-1', 'student', 'a', '7-2', '[]', '[]');
    person.run('s-2', 'student', 'b', '8-1', '[]', '[]');
    person.run('p-1', 'parent', 'c', null, '["s-1","s-2"]', '[]');
    person.run('t-1', 'teacher', 'd', null, '[]', '["7-2","8-1"]');
    person.run('x-1', 'staff', 'e', null, '["s-1"]', '["7-2"]'); // not a parent nor a teacher: no link
    const order = db.prepare(
      "INSERT INTO orders (order_id, scope, out_trade_no, kind, status, amount, refunded_amount, person_id, via, request_hash, created_at, updated_at) VALUES (?, ?, ?, 'payment', 'success', 1, 0, 's-1', 'qr', 'h', 0, 0)",
    );
    order.run('o1', 'm1', 'T1');
    order.run('o2', 'm2', 'T1');
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 8).map((m) => m.version));
    expect(db.prepare('SELECT student_id, parent_id FROM guardians ORDER BY 1').all()).toEqual([
      { student_id: 's-1', parent_id: 'p-1' },
      { student_id: 's-2', parent_id: 'p-1' },
    ]);
    expect(db.prepare('SELECT class_id, teacher_id FROM class_teachers ORDER BY 1').all()).toEqual([
      { class_id: '7-2', teacher_id: 't-1' },
      { class_id: '8-1', teacher_id: 't-1' },
    ]);
    // the same out_trade_no in two scopes is fine; twice in one scope is not
    order.run('o3', 'm3', 'T1');
    expect(() => order.run('o4', 'm1', 'T1')).toThrow(/UNIQUE/);
    db.close();
  });

  it('9 clears the physical card UID of revoked cards only, keeping their card number', () => {
    const db = databaseAt(8);
    db.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    db.exec(
      "INSERT INTO people (person_id, school_id, kind, name, student_ids, class_ids, created_at) VALUES ('s-1', '10001', 'student', 'a', '[]', '[]', 0), ('s-2', '10001', 'student', 'b', '[]', '[]', 0)",
    );
    const card = db.prepare(
      "INSERT INTO cards (card_id, school_id, person_id, role, status, status_index, holder_jwk, holder_kid, physical_uid_hash, physical_card_number, issued_at, expires_at, credential, updated_at) VALUES (?, '10001', ?, 'student', ?, ?, '{}', 'k', ?, ?, 0, 1, x'00', 0)",
    );
    card.run('c-revoked', 's-1', 'revoked', 0, 'aa', 'PC-1');
    card.run('c-lost', 's-2', 'suspended', 1, 'bb', 'PC-2');
    card.run('c-bare', 's-1', 'revoked', 2, null, null);
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 9).map((m) => m.version));
    expect(
      db.prepare('SELECT card_id, physical_uid_hash, physical_card_number FROM cards ORDER BY card_id').all(),
    ).toEqual([
      { card_id: 'c-bare', physical_uid_hash: null, physical_card_number: null },
      { card_id: 'c-lost', physical_uid_hash: 'bb', physical_card_number: 'PC-2' },
      { card_id: 'c-revoked', physical_uid_hash: null, physical_card_number: 'PC-1' },
    ]);
    // the UID is free again: the holder's next card may take it
    card.run('c-next', 's-1', 'active', 3, 'aa', 'PC-1');
    db.close();
  });

  it('10 adds the signing time of trust material, unknown (NULL) for documents stored before', () => {
    const db = databaseAt(9);
    db.exec(
      "INSERT INTO trust_material (school_id, kind, version, dirty, etag, bytes) VALUES ('10001', 'status-list', 4, 0, '\"e\"', x'00')",
    );
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 10).map((m) => m.version));
    expect(db.prepare('SELECT version, dirty, etag, iat FROM trust_material').all()).toEqual([
      { version: 4, dirty: 0, etag: '"e"', iat: null },
    ]);
    db.close();
  });

  it("11 starts each card's history with what it is now, from the start of time", () => {
    const db = databaseAt(10);
    db.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    db.exec(
      "INSERT INTO people (person_id, school_id, kind, name, student_ids, class_ids, created_at) VALUES ('s-1', '10001', 'student', 'a', '[]', '[]', 0), ('s-2', '10001', 'student', 'b', '[]', '[]', 0)",
    );
    const card = db.prepare(
      "INSERT INTO cards (card_id, school_id, person_id, role, status, status_index, holder_jwk, holder_kid, issued_at, expires_at, credential, updated_at) VALUES (?, '10001', ?, 'student', ?, ?, '{}', ?, 5, 9, x'00', 7)",
    );
    card.run('c-live', 's-1', 'active', 0, 'k1');
    card.run('c-lost', 's-2', 'suspended', 1, 'k2');
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 11).map((m) => m.version));
    expect(
      db.prepare('SELECT card_id, since, status, holder_kid FROM card_history ORDER BY card_id').all(),
    ).toEqual([
      { card_id: 'c-live', since: 0, status: 'active', holder_kid: 'k1' },
      { card_id: 'c-lost', since: 0, status: 'suspended', holder_kid: 'k2' },
    ]);
    db.close();
  });

  it("12 adds each card's physical card and expiry to its history, from what the card has now", () => {
    const db = databaseAt(11);
    db.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    db.exec(
      "INSERT INTO people (person_id, school_id, kind, name, student_ids, class_ids, created_at) VALUES ('s-1', '10001', 'student', 'a', '[]', '[]', 0), ('s-2', '10001', 'student', 'b', '[]', '[]', 0)",
    );
    const card = db.prepare(
      "INSERT INTO cards (card_id, school_id, person_id, role, status, status_index, holder_jwk, holder_kid, physical_uid_hash, issued_at, expires_at, credential, updated_at) VALUES (?, '10001', ?, 'student', 'active', ?, '{}', 'k', ?, 5, ?, x'00', 7)",
    );
    card.run('c-tap', 's-1', 0, 'aa', 900);
    card.run('c-bare', 's-2', 1, null, 800);
    const history = db.prepare(
      "INSERT INTO card_history (card_id, since, status, holder_kid) VALUES (?, ?, 'active', 'k')",
    );
    history.run('c-tap', 0);
    history.run('c-tap', 50);
    history.run('c-bare', 0);
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 12).map((m) => m.version));
    expect(
      db
        .prepare('SELECT card_id, since, uid_hash, expires_at FROM card_history ORDER BY card_id, since')
        .all(),
    ).toEqual([
      { card_id: 'c-bare', since: 0, uid_hash: null, expires_at: 800 },
      { card_id: 'c-tap', since: 0, uid_hash: 'aa', expires_at: 900 },
      { card_id: 'c-tap', since: 50, uid_hash: 'aa', expires_at: 900 },
    ]);
    db.close();
  });

  it('14 adds what each used code was used for, unknown (NULL) for codes used before', () => {
    const db = databaseAt(13);
    db.exec(
      "INSERT INTO used_codes (replay_key, card_id, principal_id, used_at, expires_at) VALUES ('k1', 'c-1', 'pos-01', 5, 9)",
    );
    expect(migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= 14).map((m) => m.version));
    expect(db.prepare('SELECT replay_key, principal_id, purpose FROM used_codes').all()).toEqual([
      { replay_key: 'k1', principal_id: 'pos-01', purpose: null },
    ]);
    db.close();
  });
});

describe('openDatabase', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-db-'));
    dirs.push(dir);
    return join(dir, 'platform.db');
  };

  it('refuses a database whose schema is newer than this version knows, naming both versions', () => {
    const path = fresh();
    openDatabase(path).close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)").run();
    raw.close();
    let error: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect(error).toMatchObject({
      code: 'ERR_SCHEMA_TOO_NEW',
      databaseVersion: 99,
      knownVersion: (MIGRATIONS.at(-1) as { version: number }).version,
    });
  });

  it('a second process opening the file while the first migrates waits, then finds the work done', async () => {
    const path = fresh();
    // another process (a thread here, with its own connection) in the middle of the migrations
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.driver);
      const db = new Database(workerData.path);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      db.exec('BEGIN IMMEDIATE');
      for (const m of workerData.migrations) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
      }
      parentPort.postMessage('locked');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, 300);
      `,
      {
        eval: true,
        workerData: {
          driver: createRequire(import.meta.url).resolve('better-sqlite3'),
          path,
          migrations: MIGRATIONS.map((m) => ({ ...m })),
        },
      },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    const db = openDatabase(path); // waits for the lock, then applies nothing twice
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    db.close();
    await worker.terminate();
  });
});

describe('beginImmediateAsync', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const two = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-db-lock-'));
    dirs.push(dir);
    const path = join(dir, 'platform.db');
    return [openDatabase(path), openDatabase(path)] as const;
  };

  it('waits for the write lock without blocking the event loop, and keeps the busy timeout', async () => {
    const [holder, waiter] = two();
    holder.exec('BEGIN IMMEDIATE');
    // the holder lets go from a timer: on this event loop, which a sleeping busy handler would stop
    let released = false;
    setTimeout(() => {
      holder.exec('COMMIT');
      released = true;
    }, 150);
    await beginImmediateAsync(waiter, 30_000);
    expect(released).toBe(true);
    expect(waiter.inTransaction).toBe(true);
    waiter.exec('COMMIT');
    expect(waiter.pragma('busy_timeout', { simple: true })).toBe(5000);
    holder.close();
    waiter.close();
  });

  it('gives up with SQLITE_BUSY after its timeout', async () => {
    const [holder, waiter] = two();
    holder.exec('BEGIN IMMEDIATE');
    await expect(beginImmediateAsync(waiter, 100)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(waiter.inTransaction).toBe(false);
    expect(waiter.pragma('busy_timeout', { simple: true })).toBe(5000);
    holder.exec('COMMIT');
    holder.close();
    waiter.close();
  });
});
