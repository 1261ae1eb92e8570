/**
 * Statements domain (I2): a merchant's daily statement, built from the ledger postings of its
 * account, published with the SHA-256 of the file. Only finished UTC days are served, so a
 * statement never changes once published.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { StatementInfo } from '@campus-card/core/api';
import type { HandlerContext, Handlers } from '../context.js';
import { requirePrincipal } from '../context.js';
import { iso } from '../lib/clock.js';
import { ApiError, notFound } from '../lib/problem.js';
import { settleDue } from './payments.js';

const HEADER = 'journal_id,kind,out_trade_no,ref,amount,created_at';

interface Built {
  readonly merchantId: string;
  readonly csv: string;
  readonly lines: number;
  readonly credits: number;
  readonly debits: number;
}

function build(ctx: HandlerContext, date: string): Built {
  const p = requirePrincipal(ctx);
  if (p.merchantId === null) throw new ApiError(403, 'ERR_FORBIDDEN', 'this device belongs to no merchant');
  const start = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date)
    throw new ApiError(400, 'ERR_VALIDATION', `params/date: ${date} is not a day of the calendar`, {
      errors: [{ path: 'params/date', message: 'must be a real UTC day, YYYY-MM-DD' }],
    });
  const end = start + 86_400_000;
  if (end > ctx.state.clock.now()) throw notFound(`statement ${date} (the day is not over)`);
  // A payment confirmed during the day is captured as of its confirmation: capture every due one
  // first, so that none lands in a day already served.
  settleDue(ctx.state);
  const rows = ctx.state.db
    .prepare(
      `SELECT j.journal_id, j.kind, j.ref, j.created_at, p.amount, o.out_trade_no
         FROM postings p JOIN journal j ON j.journal_id = p.journal_id
         LEFT JOIN orders o ON o.order_id = (CASE WHEN instr(j.ref, '/') > 0 THEN substr(j.ref, 1, instr(j.ref, '/') - 1) ELSE j.ref END)
        WHERE p.account = ? AND j.created_at >= ? AND j.created_at < ?
        ORDER BY j.journal_id`,
    )
    .all(`merchant:${p.merchantId}`, start, end) as {
    journal_id: number;
    kind: string;
    ref: string;
    created_at: number;
    amount: number;
    out_trade_no: string | null;
  }[];
  let credits = 0;
  let debits = 0;
  const lines = [HEADER];
  for (const r of rows) {
    if (r.amount >= 0) credits += r.amount;
    else debits -= r.amount;
    lines.push(
      [r.journal_id, r.kind, r.out_trade_no ?? '', r.ref, r.amount, iso(r.created_at)]
        .map((v) => String(v).replace(/[,\r\n"]/g, '_'))
        .join(','),
    );
  }
  return { merchantId: p.merchantId, csv: `${lines.join('\n')}\n`, lines: rows.length, credits, debits };
}

/** Statement handlers. */
export const statementHandlers: Handlers = {
  getStatement: (ctx) => {
    const b = build(ctx as HandlerContext, ctx.params.date);
    const bytes = Buffer.from(b.csv, 'utf8');
    const body: StatementInfo = {
      merchant_id: b.merchantId,
      date: ctx.params.date,
      hash_type: 'sha-256',
      hash_value: createHash('sha256').update(bytes).digest('hex'),
      size_bytes: bytes.length,
      line_count: b.lines,
      credits: b.credits,
      debits: b.debits,
      net: b.credits - b.debits,
      generated_at: iso(ctx.state.clock.now()),
    };
    return { status: 200, body };
  },
  downloadStatement: (ctx) => {
    const b = build(ctx as HandlerContext, ctx.params.date);
    return { status: 200, body: b.csv, headers: { 'content-type': 'text/csv; charset=utf-8' } };
  },
};
