import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger, createClock, createMockPlatform, type MockPlatform } from '../src/index.js';
import { deviceSigner, json, qrOf, signed, T0 } from './helpers.js';

const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function filePlatform(): Promise<{ p: MockPlatform; dbPath: string; reader: Database.Database }> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-gc-http-'));
  dirs.push(dir);
  const dbPath = join(dir, 'platform.db');
  const p = await createMockPlatform({ dbPath, demo: true, clock: createClock({ start: T0, frozen: true }) });
  closers.push(() => p.close());
  // A second connection sees only what is committed.
  const reader = new Database(dbPath, { readonly: true });
  closers.push(() => reader.close());
  return { p, dbPath, reader };
}

const PAYERS = ['s-001', 't-001', 'p-001', 'p-002'] as const;
const balanceOf = (p: MockPlatform, who: string) =>
  (
    p.state.db.prepare('SELECT balance FROM accounts WHERE account = ?').get(`wallet:${who}`) as {
      balance: number;
    }
  ).balance;

describe('group commit over HTTP', () => {
  it('concurrent payments are each committed exactly once, acknowledged only once committed, and the ledger balances', async () => {
    const { p, dbPath, reader } = await filePlatform();
    const before = Object.fromEntries(PAYERS.map((w) => [w, balanceOf(p, w)]));
    const pos = deviceSigner(p, 'pos-01');
    const committed = reader.prepare("SELECT status FROM orders WHERE out_trade_no = ? AND kind = 'payment'");
    const N = 60;
    const payments = await Promise.all(
      Array.from({ length: N }, async (_, i) => ({
        no: `GC-${i}`,
        amount: i + 1,
        who: PAYERS[i % PAYERS.length] as string,
        qr: await qrOf(p, PAYERS[i % PAYERS.length] as string, 2),
      })),
    );
    const gc0 = p.state.groupCommit.stats();
    const acknowledgedUncommitted: string[] = [];
    const send = (x: (typeof payments)[number]) =>
      p.app
        .inject(
          signed(
            p,
            pos,
            'POST',
            '/v1/payments',
            { out_trade_no: x.no, amount: x.amount, qr_text: x.qr },
            {
              idempotencyKey: randomUUID(),
            },
          ),
        )
        .then((res) => {
          // Acknowledged ⇒ committed: another connection must already see the order.
          if (res.statusCode < 300 && committed.get(x.no) === undefined) acknowledgedUncommitted.push(x.no);
          return res;
        });
    // Every payment, plus a concurrent retry of every fifth one (same body, new Idempotency-Key):
    // the retry finds the order (maybe still uncommitted, in the same batch) and must not pay twice.
    const responses = await Promise.all([
      ...payments.map(send),
      ...payments.filter((_, i) => i % 5 === 0).map(send),
    ]);
    expect(acknowledgedUncommitted).toEqual([]);
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(N);
    expect(codes.filter((c) => c === 200)).toHaveLength(N / 5);
    for (const r of responses) expect(json<{ status: string }>(r).status).toBe('success');

    // Batched: far fewer COMMITs than requests.
    const gc1 = p.state.groupCommit.stats();
    expect(gc1.failed).toBe(gc0.failed);
    expect(gc1.batches - gc0.batches).toBeLessThan(responses.length / 2);
    expect(gc1.maxJoins).toBeGreaterThan(3);

    // Exactly once: one order, one journal entry, one used code per payment.
    const count = (sql: string) => (reader.prepare(sql).get() as { n: number }).n;
    expect(count("SELECT COUNT(*) AS n FROM orders WHERE out_trade_no LIKE 'GC-%'")).toBe(N);
    expect(
      count(
        "SELECT COUNT(*) AS n FROM journal j JOIN orders o ON o.order_id = j.ref WHERE o.out_trade_no LIKE 'GC-%'",
      ),
    ).toBe(N);
    expect(count("SELECT COUNT(*) AS n FROM used_codes WHERE principal_id = 'pos-01'")).toBe(N);
    for (const w of PAYERS) {
      const paid = payments.filter((x) => x.who === w).reduce((s, x) => s + x.amount, 0);
      expect(balanceOf(p, w)).toBe((before[w] as number) - paid);
    }
    expect(checkLedger(p.state)).toMatchObject({ balanced: true, problems: [] });

    // Durable: after a restart the same orders are there.
    await p.close();
    const again = await createMockPlatform({
      dbPath,
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    closers.push(() => again.close());
    expect(
      (
        again.state.db.prepare("SELECT COUNT(*) AS n FROM orders WHERE out_trade_no LIKE 'GC-%'").get() as {
          n: number;
        }
      ).n,
    ).toBe(N);
    expect(checkLedger(again.state).balanced).toBe(true);
  });

  it('a failure inside one request’s savepoint rolls back only that request', async () => {
    const { p } = await filePlatform();
    const pos = deviceSigner(p, 'pos-01');
    // Fail the payment of 777 fen after its code, order and journal entry are written.
    p.state.db.exec(
      "CREATE TEMP TRIGGER fail_777 BEFORE INSERT ON postings WHEN NEW.amount = -777 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    const before = balanceOf(p, 'p-001');
    const amounts = [101, 102, 777, 103, 104];
    const reqs = await Promise.all(
      amounts.map(async (amount) => ({
        amount,
        key: randomUUID(),
        body: { out_trade_no: `SP-${amount}`, amount, qr_text: await qrOf(p, 'p-001', 2) },
      })),
    );
    const gc0 = p.state.groupCommit.stats();
    const errors = console.error;
    console.error = () => undefined; // the 500 is logged
    let responses: Awaited<ReturnType<MockPlatform['app']['inject']>>[];
    try {
      responses = await Promise.all(
        reqs.map((r) =>
          p.app.inject(signed(p, pos, 'POST', '/v1/payments', r.body, { idempotencyKey: r.key })),
        ),
      );
    } finally {
      console.error = errors;
    }
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 500, 201, 201]);
    expect(json(responses[2] as never)).toMatchObject({ code: 'ERR_INTERNAL', retryable: true });
    const gc1 = p.state.groupCommit.stats();
    expect(gc1.failed).toBe(gc0.failed);
    expect(gc1.batches - gc0.batches).toBeLessThan(amounts.length);

    const db = p.state.db;
    const rows = db
      .prepare("SELECT out_trade_no FROM orders WHERE out_trade_no LIKE 'SP-%' ORDER BY amount")
      .all() as { out_trade_no: string }[];
    expect(rows.map((r) => r.out_trade_no)).toEqual(['SP-101', 'SP-102', 'SP-103', 'SP-104']);
    expect(balanceOf(p, 'p-001')).toBe(before - (101 + 102 + 103 + 104));
    expect(checkLedger(p.state).balanced).toBe(true);

    // Nothing of the failed request stayed: not its code (one use per code), not its
    // idempotency outcome. The same request, retried, now succeeds.
    db.exec('DROP TRIGGER temp.fail_777');
    const failed = reqs[2] as (typeof reqs)[number];
    const retry = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', failed.body, { idempotencyKey: failed.key }),
    );
    expect([retry.statusCode, json(retry).status]).toEqual([201, 'success']);
    expect(balanceOf(p, 'p-001')).toBe(before - (101 + 102 + 103 + 104 + 777));
    expect(checkLedger(p.state).balanced).toBe(true);
  });
});
