/**
 * A cache of prepared statements by SQL text. Domain code calls `state.db.prepare(sql)` inline,
 * and compiling the SQL again on every call cost about a tenth of the server's CPU under load.
 * The cache returns the compiled statement instead.
 *
 * A cached statement is shared. No code here switches a statement's mode (`pluck`, `raw`,
 * `expand`, `safeIntegers`) or iterates one lazily (`iterate`); code that needs that must call
 * `prepareUncached`.
 *
 * @module
 */
import type { Db } from './db.js';

const uncached = new WeakMap<Db, Db['prepare']>();

/** Makes `db.prepare` return cached statements (at most `max` distinct SQL texts; default 2 000). */
export function cachePreparedStatements(db: Db, max = 2000): void {
  if (uncached.has(db)) return;
  const prepare = db.prepare.bind(db) as Db['prepare'];
  uncached.set(db, prepare);
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  const cached = (sql: string) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = prepare(sql);
      if (cache.size >= max) cache.clear();
      cache.set(sql, s);
    }
    return s;
  };
  db.prepare = cached as Db['prepare'];
}

/** Prepares a statement of its own, never shared (for `iterate` or mode switches). */
export function prepareUncached(db: Db, sql: string): ReturnType<Db['prepare']> {
  return (uncached.get(db) ?? db.prepare.bind(db))(sql);
}
