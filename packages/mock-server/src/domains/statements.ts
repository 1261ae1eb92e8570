/**
 * Statements domain (I2): a merchant's daily statement, built from the ledger postings of its
 * account, published with the SHA-256 of the file. The day is the business day, from 00:00 to
 * 24:00 at the platform's UTC offset (`settings.dayUtcOffset`, `+08:00` by default), and the
 * metadata states its bounds (`from`, `to`) and the offset. Only finished days (their local
 * midnight passed) are served, so a statement never changes once published.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { businessDayBounds, type DayBounds, parseUtcOffset } from '@campus-card/core';
import type { StatementInfo } from '@campus-card/core/api';
import type { HandlerContext, Handlers } from '../context.js';
import { requirePrincipal } from '../context.js';
import { iso } from '../lib/clock.js';
import { ApiError, notFound } from '../lib/problem.js';
import { settleDue } from './payments.js';

const HEADER = 'journal_id,kind,out_trade_no,ref,amount,created_at';
/** `0000-01-01T00:00:00Z`, epoch ms: the first time a `Timestamp` can write. */
const YEAR_0 = Date.parse('0000-01-01T00:00:00Z');

interface Built {
  readonly merchantId: string;
  readonly csv: string;
  readonly lines: number;
  readonly credits: number;
  readonly debits: number;
  /** The day's bounds, epoch ms. */
  readonly bounds: DayBounds;
}

function build(ctx: HandlerContext, date: string): Built {
  const p = requirePrincipal(ctx);
  if (p.merchantId === null) throw new ApiError(403, 'ERR_FORBIDDEN', 'this device belongs to no merchant');
  const bounds = businessDayBounds(date, parseUtcOffset(ctx.state.settings.dayUtcOffset));
  if (bounds === undefined)
    throw new ApiError(400, 'ERR_VALIDATION', `params/date: ${date} is not a day of the calendar`, {
      errors: [{ path: 'params/date', message: 'must be a real day of the calendar, YYYY-MM-DD' }],
    });
  const { start, end } = bounds;
  // (at an offset east of UTC, 0000-01-01 starts in year -1, which no RFC 3339 time can write)
  if (start < YEAR_0) throw notFound(`statement ${date} (the day starts before ${iso(YEAR_0)})`);
  if (end > ctx.state.clock.now())
    throw notFound(
      `statement ${date} (the day is not over: it ends at ${iso(end)}, 24:00 at UTC${ctx.state.settings.dayUtcOffset})`,
    );
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
  return {
    merchantId: p.merchantId,
    csv: `${lines.join('\n')}\n`,
    lines: rows.length,
    credits,
    debits,
    bounds,
  };
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
      from: iso(b.bounds.start),
      to: iso(b.bounds.end),
      day_utc_offset: ctx.state.settings.dayUtcOffset,
    };
    return { status: 200, body };
  },
  downloadStatement: (ctx) => {
    const b = build(ctx as HandlerContext, ctx.params.date);
    return { status: 200, body: b.csv, headers: { 'content-type': 'text/csv; charset=utf-8' } };
  },
};
