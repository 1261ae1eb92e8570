/**
 * No statement of the platform scans a table that grows with traffic, unless it is listed below
 * with its reason. Every SQL text written literally in `src/` (`prepare(...)` and `exec(...)`) is
 * planned with `EXPLAIN QUERY PLAN` on a fully migrated database; a `SCAN` of such a table
 * without an index fails the test. This caught the settle timer scanning every order once a
 * second, refunds found by scanning every refund, and push recipients found by expanding the
 * links of every person (migration 8).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lib/db.js';

const SRC = join(import.meta.dirname, '../../src');

/** Tables whose rows grow with payments, events, requests or the size of a school. */
const GROWING = [
  'orders',
  'refunds',
  'journal',
  'postings',
  'events',
  'pushes',
  'nonces',
  'idempotency',
  'used_codes',
  'offline_items',
  'incidents',
  'people',
  'cards',
  'card_history',
  'card_keys',
  'guardians',
  'class_teachers',
];

/** Scans that are the statement's purpose, by the start of their SQL text. */
const ALLOWED: readonly { readonly sql: string; readonly why: string }[] = [
  { sql: "DELETE FROM idempotency WHERE state = 'in_progress'", why: 'once, at start-up' },
  {
    sql: 'SELECT * FROM cards WHERE school_id = ? ORDER BY status_index',
    why: "builds a school's whole status list",
  },
  { sql: 'SELECT journal_id, SUM(amount) AS s FROM postings', why: 'the ledger check reads every posting' },
  { sql: 'SELECT COALESCE(a.account, p.account)', why: 'the ledger check reads every posting' },
  {
    sql: 'SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN amount < 0',
    why: 'the ledger check reads every posting',
  },
  { sql: "SELECT COALESCE(SUM(CASE WHEN kind = 'top_up'", why: 'the ledger check reads every order' },
  { sql: 'SELECT account, SUM(s) AS s FROM (', why: 'the ledger check reads every order' },
  {
    sql: 'SELECT COALESCE(SUM(amount), 0) AS s FROM orders WHERE kind',
    why: 'the ledger check reads every order',
  },
  { sql: 'SELECT COUNT(*) AS n FROM journal', why: 'the ledger check counts the journal' },
  {
    sql: 'SELECT ref, kind, COUNT(*) AS n FROM journal GROUP BY ref, kind',
    why: 'the ledger check looks for an entry posted twice',
  },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every literal SQL text passed to `.prepare()` or `.exec()` in `src/`. */
function literalStatements(): { file: string; sql: string }[] {
  const out: { file: string; sql: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (
        ts.isCallExpression(n) &&
        ts.isPropertyAccessExpression(n.expression) &&
        (n.expression.name.text === 'prepare' || n.expression.name.text === 'exec')
      ) {
        const a = n.arguments[0];
        if (a !== undefined && (ts.isStringLiteral(a) || ts.isNoSubstitutionTemplateLiteral(a)))
          out.push({ file: relative(SRC, file), sql: a.text.replace(/\s+/g, ' ').trim() });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

const statements = literalStatements().filter((s) => /^(SELECT|UPDATE|DELETE|INSERT|WITH)\b/i.test(s.sql));

describe('query plans', () => {
  it('finds the statements (the parse works)', () => {
    expect(statements.length).toBeGreaterThan(100);
    expect(statements.some((s) => s.sql.startsWith("SELECT * FROM orders WHERE status = 'processing'"))).toBe(
      true,
    );
  });

  it('scans no growing table except where the scan is the point', () => {
    const db = openDatabase(':memory:');
    const scanning: string[] = [];
    for (const { file, sql } of statements) {
      const params = (sql.match(/\?/g) ?? []).length;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array<null>(params).fill(null)) as {
        detail: string;
      }[];
      const full = plan
        .map((r) => /^SCAN (\w+)(?: AS \w+)?(.*)$/.exec(r.detail))
        .filter(
          (m): m is RegExpExecArray =>
            m !== null && !/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(m[2] as string),
        );
      // a SCAN names the table or its alias: map aliases back through the SQL text
      const tables = full.map((m) => {
        const alias = m[1] as string;
        const aliased = new RegExp(`\\b(\\w+)\\s+(?:AS\\s+)?${alias}\\b`, 'i').exec(sql);
        return GROWING.includes(alias) ? alias : (aliased?.[1] ?? alias);
      });
      if (!tables.some((t) => GROWING.includes(t))) continue;
      if (ALLOWED.some((a) => sql.startsWith(a.sql))) continue;
      scanning.push(`${file}: ${sql}`);
    }
    db.close();
    expect(scanning).toEqual([]);
  });

  it('the settle timer, order lookups, refunds and push recipients use their indexes', () => {
    const db = openDatabase(':memory:');
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1, 2) as { detail: string }[])
        .map((r) => r.detail)
        .join('; ');
    expect(plan("SELECT * FROM orders WHERE status = 'processing' AND confirm_at <= ? AND ? > 0")).toContain(
      'orders_processing_due',
    );
    expect(
      plan('SELECT * FROM orders WHERE out_trade_no = ? AND ? > 0 ORDER BY created_at LIMIT 1'),
    ).toContain('orders_trade_no');
    expect(plan('SELECT * FROM orders WHERE scope = ? AND out_trade_no = ?')).toContain('orders_trade_no');
    expect(plan('SELECT * FROM refunds WHERE order_id = ? AND ? > 0 ORDER BY created_at')).toContain(
      'refunds_order',
    );
    db.close();
  });

  it("the offline device cap reads a day's accepted sales by their index, not every item of the device", () => {
    const db = openDatabase(':memory:');
    const detail = (
      db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT day, SUM(amount) AS s FROM offline_items WHERE device_id = ? AND outcome = 'accepted' AND day >= ? AND day < ? GROUP BY day",
        )
        .all('pos-01', '2026-01-03', '2026-01-08') as { detail: string }[]
    )
      .map((r) => r.detail)
      .join('; ');
    expect(detail).toMatch(/offline_items_accepted_day \(device_id=\? AND day>\? AND day<\?\)/);
    db.close();
  });
});
