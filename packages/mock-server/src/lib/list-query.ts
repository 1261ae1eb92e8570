/**
 * The list routes' query: equality and time-range filters, offset cursors, one page of rows.
 *
 * @module
 */

import { parseIso } from './clock.js';
import type { Db } from './db.js';

/** A list route's query parameters common to every list. */
export interface PageParams {
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

/** One page: rows mapped for output, and the cursor of the next page (`null` on the last). */
export interface Page<T> {
  readonly data: T[];
  readonly next_cursor: string | null;
}

/** Builds a list query's WHERE clause; see {@link createListQuery}. */
export interface ListQuery {
  /** Adds `condition` (SQL with `?` placeholders) with its arguments, when `value` is given. */
  where(condition: string, ...args: (string | number)[]): ListQuery;
  /** Adds `column = value` when `value` is given. */
  eq(column: string, value: string | number | undefined): ListQuery;
  /** Adds `from` (inclusive) and `to` (exclusive) on an epoch-ms `column`, from the query's RFC 3339 times. */
  range(column: string): ListQuery;
  /** Runs `SELECT * FROM table WHERE … ORDER BY orderBy` for one page and maps the rows. */
  page<R, T>(db: Db, table: string, orderBy: string, out: (row: R) => T): Page<T>;
}

/** Default and largest page size come from the contract (`PageQuery`); 100 when none is given. */
const DEFAULT_LIMIT = 100;

/**
 * Starts a list query over `q` (its `limit`, `cursor`, `from` and `to`). Table and column names are
 * the caller's constants, never request text; every value is a bound parameter.
 */
export function createListQuery(q: PageParams): ListQuery {
  const clauses: string[] = [];
  const args: (string | number)[] = [];
  const self: ListQuery = {
    where(condition, ...values) {
      clauses.push(condition);
      args.push(...values);
      return self;
    },
    eq(column, value) {
      return value === undefined ? self : self.where(`${column} = ?`, value);
    },
    range(column) {
      if (q.from !== undefined) self.where(`${column} >= ?`, parseIso(q.from, 'querystring/from'));
      if (q.to !== undefined) self.where(`${column} < ?`, parseIso(q.to, 'querystring/to'));
      return self;
    },
    page(db, table, orderBy, out) {
      const limit = q.limit ?? DEFAULT_LIMIT;
      const offset = q.cursor === undefined ? 0 : Number.parseInt(q.cursor, 10) || 0;
      const where = clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
      const rows = db
        .prepare(`SELECT * FROM ${table} ${where} ORDER BY ${orderBy} LIMIT ? OFFSET ?`)
        .all(...args, limit + 1, offset) as never[];
      return {
        data: rows.slice(0, limit).map((r) => out(r)),
        next_cursor: rows.length > limit ? String(offset + limit) : null,
      };
    },
  };
  return self;
}
