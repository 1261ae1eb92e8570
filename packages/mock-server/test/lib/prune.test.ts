import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { NONCE_MARGIN_S, noncesPrunedUntil, pruneExpired } from '../../src/lib/prune.js';
import { demoPlatform, json, operator, signed } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const count = (pf: MockPlatform, table: string): number =>
  (pf.state.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('pruneExpired', () => {
  it('drops nonces a day past their expiry and idempotency records past 24 h, and nothing younger', async () => {
    p = await demoPlatform();
    const pf = p;
    const topUp = (key: string, no: string) =>
      pf.app.inject(
        signed(
          pf,
          operator(pf),
          'POST',
          '/v1/wallets/s-001/top-ups',
          { amount: 100, out_trade_no: no, channel: 'simulated' },
          {
            idempotencyKey: key,
          },
        ),
      );
    expect((await topUp('k-old', 'T-old')).statusCode).toBe(201);
    const noncesAfterFirst = count(pf, 'nonces');
    expect(noncesAfterFirst).toBeGreaterThan(0);
    expect(count(pf, 'idempotency')).toBe(1);

    // a day later: the record is within its retention (answers replay), the nonce within its margin
    pf.clock.advance(86_400);
    expect(pruneExpired(pf.state)).toEqual({ nonces: 0, idempotency: 0, more: false });
    expect((await topUp('k-new', 'T-new')).statusCode).toBe(201);
    expect(count(pf, 'idempotency')).toBe(2);

    // past the retention and the nonce margin of the first request only
    pf.clock.advance(300 + 2);
    const r = pruneExpired(pf.state);
    expect(r).toEqual({ nonces: noncesAfterFirst, idempotency: 1, more: false });
    expect(
      pf.state.db
        .prepare('SELECT idem_key FROM idempotency')
        .all()
        .map((x) => (x as { idem_key: string }).idem_key),
    ).toEqual(['k-new']);
    // the younger request still replays its first answer
    const again = await topUp('k-new', 'T-new');
    expect([again.statusCode, again.headers['idempotent-replayed']]).toEqual([201, 'true']);
    // the older one runs again, and its business key keeps it from acting twice
    const old = await topUp('k-old', 'T-old');
    expect(old.statusCode).toBe(200);
    expect(
      json<{ balance: number }>(await pf.app.inject(signed(pf, operator(pf), 'GET', '/v1/wallets/s-001')))
        .balance,
    ).toBe(10_000 + 200);
    expect(NONCE_MARGIN_S).toBe(86_400);
  });

  it('works through a backlog in bounded steps, oldest first', async () => {
    p = await demoPlatform();
    const db = p.state.db;
    const now = p.clock.nowSeconds();
    const ins = db.prepare('INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 25_000; i++) ins.run('k', `n${i}`, now - NONCE_MARGIN_S - 1000 + (i % 500));
      ins.run('k', 'young', now + 10);
    })();
    const before = count(p, 'nonces');
    const first = pruneExpired(p.state);
    expect(first).toEqual({ nonces: 20_000, idempotency: 0, more: true });
    const second = pruneExpired(p.state);
    expect(second.nonces).toBe(5000);
    expect(second.more).toBe(false);
    expect(count(p, 'nonces')).toBe(before - 25_000);
    expect(db.prepare("SELECT 1 FROM nonces WHERE nonce = 'young'").get()).toBeDefined();
  });

  it('a replayed request signature stays refused while its nonce is kept', async () => {
    p = await demoPlatform();
    const req = signed(p, operator(p), 'GET', '/v1/wallets/s-001', undefined, { nonce: 'fixed-nonce-1' });
    expect((await p.app.inject(req)).statusCode).toBe(200);
    pruneExpired(p.state);
    const replay = await p.app.inject(req);
    expect([replay.statusCode, json(replay).code]).toEqual([401, 'ERR_SIG_NONCE_REPLAYED']);
  });

  it('a signature whose nonce was pruned at a clock moved forward stays refused once the clock is set back (the mark is kept in the database)', async () => {
    p = await demoPlatform();
    const req = signed(p, operator(p), 'GET', '/v1/wallets/s-001', undefined, { nonce: 'fixed-nonce-rv' });
    expect((await p.app.inject(req)).statusCode).toBe(200);
    const clock = (body: object) => p!.app.inject({ method: 'POST', url: '/admin/clock', payload: body });
    const start = new Date(p.clock.now()).toISOString();
    await clock({ advance_s: 3 * 86_400 });
    expect(pruneExpired(p.state).nonces).toBeGreaterThan(0);
    expect(noncesPrunedUntil(p.state)).toBeGreaterThan(0);
    await clock({ set: start });
    const replay = await p.app.inject(req);
    expect([replay.statusCode, json(replay).code]).toEqual([401, 'ERR_SIG_NONCE_REPLAYED']);
    // the mark is in the database: a platform reopened on it knows it too
    const row = p.state.db.prepare("SELECT until_s FROM prune_marks WHERE what = 'nonces'").get() as {
      until_s: number;
    };
    expect(row.until_s).toBe(noncesPrunedUntil(p.state));
    // signatures made after the mark pass as usual
    await clock({ advance_s: 3 * 86_400 });
    expect((await p.app.inject(signed(p, operator(p), 'GET', '/v1/wallets/s-001'))).statusCode).toBe(200);
  });
});
