import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CARD_STATUS, decodeStatusList, exportJwk, generateKeyPair, getStatus } from '@campus-card/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEMO_OPERATOR } from '../src/demo.js';
import { getTrustMaterial } from '../src/domains/cards.js';
import { checkLedger, createClock, createMockPlatform, type MockPlatform } from '../src/index.js';
import { pruneExpired } from '../src/lib/prune.js';
import {
  deviceSigner,
  failNextCommit,
  json,
  operator,
  qrOf,
  signed,
  startReceiver,
  T0,
  whenDelayed,
} from './helpers.js';

const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The demo platform on the database file at `dbPath` (made, or opened again after a restart), closed after the test. */
async function platformOn(dbPath: string): Promise<MockPlatform> {
  const p = await createMockPlatform({ dbPath, demo: true, clock: createClock({ start: T0, frozen: true }) });
  closers.push(() => p.close());
  return p;
}

async function filePlatform(): Promise<{ p: MockPlatform; dbPath: string; reader: Database.Database }> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-gc-http-'));
  dirs.push(dir);
  const dbPath = join(dir, 'platform.db');
  const p = await platformOn(dbPath);
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
    const again = await platformOn(dbPath);
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

describe('a failed COMMIT', () => {
  // Several requests in one batch: the test opens the batch (as the first request's write does)
  // and runs them in the same event-loop turn, before its COMMIT.
  it('leaves no principal key in memory: a request signed with a key whose registration was rolled back is refused', async () => {
    const { p } = await filePlatform();
    const k = generateKeyPair('ES256').privateKey;
    const gate = { id: 'gate-rb', jwk: exportJwk(k, { includePrivate: true }) };
    const body = {
      school_id: 'sch-demo',
      device_id: gate.id,
      type: 'gate',
      zone: 'gate:main',
      public_jwk: exportJwk(k.publicKey),
    };
    failNextCommit(p);
    p.state.groupCommit.join();
    expect((await p.invoke('createDevice', { body }, DEMO_OPERATOR)).status).toBe(201);
    // the device's first request reads its key while the registration is not committed yet
    const first = p.app.inject(signed(p, gate, 'GET', '/v1/schools/sch-demo/root-key'));
    await expect(p.state.groupCommit.settled()).rejects.toThrow(/disk is full/);
    expect(
      p.state.db.prepare('SELECT 1 FROM principals WHERE principal_id = ?').get(gate.id),
    ).toBeUndefined();
    // in flight while the batch failed: it may have read its rows, so it is answered 503 (retryable)
    const a = await first;
    expect([a.statusCode, json(a).code, json(a).retryable]).toEqual([503, 'ERR_INTERNAL', true]);
    const later = await p.app.inject(signed(p, gate, 'GET', '/v1/schools/sch-demo/root-key'));
    expect([later.statusCode, json(later).code]).toEqual([401, 'ERR_SIG_UNKNOWN_KEY']);
    // registered again (and committed), the key works
    const again = await p.app.inject(signed(p, operator(p), 'POST', '/v1/devices', body));
    expect(again.statusCode, again.body).toBe(201);
    expect((await p.app.inject(signed(p, gate, 'GET', '/v1/schools/sch-demo/root-key'))).statusCode).toBe(
      200,
    );
  });

  it('leaves no subscription in memory: nothing is pushed to a subscription that was rolled back', async () => {
    const { p, reader } = await filePlatform();
    const receiver = await startReceiver();
    closers.push(() => receiver.close());
    const card = p.demo?.cards.find((c) => c.personId === 's-001')?.cardId as string;
    failNextCommit(p);
    p.state.groupCommit.join();
    const sub = await p.invoke(
      'createSubscription',
      {
        body: {
          url: `${receiver.base}/rolled-back`,
          event_types: ['card.status_changed'],
          recipient_person_id: 's-001',
        },
      },
      DEMO_OPERATOR,
    );
    expect(sub.status).toBe(201);
    // a request of the same batch reads the subscriptions (and queues a push)
    expect((await p.invoke('reportCardLost', { params: { card_id: card } }, DEMO_OPERATOR)).status).toBe(200);
    await expect(p.state.groupCommit.settled()).rejects.toThrow(/disk is full/);
    const count = (sql: string) => (reader.prepare(sql).get() as { n: number }).n;
    expect(count('SELECT COUNT(*) AS n FROM subscriptions')).toBe(0);

    // the card's status changes again, for good: no subscription wants it
    const lost = await p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${card}/report-lost`, {}));
    expect(lost.statusCode, lost.body).toBe(200);
    await p.pushes.pump();
    expect(count('SELECT COUNT(*) AS n FROM pushes')).toBe(0);
    expect(receiver.on('/rolled-back')).toEqual([]);
  });

  it('fails a request whose nonce was recorded in the failed batch; its retry applies once, and no committed nonce is accepted again', async () => {
    const { p, reader } = await filePlatform();
    const op = operator(p);
    const body = { out_trade_no: 'TU-RB', amount: 250, channel: 'simulated' };
    const before = balanceOf(p, 's-002');
    // the nonce is recorded in one batch; the request's work runs after its delay, in a later one
    p.state.faults.set([{ kind: 'delay', route: 'topUpWallet', delay_ms: 50, count: 1 }]);
    const sleeping = whenDelayed(p);
    failNextCommit(p);
    const original = signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', body, { idempotencyKey: 'k-rb' });
    const first = p.app.inject(original);
    await sleeping;
    await expect(p.state.groupCommit.settled()).rejects.toThrow(/disk is full/);
    const a = await first;
    expect([a.statusCode, json(a).code, json(a).retryable]).toEqual([503, 'ERR_INTERNAL', true]);
    expect(balanceOf(p, 's-002')).toBe(before);
    expect(reader.prepare("SELECT 1 FROM orders WHERE out_trade_no = 'TU-RB'").get()).toBeUndefined();

    // the retry (same key, fresh signature) applies once
    const retryReq = signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', body, { idempotencyKey: 'k-rb' });
    const retry = await p.app.inject(retryReq);
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, undefined]);
    expect(balanceOf(p, 's-002')).toBe(before + 250);
    // its nonce is committed: never accepted again
    const replay = await p.app.inject(retryReq);
    expect([replay.statusCode, json(replay).code]).toEqual([401, 'ERR_SIG_NONCE_REPLAYED']);
    // the first nonce was rolled back with its request, which did nothing: the database holds it
    // free, so that signed request may come again, and is answered as its retry was
    const nonceOf = (r: typeof original) =>
      /nonce="([^"]*)"/.exec(String((r.headers as Record<string, string>)['signature-input']))?.[1];
    const nonces = reader.prepare('SELECT nonce FROM nonces WHERE key_id = ?').pluck().all(op.id);
    expect(nonces).not.toContain(nonceOf(original));
    expect(nonces).toContain(nonceOf(retryReq));
    const again = await p.app.inject(original);
    expect([again.statusCode, again.headers['idempotent-replayed'], again.body]).toEqual([
      201,
      'true',
      retry.body,
    ]);
    expect(balanceOf(p, 's-002')).toBe(before + 250);
    expect(checkLedger(p.state).balanced).toBe(true);
  });

  it('answers 503 to a request in flight while a batch failed (it may have read rows rolled back since); read again, it answers', async () => {
    const { p } = await filePlatform();
    const op = operator(p);
    const before = balanceOf(p, 's-002');
    // the read is held up after its authentication (its nonce commits in a batch of its own)
    p.state.faults.set([{ kind: 'delay', route: 'getWallet', delay_ms: 50, count: 1 }]);
    const sleeping = whenDelayed(p);
    const read = p.app.inject(signed(p, op, 'GET', '/v1/wallets/s-002'));
    await sleeping;
    await p.state.groupCommit.settled();
    // meanwhile another request's top-up is written and rolled back
    failNextCommit(p);
    p.state.groupCommit.join();
    const topUp = await p.invoke(
      'topUpWallet',
      {
        params: { person_id: 's-002' },
        body: { out_trade_no: 'TU-RB-2', amount: 900, channel: 'simulated' },
      },
      DEMO_OPERATOR,
    );
    expect(topUp.status).toBe(201);
    await expect(p.state.groupCommit.settled()).rejects.toThrow(/disk is full/);
    const r = await read;
    expect([r.statusCode, json(r).code, json(r).retryable]).toEqual([503, 'ERR_INTERNAL', true]);
    const again = await p.app.inject(signed(p, op, 'GET', '/v1/wallets/s-002'));
    expect([again.statusCode, json(again).balance]).toEqual([200, before]);
  });

  it('an admin write (no Idempotency-Key) that committed keeps its answer when another batch fails meanwhile', async () => {
    const { p, reader } = await filePlatform();
    const keyOf = () =>
      reader.prepare("SELECT issuer_jwk FROM school_keys WHERE school_id = 'sch-demo'").pluck().get();
    const before = keyOf();
    const tx = p.state.tx;
    let armed = true;
    p.state.tx = ((fn) => {
      if (armed) {
        // another request's batch fails while the rotation runs (before its own transaction)
        armed = false;
        failNextCommit(p);
        p.state.groupCommit.join();
        p.state.groupCommit.flush();
      }
      return tx(fn);
    }) as typeof tx;
    const res = await p.app.inject({
      method: 'POST',
      url: '/admin/rotate-issuer',
      payload: { school_id: 'sch-demo' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(keyOf()).not.toBe(before);
  });

  it('a request whose batch SQLite rolled back itself writes nothing more: its retry applies once, not replayed', async () => {
    const { p, reader } = await filePlatform();
    const op = operator(p);
    const before = balanceOf(p, 's-002');
    const fire = p.state.faults.fire.bind(p.state.faults);
    let armed = true;
    vi.spyOn(p.state.faults, 'fire').mockImplementation(((kind, site) => {
      // after authentication wrote the nonce in the open batch: SQLite rolls it back (SQLITE_FULL)
      if (armed && kind === 'rate_limit' && p.state.db.inTransaction) {
        armed = false;
        p.state.db.exec('ROLLBACK');
      }
      return fire(kind, site);
    }) as typeof p.state.faults.fire);
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const body = { out_trade_no: 'TU-AUTO-RB', amount: 300, channel: 'simulated' };
    const first = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', body, { idempotencyKey: 'k-auto-rb' }),
    );
    expect([first.statusCode, json(first).retryable]).toEqual([503, true]);
    await p.state.groupCommit.settled();
    expect(reader.prepare("SELECT 1 FROM orders WHERE out_trade_no = 'TU-AUTO-RB'").get()).toBeUndefined();
    const retry = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', body, { idempotencyKey: 'k-auto-rb' }),
    );
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, undefined]);
    expect(balanceOf(p, 's-002')).toBe(before + 300);
  });

  it('keeps the database’s nonce pruning mark: a pruned nonce stays refused after a restart', async () => {
    const { p, dbPath, reader } = await filePlatform();
    const op = operator(p);
    const request = signed(p, op, 'GET', '/v1/schools/sch-demo/root-key');
    expect((await p.app.inject(request)).statusCode).toBe(200);
    p.clock.advance(2 * 86_400); // its nonce may be pruned now
    failNextCommit(p);
    p.state.groupCommit.join(); // pruning runs inside a batch that fails
    expect(pruneExpired(p.state).nonces).toBeGreaterThan(0);
    await expect(p.state.groupCommit.settled()).rejects.toThrow(/disk is full/);
    expect(pruneExpired(p.state).nonces).toBeGreaterThan(0); // again, committed
    const mark = reader.prepare("SELECT until_s FROM prune_marks WHERE what = 'nonces'").pluck().get();
    expect(mark).toBeGreaterThanOrEqual(T0 / 1000);

    // restarted, and the clock set back: the replay is refused, although its nonce is gone
    await p.close();
    const again = await platformOn(dbPath);
    const replay = await again.app.inject(request);
    expect([replay.statusCode, json(replay).code]).toEqual([401, 'ERR_SIG_NONCE_REPLAYED']);
  });

  describe('a status index reserved in it (before a credential is signed) is never given twice', () => {
    /** Starts `run` in a batch that fails once `run` has reserved (its signing is async). */
    const inFailedBatch = <T>(p: MockPlatform, run: () => Promise<T>): Promise<T> => {
      failNextCommit(p);
      p.state.groupCommit.join();
      const running = run();
      p.state.groupCommit.flush(); // fails: the counter goes back, the index is free again
      expect(p.state.groupCommit.stats().failed).toBe(1);
      return running;
    };
    const rolledBack = { status: 503, code: 'ERR_INTERNAL', retryable: true };
    const newKey = () => exportJwk(generateKeyPair('ES256').privateKey.publicKey);
    /** Indexes held by more than one card (revoked cards keep theirs): none, ever. */
    const shared = (p: MockPlatform) =>
      p.state.db
        .prepare('SELECT status_index FROM cards GROUP BY school_id, status_index HAVING COUNT(*) > 1')
        .pluck()
        .all();
    const statusOf = async (p: MockPlatform, index: number) =>
      getStatus(
        decodeStatusList((await getTrustMaterial(p.state, 'sch-demo', 'status-list')).bytes).statusList,
        index,
      );
    const cardOf = (p: MockPlatform, person: string) =>
      p.demo?.cards.find((c) => c.personId === person)?.cardId as string;

    it("renewal to a new phone: not answered (retryable); the old phone's credential stays revoked", async () => {
      const { p } = await filePlatform();
      const card = cardOf(p, 's-001');
      const renew = () =>
        p.invoke('renewCard', { params: { card_id: card }, body: { holder_jwk: newKey() } }, DEMO_OPERATOR);
      await expect(inFailedBatch(p, renew)).rejects.toMatchObject(rolledBack);
      // its retry, then another phone: each phone's credential under an index of its own
      const first = (await renew()).body as { status_index: number };
      const second = (await renew()).body as { status_index: number };
      expect(second.status_index).not.toBe(first.status_index);
      expect([await statusOf(p, first.status_index), await statusOf(p, second.status_index)]).toEqual([
        CARD_STATUS.revoked,
        CARD_STATUS.valid,
      ]);
      expect(shared(p)).toEqual([]);
    });

    it('issue: not answered (retryable); the next issues get cards of their own, never a 500', async () => {
      const { p } = await filePlatform();
      for (const id of ['t-008', 't-009']) {
        const body = { school_id: 'sch-demo', person_id: id, kind: 'teacher', name: id };
        expect((await p.invoke('createPerson', { body }, DEMO_OPERATOR)).status).toBe(201);
      }
      const body = (person: string) => ({ person_id: person, role: 'teacher', holder_jwk: newKey() });
      await expect(
        inFailedBatch(p, () => p.invoke('issueCard', { body: body('t-008') }, DEMO_OPERATOR)),
      ).rejects.toMatchObject(rolledBack);
      const issued = [];
      for (const person of ['t-009', 't-008']) {
        const res = await p.app.inject(signed(p, operator(p), 'POST', '/v1/cards', body(person)));
        expect(res.statusCode, res.body).toBe(201);
        issued.push(json<{ card_id: string; status_index: number }>(res));
      }
      expect(new Set(issued.map((c) => c.card_id)).size).toBe(2);
      expect(shared(p)).toEqual([]);
    });

    it("a parent's credential refreshed by an unlink: not answered (retryable); no other card gets its index", async () => {
      const { p } = await filePlatform();
      const [student, parent, teacher] = [cardOf(p, 's-001'), cardOf(p, 'p-001'), cardOf(p, 't-001')];
      const unlink = () => p.invoke('unlinkCard', { params: { card_id: student } }, DEMO_OPERATOR);
      await expect(inFailedBatch(p, unlink)).rejects.toMatchObject(rolledBack);
      expect((await unlink()).status).toBe(200);
      const renewed = await p.invoke(
        'renewCard',
        { params: { card_id: teacher }, body: { holder_jwk: newKey() } },
        DEMO_OPERATOR,
      );
      const index = (id: string) =>
        p.state.db.prepare('SELECT status_index FROM cards WHERE card_id = ?').pluck().get(id);
      expect((renewed.body as { status_index: number }).status_index).not.toBe(index(parent));
      expect(shared(p)).toEqual([]);
    });
  });

  it('never publishes a status list signed from rows of the failed batch', async () => {
    const { p } = await filePlatform();
    const cardOf = (person: string) => p.demo?.cards.find((c) => c.personId === person)?.cardId as string;
    const [c, d] = [cardOf('s-001'), cardOf('t-001')];
    const gc = p.state.groupCommit;
    failNextCommit(p);
    gc.join();
    void p.invoke('reportCardLost', { params: { card_id: c } }, DEMO_OPERATOR);
    // a status list fetch of the same batch starts signing the list with card c suspended
    const stale = getTrustMaterial(p.state, 'sch-demo', 'status-list');
    gc.flush(); // fails: c is active again, and the list's version is given again...
    expect(gc.stats().failed).toBe(1);
    gc.join();
    void p.invoke('reportCardLost', { params: { card_id: d } }, DEMO_OPERATOR);
    gc.flush(); // ...to this change, committed: d is suspended
    await stale;
    const res = await p.app.inject(signed(p, operator(p), 'GET', '/v1/schools/sch-demo/status-list'));
    expect(res.statusCode).toBe(200);
    const list = decodeStatusList(new Uint8Array(res.rawPayload)).statusList;
    const index = (card: string) =>
      (
        p.state.db.prepare('SELECT status_index FROM cards WHERE card_id = ?').get(card) as {
          status_index: number;
        }
      ).status_index;
    expect([getStatus(list, index(c)), getStatus(list, index(d))]).toEqual([
      CARD_STATUS.valid,
      CARD_STATUS.suspended,
    ]);
  });
});
