/** Test helper: a database at a given migration, to test the migrations after it. */
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/lib/db.js';

/** A database migrated up to (and including) `version`. */
export function databaseAt(version: number): Database.Database {
  const db = new Database(':memory:');
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  return db;
}
