/**
 * The double-entry ledger under the wallets. Every journal entry's postings sum to zero;
 * account balances are cached and checked against the postings.
 *
 * Accounts: `wallet:<person>` (what the platform owes the holder), `merchant:<id>` (owed to
 * the merchant), `channel:<name>` (cash received through a top-up channel, negative = asset),
 * `fees:<school>:<type>` (fees collected).
 *
 * @module
 */
import { FeeType, type LedgerCheck, TopUpBody } from '@campus-card/core/api';
import type { Handlers, PlatformState } from '../context.js';

/** The top-up channels (`channel:<name>` accounts). */
const CHANNELS: readonly string[] = TopUpBody.properties.channel.anyOf.map((c) => c.const);
/** The fee types (`fees:<school>:<type>` accounts). */
const FEE_TYPES: readonly string[] = FeeType.anyOf.map((t) => t.const);

/** The wallet account of a person. */
export const walletAccount = (personId: string): string => `wallet:${personId}`;

/**
 * Posts a balanced journal entry, dated `at` (unix ms; default now: when the money moved). Must
 * run inside a transaction.
 *
 * @throws RangeError when the postings do not sum to zero or an amount is not an integer.
 */
export function postJournal(
  state: PlatformState,
  ref: string,
  kind: string,
  postings: readonly (readonly [string, number])[],
  at: number = state.clock.now(),
): void {
  let sum = 0;
  for (const [, amount] of postings) {
    if (!Number.isSafeInteger(amount)) throw new RangeError('amounts are integer fen');
    sum += amount;
  }
  if (sum !== 0) throw new RangeError(`journal ${ref} does not balance (${sum})`);
  const j = state.db
    .prepare('INSERT INTO journal (ref, kind, created_at) VALUES (?, ?, ?)')
    .run(ref, kind, at);
  // One statement for all postings and one for all balances (not one each per posting).
  const n = postings.length;
  const ins = state.db.prepare(
    `INSERT INTO postings (journal_id, account, amount) VALUES ${Array(n).fill('(?, ?, ?)').join(', ')}`,
  );
  const upd = state.db.prepare(
    `INSERT INTO accounts (account, balance, updated_at) VALUES ${Array(n).fill('(?, ?, ?)').join(', ')} ON CONFLICT(account) DO UPDATE SET balance = balance + excluded.balance, updated_at = MAX(updated_at, excluded.updated_at)`,
  );
  const pArgs: (string | number | bigint)[] = [];
  const aArgs: (string | number)[] = [];
  for (const [account, amount] of postings) {
    pArgs.push(j.lastInsertRowid, account, amount);
    aArgs.push(account, amount, at);
  }
  ins.run(...pArgs);
  upd.run(...aArgs);
}

/** The balance of an account (0 when it has none). */
export function balanceOf(state: PlatformState, account: string): number {
  const r = state.db.prepare('SELECT balance FROM accounts WHERE account = ?').get(account) as
    | { balance: number }
    | undefined;
  return r?.balance ?? 0;
}

/** Checks the ledger. */
export function checkLedger(state: PlatformState): LedgerCheck {
  const problems: string[] = [];
  const db = state.db;
  const unbalanced = db
    .prepare('SELECT journal_id, SUM(amount) AS s FROM postings GROUP BY journal_id HAVING s <> 0 LIMIT 20')
    .all() as { journal_id: number; s: number }[];
  for (const u of unbalanced) problems.push(`journal ${u.journal_id} sums to ${u.s}`);
  // A full join: an account with postings but no cached balance row is a mismatch too.
  const mismatched = db
    .prepare(
      `SELECT COALESCE(a.account, p.account) AS account, a.balance, COALESCE(p.s, 0) AS s FROM accounts a
       FULL JOIN (SELECT account, SUM(amount) AS s FROM postings GROUP BY account) p ON p.account = a.account
       WHERE a.balance IS NULL OR a.balance <> COALESCE(p.s, 0) LIMIT 20`,
    )
    .all() as { account: string; balance: number | null; s: number }[];
  for (const m of mismatched)
    problems.push(
      m.balance === null
        ? `account ${m.account} has no cached balance but postings sum to ${m.s}`
        : `account ${m.account} caches ${m.balance} but postings sum to ${m.s}`,
    );
  const totals = db
    .prepare(
      'SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS d, COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS c FROM postings',
    )
    .get() as { n: number; d: number; c: number };
  if (totals.d !== totals.c) problems.push(`debits ${totals.d} ≠ credits ${totals.c}`);
  // Orders and the ledger agree, wallet by wallet: each person's successful orders net to what
  // their wallet holds (a total alone misses a debit booked to another person's wallet).
  const orderNets = db
    .prepare(
      `SELECT COALESCE(SUM(CASE
         WHEN kind = 'top_up' AND status = 'success' THEN amount
         WHEN kind IN ('payment', 'offline_payment', 'fee') AND status = 'success' THEN -(amount - refunded_amount)
         ELSE 0 END), 0) AS s, person_id FROM orders GROUP BY person_id`,
    )
    .all() as { s: number; person_id: string }[];
  const wallets = db.prepare("SELECT account, balance FROM accounts WHERE account LIKE 'wallet:%'").all() as {
    account: string;
    balance: number;
  }[];
  const byWallet = new Map<string, { orders: number; balance: number }>();
  let orderNet = 0;
  let walletTotal = 0;
  for (const o of orderNets) {
    orderNet += o.s;
    byWallet.set(`wallet:${o.person_id}`, { orders: o.s, balance: 0 });
  }
  for (const w of wallets) {
    walletTotal += w.balance;
    const e = byWallet.get(w.account);
    if (e === undefined) byWallet.set(w.account, { orders: 0, balance: w.balance });
    else e.balance = w.balance;
  }
  let reported = 0;
  for (const [account, e] of [...byWallet].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (e.orders === e.balance) continue;
    if (++reported > 20) break;
    problems.push(`${account} holds ${e.balance} but its orders net ${e.orders}`);
  }
  if (orderNet !== walletTotal) problems.push(`orders net ${orderNet} ≠ wallet total ${walletTotal}`);
  // And the other side of each order: a merchant account holds what its captured payments net
  // (refunds and reversals taken back), a fee account (of the student's school) the fees paid to
  // it, the channels together
  // what the top-ups brought in. A capture or refund booked to the wrong merchant balances every
  // journal and every wallet, and only shows here (merchants' statements are built from these).
  const creditNets = db
    .prepare(
      `SELECT account, SUM(s) AS s FROM (
         SELECT CASE WHEN kind = 'fee'
                     THEN 'fees:' || (SELECT school_id FROM people WHERE person_id = orders.student_id) || ':' || fee_type
                     ELSE 'merchant:' || COALESCE(merchant_id, scope) END AS account,
                amount - refunded_amount AS s
           FROM orders WHERE kind IN ('payment', 'offline_payment', 'fee') AND status = 'success')
       GROUP BY account`,
    )
    .all() as { account: string; s: number }[];
  const credited = new Map<string, { orders: number; balance: number }>();
  for (const c of creditNets) credited.set(c.account, { orders: c.s, balance: 0 });
  const creditAccounts = db
    .prepare("SELECT account, balance FROM accounts WHERE account LIKE 'merchant:%' OR account LIKE 'fees:%'")
    .all() as { account: string; balance: number }[];
  for (const a of creditAccounts) {
    const e = credited.get(a.account);
    if (e === undefined) credited.set(a.account, { orders: 0, balance: a.balance });
    else e.balance = a.balance;
  }
  reported = 0;
  for (const [account, e] of [...credited].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (e.orders === e.balance) continue;
    if (++reported > 20) break;
    problems.push(`${account} holds ${e.balance} but its orders net ${e.orders}`);
  }
  const topUps = (
    db
      .prepare(
        "SELECT COALESCE(SUM(amount), 0) AS s FROM orders WHERE kind = 'top_up' AND status = 'success'",
      )
      .get() as { s: number }
  ).s;
  const channels = (
    db
      .prepare("SELECT COALESCE(SUM(balance), 0) AS s FROM accounts WHERE account LIKE 'channel:%'")
      .get() as {
      s: number;
    }
  ).s;
  if (channels !== -topUps) problems.push(`channels hold ${channels} but top-ups brought in ${topUps}`);
  // Each journal entry is the posting of an order: its capture (the order's own kind, ref the
  // order id), a refund of a payment that records it (`<order>/<out_refund_no>`) or the reversal
  // of a reversed payment (`<order>/reverse`), once. An entry of another kind, of no order or of
  // a refund never made moves money nobody can explain, though it balances; and the totals read
  // by kind (a person's summary) would misfile it.
  const strays = db
    .prepare(
      `SELECT j.journal_id, j.ref, j.kind, o.kind AS order_kind FROM journal j
         LEFT JOIN orders o ON o.order_id = (CASE WHEN instr(j.ref, '/') > 0 THEN substr(j.ref, 1, instr(j.ref, '/') - 1) ELSE j.ref END)
        WHERE COALESCE(
          (instr(j.ref, '/') = 0 AND o.kind = j.kind AND j.kind IN ('top_up', 'payment', 'offline_payment', 'fee'))
          OR (j.kind = 'refund' AND o.kind IN ('payment', 'offline_payment') AND EXISTS (
                SELECT 1 FROM refunds r WHERE r.order_id = o.order_id AND r.out_refund_no = substr(j.ref, instr(j.ref, '/') + 1)))
          OR (j.kind = 'reversal' AND o.kind IN ('payment', 'offline_payment') AND o.status = 'reversed'
              AND j.ref = o.order_id || '/reverse'),
          0) = 0
        ORDER BY j.journal_id LIMIT 20`,
    )
    .all() as { journal_id: number; ref: string; kind: string; order_kind: string | null }[];
  for (const j of strays)
    problems.push(
      j.order_kind === null
        ? `journal ${j.journal_id} (${j.kind}) names no order: ${j.ref}`
        : `journal ${j.journal_id} (${j.kind} ${j.ref}) is no posting of its ${j.order_kind} order`,
    );
  const twice = db
    .prepare(
      'SELECT ref, kind, COUNT(*) AS n FROM journal GROUP BY ref, kind HAVING n > 1 ORDER BY ref LIMIT 20',
    )
    .all() as { ref: string; kind: string; n: number }[];
  for (const t of twice) problems.push(`${t.n} journal entries post the ${t.kind} ${t.ref}`);
  // Every account is one the platform opens: a person's wallet, a merchant's account, a school's
  // fee account of a fee type, a top-up channel. Money in any other is outside every check above.
  const unknown = db
    .prepare(
      `SELECT account FROM (SELECT account FROM accounts UNION SELECT account FROM postings) WHERE NOT (
         (substr(account, 1, 7) = 'wallet:' AND EXISTS (SELECT 1 FROM people WHERE person_id = substr(account, 8)))
         OR (substr(account, 1, 9) = 'merchant:' AND EXISTS (SELECT 1 FROM merchants WHERE merchant_id = substr(account, 10)))
         OR account IN (SELECT 'channel:' || value FROM json_each(?))
         OR account IN (SELECT 'fees:' || s.school_id || ':' || t.value FROM schools s, json_each(?) t)
       ) ORDER BY account LIMIT 20`,
    )
    .all(JSON.stringify(CHANNELS), JSON.stringify(FEE_TYPES)) as { account: string }[];
  for (const u of unknown) problems.push(`account ${u.account} is no account the platform opens`);
  // A payment's refunds add up to what it says it returned (a reversal returns the rest too).
  const refundsOff = db
    .prepare(
      `SELECT o.out_trade_no, o.status, o.amount, o.refunded_amount, COALESCE(SUM(r.amount), 0) AS refunds
         FROM orders o LEFT JOIN refunds r ON r.order_id = o.order_id
        WHERE o.kind IN ('payment', 'offline_payment') AND o.status IN ('success', 'reversed')
        GROUP BY o.order_id
       HAVING (o.status = 'success' AND refunds <> o.refunded_amount) OR refunds > o.refunded_amount OR o.refunded_amount > o.amount
        ORDER BY o.order_id LIMIT 20`,
    )
    .all() as {
    out_trade_no: string;
    status: string;
    amount: number;
    refunded_amount: number;
    refunds: number;
  }[];
  for (const r of refundsOff)
    problems.push(
      `${r.status} order ${r.out_trade_no} of ${r.amount} returned ${r.refunded_amount} but its refunds sum to ${r.refunds}`,
    );
  const entries = (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
  return {
    balanced: problems.length === 0,
    journal_entries: entries,
    postings: totals.n,
    total_debits: totals.d,
    total_credits: totals.c,
    wallet_total: walletTotal,
    problems,
  };
}

/** Ledger handlers. */
export const ledgerHandlers: Handlers = {
  checkLedger: (ctx) => ({ status: 200, body: checkLedger(ctx.state) }),
};
