/**
 * SQLite storage (better-sqlite3, WAL) with numbered migrations.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ensureDir } from './ensure-dir.js';

/** A database handle. */
export type Db = Database.Database;

/** One numbered schema migration. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The numbered migrations, applied in order, once each. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'directory, cards, platform',
    sql: `
CREATE TABLE schools (school_id TEXT PRIMARY KEY, name TEXT NOT NULL, campuses TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE people (
  person_id TEXT PRIMARY KEY, school_id TEXT NOT NULL REFERENCES schools(school_id), kind TEXT NOT NULL, name TEXT NOT NULL,
  grade TEXT, college TEXT, major TEXT, class_id TEXT, campus TEXT, dorm TEXT, room TEXT,
  student_ids TEXT NOT NULL, class_ids TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX people_class ON people(class_id);
CREATE TABLE principals (principal_id TEXT PRIMARY KEY, kind TEXT NOT NULL, school_id TEXT, jwk TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE merchants (merchant_id TEXT PRIMARY KEY, school_id TEXT NOT NULL REFERENCES schools(school_id), name TEXT NOT NULL,
  category TEXT NOT NULL, jwk TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE devices (device_id TEXT PRIMARY KEY, school_id TEXT NOT NULL REFERENCES schools(school_id), type TEXT NOT NULL,
  zone TEXT NOT NULL, jwk TEXT NOT NULL, merchant_id TEXT REFERENCES merchants(merchant_id), offline_tx_cap INTEGER NOT NULL,
  offline_device_cap INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE school_keys (school_id TEXT PRIMARY KEY REFERENCES schools(school_id), root_jwk TEXT NOT NULL, issuer_jwk TEXT NOT NULL,
  next_status_index INTEGER NOT NULL DEFAULT 0);
CREATE TABLE trust_material (school_id TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL, dirty INTEGER NOT NULL,
  etag TEXT, bytes BLOB, PRIMARY KEY (school_id, kind));
CREATE TABLE cards (card_id TEXT PRIMARY KEY, school_id TEXT NOT NULL, person_id TEXT NOT NULL REFERENCES people(person_id),
  role TEXT NOT NULL, status TEXT NOT NULL, status_index INTEGER NOT NULL, holder_jwk TEXT NOT NULL, holder_kid TEXT NOT NULL,
  physical_uid_hash TEXT, physical_card_number TEXT, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  credential BLOB NOT NULL, updated_at INTEGER NOT NULL);
CREATE UNIQUE INDEX cards_one_live ON cards(school_id, person_id, role) WHERE status <> 'revoked';
CREATE UNIQUE INDEX cards_uid ON cards(physical_uid_hash) WHERE physical_uid_hash IS NOT NULL;
CREATE TABLE used_codes (replay_key TEXT PRIMARY KEY, card_id TEXT NOT NULL, principal_id TEXT NOT NULL, used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE nonces (key_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key_id, nonce));
CREATE TABLE idempotency (principal_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,
  status INTEGER, headers TEXT, body TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (principal_id, idem_key));
CREATE TABLE platform_keys (kid TEXT PRIMARY KEY, jwk TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, detail TEXT NOT NULL, created_at INTEGER NOT NULL);
`,
  },
  {
    version: 2,
    name: 'wallets, ledger, orders',
    sql: `
CREATE TABLE accounts (account TEXT PRIMARY KEY, balance INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE journal (journal_id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL, kind TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE postings (journal_id INTEGER NOT NULL REFERENCES journal(journal_id), account TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE INDEX postings_account ON postings(account);
CREATE TABLE orders (order_id TEXT PRIMARY KEY, scope TEXT NOT NULL, out_trade_no TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  amount INTEGER NOT NULL, refunded_amount INTEGER NOT NULL, person_id TEXT NOT NULL, card_id TEXT, merchant_id TEXT, device_id TEXT,
  via TEXT NOT NULL, fee_type TEXT, student_id TEXT, failure_code TEXT, description TEXT, request_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, confirm_at INTEGER);
CREATE UNIQUE INDEX orders_trade ON orders(scope, out_trade_no);
CREATE INDEX orders_person ON orders(person_id, created_at);
CREATE TABLE refunds (scope TEXT NOT NULL, out_refund_no TEXT NOT NULL, order_id TEXT NOT NULL, out_trade_no TEXT NOT NULL,
  amount INTEGER NOT NULL, reason TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (scope, out_refund_no));
CREATE TABLE offline_items (device_id TEXT NOT NULL, seq INTEGER NOT NULL, out_trade_no TEXT NOT NULL, outcome TEXT NOT NULL,
  code TEXT, order_id TEXT, conflict_device_id TEXT, amount INTEGER NOT NULL, day TEXT NOT NULL, PRIMARY KEY (device_id, seq));
`,
  },
  {
    version: 3,
    name: 'events, subscriptions, pushes',
    sql: `
CREATE TABLE events (event_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, direction TEXT,
  occurred_at INTEGER NOT NULL, received_at INTEGER NOT NULL, person_id TEXT, card_id TEXT, class_id TEXT, zone TEXT NOT NULL,
  decision TEXT NOT NULL, reason TEXT, item_id TEXT);
CREATE UNIQUE INDEX events_seq ON events(device_id, seq);
CREATE INDEX events_person ON events(person_id, occurred_at);
CREATE INDEX events_class ON events(class_id, occurred_at);
CREATE TABLE subscriptions (subscription_id TEXT PRIMARY KEY, owner TEXT NOT NULL, url TEXT NOT NULL, event_types TEXT NOT NULL,
  recipient_person_id TEXT, merchant_id TEXT, created_at INTEGER NOT NULL);
CREATE TABLE pushes (push_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, url TEXT NOT NULL, event_type TEXT NOT NULL,
  body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_status INTEGER,
  created_at INTEGER NOT NULL);
CREATE INDEX pushes_due ON pushes(state, next_attempt_at);
`,
  },
  {
    version: 4,
    name: 'event audit, device heartbeats',
    sql: `
ALTER TABLE events ADD COLUMN audit TEXT;
CREATE TABLE device_heartbeats (device_id TEXT PRIMARY KEY, body TEXT NOT NULL, received_at INTEGER NOT NULL);
`,
  },
  {
    version: 5,
    name: 'event policy rule',
    sql: `
ALTER TABLE events ADD COLUMN rule TEXT;
`,
  },
  {
    version: 6,
    name: 'expiry indexes for pruning nonces and idempotency records',
    sql: `
CREATE INDEX nonces_expires_at ON nonces (expires_at);
CREATE INDEX idempotency_created_at ON idempotency (created_at);
`,
  },
  {
    version: 7,
    name: 'incidents in one shape',
    sql: `
UPDATE incidents SET detail = json_object(
  'source', 'offline_payment', 'card_id', json_extract(detail, '$.card_id'),
  'device_id', json_extract(detail, '$.devices[1]'), 'first_device_id', json_extract(detail, '$.devices[0]'),
  'seq', json_extract(detail, '$.seq'), 'amount', NULL)
WHERE json_extract(detail, '$.source') IS NULL AND json_type(detail, '$.devices') = 'array';
UPDATE incidents SET detail = json_object(
  'source', 'attendance', 'card_id', json_extract(detail, '$.card_id'),
  'device_id', json_extract(detail, '$.device'), 'first_device_id', NULL,
  'seq', json_extract(detail, '$.seq'), 'amount', NULL)
WHERE json_extract(detail, '$.source') IS NULL;
`,
  },
  {
    version: 8,
    name: 'indexes for the settle timer, order lookups, refunds and push recipients',
    // Each replaces a scan that grew with traffic, on the event loop:
    // - the settle timer asks every second for the processing orders that are due: it scanned
    //   every order ever made (12 ms at 100 000 orders). The index is partial: it holds only
    //   processing orders, so a payment that succeeds at once writes nothing to it;
    // - an operator looks an order up by out_trade_no alone: the unique index now leads with
    //   out_trade_no, which serves (scope, out_trade_no) lookups just as well;
    // - the refunds of an order were found by scanning every refund;
    // - the recipients of a person's push (parents, class teachers) were found by expanding the
    //   JSON links of every person, twice per event. People are never updated, so the links are
    //   written once, beside the person.
    sql: `
CREATE INDEX orders_processing_due ON orders (confirm_at) WHERE status = 'processing';
DROP INDEX orders_trade;
CREATE UNIQUE INDEX orders_trade_no ON orders (out_trade_no, scope);
CREATE INDEX refunds_order ON refunds (order_id, created_at);
CREATE TABLE guardians (student_id TEXT NOT NULL, parent_id TEXT NOT NULL, PRIMARY KEY (student_id, parent_id)) WITHOUT ROWID;
CREATE TABLE class_teachers (class_id TEXT NOT NULL, teacher_id TEXT NOT NULL, PRIMARY KEY (class_id, teacher_id)) WITHOUT ROWID;
INSERT OR IGNORE INTO guardians (student_id, parent_id)
  SELECT j.value, p.person_id FROM people p, json_each(p.student_ids) j WHERE p.kind = 'parent';
INSERT OR IGNORE INTO class_teachers (class_id, teacher_id)
  SELECT j.value, p.person_id FROM people p, json_each(p.class_ids) j WHERE p.kind = 'teacher';
`,
  },
  {
    version: 9,
    name: 'revoked cards let go of their physical card UID',
    // An unlinked (revoked) card kept its physical_uid_hash, and cards_uid is unique: the same
    // physical card could never be linked to the holder's next card. Unlinking now clears the
    // hash (keeping physical_card_number, for history); this clears it on cards revoked before.
    sql: `
UPDATE cards SET physical_uid_hash = NULL WHERE status = 'revoked' AND physical_uid_hash IS NOT NULL;
`,
  },
  {
    version: 10,
    name: 'the signing time of stored trust material',
    // A document is signed again (at a new version) once its iat is older than the platform's
    // re-sign age, so readers never hold one past their limit on a day without card changes.
    // Documents stored before have no iat: they are signed again at their next fetch.
    sql: `
ALTER TABLE trust_material ADD COLUMN iat INTEGER;
`,
  },
  {
    version: 11,
    name: "each card's status and phone key over time",
    // An offline payment is judged by the card as it was when the POS captured it: a sale made
    // before the card was reported lost, or before its phone key was replaced, is booked. Cards
    // made before this migration have one row from the start of time with what they are now (what
    // they were before is not known), so they are judged as before: by their current state.
    sql: `
CREATE TABLE card_history (card_id TEXT NOT NULL REFERENCES cards(card_id), since INTEGER NOT NULL,
  status TEXT NOT NULL, holder_kid TEXT NOT NULL);
CREATE INDEX card_history_since ON card_history(card_id, since);
INSERT INTO card_history (card_id, since, status, holder_kid) SELECT card_id, 0, status, holder_kid FROM cards;
`,
  },
  {
    version: 12,
    name: "each card's physical card and expiry over time",
    // An offline tap is of the card its UID was linked to at the capture, judged by that card's
    // expiry then: a physical card unlinked and relinked to another card since must not charge the
    // new one, nor a card renewed since pass a tap made while it had expired. The history written
    // before takes what each card has now.
    sql: `
ALTER TABLE card_history ADD COLUMN uid_hash TEXT;
ALTER TABLE card_history ADD COLUMN expires_at INTEGER;
UPDATE card_history SET
  uid_hash = (SELECT c.physical_uid_hash FROM cards c WHERE c.card_id = card_history.card_id),
  expires_at = (SELECT c.expires_at FROM cards c WHERE c.card_id = card_history.card_id);
CREATE INDEX card_history_uid ON card_history(uid_hash) WHERE uid_hash IS NOT NULL;
`,
  },
  {
    version: 13,
    name: 'how far nonces were pruned; the dorm buildings of a school',
    // - A nonce pruned at a clock moved forward (admin) would let its signature in again once the
    //   clock is set back: the platform remembers the latest expiry it pruned, and refuses
    //   signatures up to it.
    // - A dorm zone's building is the longest building of the school that names it: the buildings
    //   of a school are read from this index, not by scanning every person.
    sql: `
CREATE TABLE prune_marks (what TEXT PRIMARY KEY, until_s INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX people_dorm ON people (school_id, dorm) WHERE dorm IS NOT NULL;
`,
  },
  {
    version: 14,
    name: 'what each used code was used for',
    // A POS that resolved a code online (`POST /v1/identity/resolve`) may then charge it, once:
    // the use is 'resolve', 'payment' or 'attendance', and a 'resolve' becomes the same
    // principal's 'payment'. Codes used before are unknown (NULL), taken as not a resolve: a
    // second use of them is refused, as it was.
    sql: `
ALTER TABLE used_codes ADD COLUMN purpose TEXT;
`,
  },
  {
    version: 15,
    name: 'what each offline item was',
    // The same refused sale (number, amount, code or UID) sent again under another seq is a
    // duplicate of its refusal, not judged again: an item keeps its request hash, the formula of
    // an order's. Items stored before have none (NULL): a refused one sent again is judged again.
    sql: `
ALTER TABLE offline_items ADD COLUMN request_hash TEXT;
CREATE INDEX offline_items_refused ON offline_items (device_id, out_trade_no) WHERE outcome = 'rejected';
`,
  },
  {
    version: 16,
    name: 'push-signing keys retire',
    // `POST /v1/platform/keys/rotate` makes a new key current (retired_at NULL) and gives the one
    // before it the end of its overlap, after which it is no longer published. A database from
    // before has one key, the current one.
    sql: `
ALTER TABLE platform_keys ADD COLUMN retired_at INTEGER;
`,
  },
  {
    version: 17,
    name: 'incidents by device and seq',
    // An offline item refused for a seq that holds another sale leaves no row of its own: its
    // incident is what says it was reported, looked up by the device and seq it names.
    sql: `
CREATE INDEX incidents_device_seq ON incidents (json_extract(detail, '$.device_id'), json_extract(detail, '$.seq'));
`,
  },
  {
    version: 18,
    name: 'the public key of every phone key a card has had',
    // `card_history` names the phone key of each period (`holder_kid`), and `cards` keeps only the
    // current key's JWK: a compact-mode code (which names its card, not its key) captured offline
    // before a renewal replaced the key could not be verified at upload. Every key a card is given
    // from now on is kept here. A database from before brings each card's current key; the keys
    // its cards had before that are not known, so their compact codes stay refused.
    sql: `
CREATE TABLE card_keys (card_id TEXT NOT NULL REFERENCES cards(card_id), holder_kid TEXT NOT NULL, holder_jwk TEXT NOT NULL,
  PRIMARY KEY (card_id, holder_kid)) WITHOUT ROWID;
INSERT INTO card_keys (card_id, holder_kid, holder_jwk) SELECT card_id, holder_kid, holder_jwk FROM cards;
`,
  },
  {
    version: 19,
    name: 'offline sales accepted by device and business day',
    // The device cap sums a device's accepted offline sales of the labels overlapping a business
    // day: by this index, not by a walk over every offline item the device ever uploaded.
    sql: `
CREATE INDEX offline_items_accepted_day ON offline_items (device_id, day) WHERE outcome = 'accepted';
`,
  },
];

/** Poll period of {@link beginImmediateAsync} while another connection holds the write lock, ms. */
const LOCK_POLL_MS = 20;

/**
 * `BEGIN IMMEDIATE` without blocking the event loop: while another connection holds the write lock
 * (another process loading the demo into the same file, or another platform of this process),
 * it tries again every {@link LOCK_POLL_MS} ms, letting timers and I/O run in between, for up to
 * `timeoutMs`; then it throws the `SQLITE_BUSY` error. SQLite's own busy handler sleeps the thread
 * instead, so a holder on the same event loop could never let go. The connection's busy timeout is
 * 0 for each try and put back after it.
 */
export async function beginImmediateAsync(db: Db, timeoutMs: number): Promise<void> {
  const busyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true }));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    db.exec('PRAGMA busy_timeout = 0');
    try {
      db.exec('BEGIN IMMEDIATE');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw err;
    } finally {
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/**
 * Opens (and migrates) the database. `:memory:` for tests; a file path otherwise, whose
 * directory is created. WAL mode, synchronous NORMAL, foreign keys on.
 *
 * @throws {@link OrphanWalError} when the file is missing or empty but its `-wal` holds transactions.
 * @throws {@link NotAPlatformDatabaseError} for another program's SQLite database.
 * @throws {@link SchemaTooNewError} for a database of a newer version of the platform.
 * @throws a better-sqlite3 `SqliteError` (`SQLITE_NOTADB`, `SQLITE_CORRUPT`, …) for a file that is
 *   not a SQLite database, or a damaged one.
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:' && path !== '') {
    ensureDir(dirname(path));
    refuseOrphanWal(path);
  }
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    // before anything writes to the file (the journal mode is stored in it)
    refuseForeignDatabase(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    db.close(); // a corrupt file, a newer schema: the handle is not left open
    throw error;
  }
  return db;
}

/** The size of the WAL header, bytes: a WAL no longer than it holds no transaction. */
const WAL_HEADER_BYTES = 32;

/**
 * The database file is missing (or empty) but its write-ahead log (`<path>-wal`) holds
 * transactions: the file was deleted, moved or replaced while the log still had commits not yet
 * copied into it. SQLite would delete that log without a word and start an empty database, losing
 * them; the platform refuses instead, and leaves both as they are. Put the database file back, or,
 * to start afresh, delete the `-wal` and `-shm` files too (or use another `--db`).
 */
export class OrphanWalError extends Error {
  /** Stable error code. */
  readonly code = 'ERR_ORPHAN_WAL';
  /** The database file that is missing or empty. */
  readonly path: string;
  /** The write-ahead log found without it. */
  readonly walPath: string;
  constructor(path: string, walPath: string) {
    super(
      `the write-ahead log ${walPath} holds transactions, but the database file beside it is missing or empty (it was deleted or replaced): it was left as it was; put the database file back, or delete ${walPath} and ${path}-shm too to start afresh`,
    );
    this.name = 'OrphanWalError';
    this.path = path;
    this.walPath = walPath;
  }
}

/**
 * Throws {@link OrphanWalError} when `path` is missing or empty and `<path>-wal` holds more than
 * its header. (A new database has its first page written when it is switched to WAL, before its
 * log is made: an empty file with a log is never one the platform is creating.)
 */
function refuseOrphanWal(path: string): void {
  const walPath = `${path}-wal`;
  let orphan: boolean;
  try {
    const wal = statSync(walPath, { throwIfNoEntry: false });
    const file = statSync(path, { throwIfNoEntry: false });
    orphan =
      wal?.isFile() === true &&
      wal.size > WAL_HEADER_BYTES &&
      (file === undefined || (file.isFile() && file.size === 0));
  } catch {
    return; // (a path the system refuses to look at: opening it reports why)
  }
  if (orphan) throw new OrphanWalError(path, walPath);
}

/**
 * The file is a SQLite database of another program: it holds tables, and no `schema_migrations`
 * (every database of the mock platform has it from its first start). It is left as it was: no
 * table is added, its journal mode is not changed. Give the platform a new file (`--db`), or none.
 */
export class NotAPlatformDatabaseError extends Error {
  /** Stable error code. */
  readonly code = 'ERR_NOT_A_PLATFORM_DATABASE';
  constructor() {
    super(
      'the file is a SQLite database of another program (it has tables, and no schema_migrations of the mock platform): it was left as it was; use another file, or :memory:',
    );
    this.name = 'NotAPlatformDatabaseError';
  }
}

/**
 * Throws {@link NotAPlatformDatabaseError} for a database that has tables but no
 * `schema_migrations`. An empty file or a new one is the platform's to create.
 */
function refuseForeignDatabase(db: Db): void {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
    .pluck()
    .all() as string[];
  if (tables.length > 0 && !tables.includes('schema_migrations')) throw new NotAPlatformDatabaseError();
}

/**
 * The database was written by a newer version of the mock platform: its schema has migrations this
 * version does not know, so it cannot say what the tables mean. Use that version, or a fresh file.
 */
export class SchemaTooNewError extends Error {
  /** Stable error code. */
  readonly code = 'ERR_SCHEMA_TOO_NEW';
  /** The newest migration recorded in the database. */
  readonly databaseVersion: number;
  /** The newest migration this version knows. */
  readonly knownVersion: number;
  constructor(databaseVersion: number, knownVersion: number) {
    super(
      `the database schema is at version ${databaseVersion}, newer than this version of the mock platform knows (${knownVersion}): use the newer version, or a fresh database`,
    );
    this.name = 'SchemaTooNewError';
    this.databaseVersion = databaseVersion;
    this.knownVersion = knownVersion;
  }
}

/**
 * Applies every migration not yet recorded in `schema_migrations`. Returns the versions applied.
 * They all run in one write transaction (`BEGIN IMMEDIATE`), so that a start that fails part-way
 * (a full disk, data a migration cannot take) leaves the database at the version it had, which the
 * version of the platform that wrote it still opens: were each committed on its own, the database
 * would stay at a version in between, newer than that version knows ({@link SchemaTooNewError})
 * and not the one this version needs. Inside the transaction it checks again what is recorded: a
 * second process opening the same file meanwhile waits for the first, then finds the work done
 * instead of running it twice.
 *
 * @throws {@link SchemaTooNewError} when the database records a migration newer than any known here.
 */
export function migrate(db: Db): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const known = (MIGRATIONS.at(-1) as Migration).version;
  const newestStmt = db.prepare('SELECT MAX(version) AS v FROM schema_migrations');
  const checkNewest = () => {
    const newest = (newestStmt.get() as { v: number | null }).v;
    if (newest !== null && newest > known) throw new SchemaTooNewError(newest, known);
  };
  checkNewest();
  const recorded = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const pending = () => MIGRATIONS.filter((m) => recorded.get(m.version) === undefined);
  if (pending().length === 0) return [];
  return db
    .transaction(() => {
      // again, under the lock: another process may have migrated meanwhile (with a newer version)
      checkNewest();
      const applied: number[] = [];
      for (const m of pending()) {
        db.exec(m.sql);
        record.run(m.version, m.name, Date.now());
        applied.push(m.version);
      }
      return applied;
    })
    .immediate();
}
