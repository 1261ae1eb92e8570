/**
 * Opening a database file: migrations that fail part-way, and a write-ahead log found without its
 * database file.
 */
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, startupFailure } from '../../src/cli.js';
import { MIGRATIONS, migrate, OrphanWalError, openDatabase } from '../../src/lib/db.js';
import { createMockPlatform } from '../../src/platform.js';
import { testDir } from '../helpers.js';

const LATEST = (MIGRATIONS.at(-1) as { version: number }).version;

/** A database file migrated up to (and including) `version` by the migrations of that time only. */
function fileAt(path: string, version: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  db.close();
}

const versionOf = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number;
  } finally {
    db.close();
  }
};

const objects = (path: string): string[] => {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
};

describe('migrations that fail part-way', () => {
  it('leave the database at the version it had (which the version that wrote it still opens), then apply all once it can', () => {
    const path = join(testDir('cc-db-a5-'), 'platform.db');
    fileAt(path, 5);
    // data of version 5 that migration 8 cannot take (its parent links are not JSON): 6 and 7 apply, 8 fails
    const raw = new Database(path);
    raw.exec("INSERT INTO schools VALUES ('10001', 'S', '[]', 0)");
    raw.exec(
      "INSERT INTO people (person_id, school_id, kind, name, student_ids, class_ids, created_at) VALUES ('p-1', '10001', 'parent', 'a', 'not json', '[]', 0)",
    );
    raw.close();
    const before = objects(path);
    expect(() => openDatabase(path)).toThrow(/malformed JSON/);
    // not 7: a platform of version 5 would refuse the file as too new, and this one cannot use it
    expect(versionOf(path)).toBe(5);
    expect(objects(path)).toEqual(before); // nothing of 6 or 7 (their indexes) either
    // the data fixed: every pending migration applies, once
    const fix = new Database(path);
    fix.exec(`UPDATE people SET student_ids = '[]' WHERE person_id = 'p-1'`);
    fix.close();
    const db = openDatabase(path);
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(
      MIGRATIONS.map((m) => m.version),
    );
    expect(migrate(db)).toEqual([]);
    expect(db.prepare('SELECT person_id FROM people').pluck().all()).toEqual(['p-1']);
    db.close();
    expect(versionOf(path)).toBe(LATEST);
  });

  it('a fresh file is migrated all at once', () => {
    const path = join(testDir('cc-db-a5-'), 'fresh.db');
    const db = openDatabase(path);
    expect(db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).toBe(MIGRATIONS.length);
    db.close();
  });
});

describe('a write-ahead log without its database file', () => {
  /** A database whose last commit is only in its WAL, as a platform killed (SIGKILL) leaves it: its files. */
  function killedWithWal(dir: string): { path: string; wal: Buffer } {
    const path = join(dir, 'platform.db');
    const db = openDatabase(path);
    db.pragma('wal_autocheckpoint = 0');
    db.exec("INSERT INTO schools VALUES ('10001', 'acknowledged', '[]', 0)");
    const wal = readFileSync(`${path}-wal`);
    expect(wal.length).toBeGreaterThan(32);
    db.close(); // (closing checkpoints: the WAL as it was is kept above)
    return { path, wal };
  }

  it.each([
    ['missing', (_path: string) => undefined],
    ['empty', (path: string) => writeFileSync(path, '')],
  ])(
    'is refused with a typed error when the database file is %s, and both are left as they were',
    async (_, replace) => {
      const dir = testDir('cc-db-wal-');
      const { wal } = killedWithWal(dir);
      const path = join(dir, 'moved.db');
      writeFileSync(`${path}-wal`, wal);
      replace(path);
      const existed = existsSync(path);
      let error: unknown;
      try {
        openDatabase(path).close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OrphanWalError);
      expect(error).toMatchObject({ code: 'ERR_ORPHAN_WAL', path, walPath: `${path}-wal` });
      await expect(createMockPlatform({ dbPath: path })).rejects.toBeInstanceOf(OrphanWalError);
      // the CLI: one line naming the file, exit 1
      expect(startupFailure(error, parseCliArgs(['--db', path], {}))).toEqual({
        exitCode: 1,
        message: `cannot open database ${path}: ${(error as Error).message}`,
      });
      // SQLite would have deleted the log (and its transactions) and started an empty database
      expect(readFileSync(`${path}-wal`)).toEqual(wal);
      expect(existsSync(path)).toBe(existed);
    },
  );

  it('with its database file back, opens with the commit of the log', () => {
    const dir = testDir('cc-db-wal-');
    const { path, wal } = killedWithWal(dir);
    const copy = join(dir, 'copy.db');
    copyFileSync(path, copy);
    writeFileSync(`${copy}-wal`, wal);
    const db = openDatabase(copy);
    expect(db.prepare('SELECT name FROM schools').pluck().all()).toEqual(['acknowledged']);
    db.close();
  });

  it('a log of only its header, or none, beside a missing file is no obstacle', () => {
    const dir = testDir('cc-db-wal-');
    const path = join(dir, 'new.db');
    writeFileSync(`${path}-wal`, Buffer.alloc(32));
    openDatabase(path).close();
    expect(statSync(path).size).toBeGreaterThan(0);
  });
});
