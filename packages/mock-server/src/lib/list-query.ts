/**
 * The list routes' query: equality and time-range filters, keyset cursors, one page of rows.
 *
 * A cursor names the last row of the page it ends (the values of the list's sort key, which is
 * unique), not a count of rows to skip. So a row added while a client pages, before or after the
 * cursor, neither repeats a row nor skips one that was there, and a deep page costs one index
 * seek, not a walk over every row before it. A cursor is opaque to clients (base64url of a JSON
 * array); one the platform did not make gets a 400.
 *
 * @module
 */

import { parseIsoBound } from './clock.js';
import type { Db } from './db.js';
import { ApiError } from './problem.js';

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
  /**
   * Adds `from` (inclusive) and `to` (exclusive) on an epoch-ms `column`, from the query's RFC 3339
   * times. A `to` before `from` is a 400 `ERR_VALIDATION` naming `querystring/to`.
   */
  range(column: string): ListQuery;
  /**
   * Runs `SELECT * FROM table WHERE … ORDER BY <sort key>` for one page and maps the rows. The
   * sort key's columns, in order, must identify a row (end it with a unique column).
   */
  page<R, T>(db: Db, table: string, sortKey: SortKey, out: (row: R) => T): Page<T>;
}

/** A list's sort key: its columns in order, each with the SQLite type its values have. */
export type SortKey = readonly (readonly [column: string, type: 'integer' | 'text'])[];

function badCursor(): ApiError {
  return new ApiError(400, 'ERR_VALIDATION', 'querystring/cursor: not a cursor this list gave', {
    errors: [{ path: 'querystring/cursor', message: 'must be the next_cursor of a page of this list' }],
  });
}

/** The cursor after `row`: base64url of the JSON array of its sort-key values. */
export function encodeCursor(sortKey: SortKey, row: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(sortKey.map(([c]) => row[c]))).toString('base64url');
}

/**
 * The sort-key values a cursor names. Throws a 400 {@link ApiError} for anything
 * {@link encodeCursor} could not have made for this sort key.
 */
export function decodeCursor(sortKey: SortKey, cursor: string): (string | number)[] {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(values) || values.length !== sortKey.length) throw badCursor();
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    const ok = sortKey[i]?.[1] === 'integer' ? Number.isSafeInteger(v) : typeof v === 'string';
    if (!ok) throw badCursor();
  }
  // one cursor per position: a re-encoding that differs (padding, spaces, escapes) is not ours
  if (Buffer.from(JSON.stringify(values)).toString('base64url') !== cursor) throw badCursor();
  return values as (string | number)[];
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
      const from = q.from === undefined ? undefined : parseIsoBound(q.from, 'querystring/from');
      const to = q.to === undefined ? undefined : parseIsoBound(q.to, 'querystring/to');
      checkRange(from, to);
      if (from !== undefined) self.where(`${column} >= ?`, from);
      if (to !== undefined) self.where(`${column} < ?`, to);
      return self;
    },
    page(db, table, sortKey, out) {
      const limit = q.limit ?? DEFAULT_LIMIT;
      const columns = sortKey.map(([c]) => c).join(', ');
      if (q.cursor !== undefined) {
        const after = decodeCursor(sortKey, q.cursor);
        self.where(`(${columns}) > (${after.map(() => '?').join(', ')})`, ...after);
      }
      const where = clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
      const rows = db
        .prepare(`SELECT * FROM ${table} ${where} ORDER BY ${columns} LIMIT ?`)
        .all(...args, limit + 1) as Record<string, unknown>[];
      const more = rows.length > limit;
      const data = more ? rows.slice(0, limit) : rows;
      return {
        data: data.map((r) => out(r as never)),
        next_cursor: more ? encodeCursor(sortKey, data[data.length - 1] as Record<string, unknown>) : null,
      };
    },
  };
  return self;
}

/**
 * Refuses a swapped time range (`to` before `from`, epoch ms; either may be absent) with a 400
 * `ERR_VALIDATION` naming `querystring/to`: the caller's mistake is said, not answered with an
 * empty page. `from` equal to `to` is an empty range, no mistake.
 */
export function checkRange(from: number | undefined, to: number | undefined): void {
  if (from !== undefined && to !== undefined && to < from) {
    throw new ApiError(400, 'ERR_VALIDATION', 'querystring/to: before from', {
      errors: [{ path: 'querystring/to', message: 'must not be before from' }],
    });
  }
}
