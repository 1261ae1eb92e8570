import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLedger, type RunningMockPlatform } from '@campus-card/mock-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileOutbox, createMemoryOutbox, type OutboxStore } from '../src/index.js';
import { balanceOf, ordersWith, posFor, qrOf, startPlatform } from './platform.js';

let server: RunningMockPlatform;
let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  // payments above 5 000 fen wait 2 s for the holder's confirmation
  server = await startPlatform({ confirmThreshold: 5_000, confirmDelayS: 2 });
  dir = await mkdtemp(join(tmpdir(), 'pos-int-'));
});
afterEach(async () => {
  server.platform.state.faults.clear();
  for (const c of closers.splice(0)) await c();
  expect(checkLedger(server.platform.state)).toMatchObject({ balanced: true, problems: [] });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function client(overrides: Parameters<typeof posFor>[1] = {}) {
  const c = posFor(server, overrides);
  closers.push(c.close);
  return c.pos;
}

describe('pos-client against the mock platform', () => {
  it('scan-to-pay: success, charged once', async () => {
    const pos = client();
    const before = await balanceOf(server, 's-001');
    const r = await pos.scanToPay({
      qr: await qrOf(server, 's-001'),
      amountFen: 1_250,
      description: 'lunch',
    });
    expect(r).toMatchObject({ status: 'success', order: { amount: 1_250, person_id: 's-001', via: 'qr' } });
    expect(await balanceOf(server, 's-001')).toBe(before - 1_250);
    expect((await pos.wallets.balance('s-001')).balance).toBe(before - 1_250);
  });

  it('drop after commit: the create times out, polling finds the payment, no second charge', async () => {
    server.platform.state.faults.set([
      { kind: 'drop_after_commit', device_id: 'pos-01', route: 'createPayment', count: 3 },
    ]);
    const pos = client({ createMaxRetries: 2 });
    const before = await balanceOf(server, 's-001');
    const r = await pos.scanToPay({ qr: await qrOf(server, 's-001'), amountFen: 800, outTradeNo: 'DROP-1' });
    expect(r).toMatchObject({ status: 'success', outTradeNo: 'DROP-1' });
    const seen = server.platform.recorder.entries.filter((e) =>
      `${String(e.url)} ${String(e.request_body)}`.includes('DROP-1'),
    );
    const ops = seen.map((e) => e.operation_id);
    expect(ops.filter((o) => o === 'createPayment')).toHaveLength(3); // 3 attempts, one key, all dropped
    expect(ops).toContain('getPayment'); // so it had to poll
    expect(await balanceOf(server, 's-001')).toBe(before - 800);
    expect(ordersWith(server, 'DROP-1')).toBe(1);
  });

  it('a processing payment is polled to success once the holder confirms', async () => {
    const pos = client({ pollSchedule: [0.5, 1, 1, 1, 1] });
    const before = await balanceOf(server, 't-001');
    const r = await pos.scanToPay({ qr: await qrOf(server, 't-001'), amountFen: 6_000 });
    expect(r.status).toBe('success');
    expect(await balanceOf(server, 't-001')).toBe(before - 6_000);
  });

  it('a payment not confirmed within the schedule is reversed and costs nothing', async () => {
    const pos = client({ pollSchedule: [0.1, 0.1] });
    const before = await balanceOf(server, 't-001');
    const r = await pos.scanToPay({
      qr: await qrOf(server, 't-001'),
      amountFen: 6_000,
      outTradeNo: 'SLOW-1',
    });
    expect(r).toMatchObject({ status: 'reversed', order: { status: 'reversed' } });
    await new Promise((res) => setTimeout(res, 2_200)); // past the confirmation time: stays reversed
    expect((await pos.payments.query('SLOW-1')).status).toBe('reversed');
    expect(await balanceOf(server, 't-001')).toBe(before);
  });

  it('refunds partially, idempotently: the same refund twice moves money once', async () => {
    const pos = client();
    const before = await balanceOf(server, 's-002');
    await pos.scanToPay({ qr: await qrOf(server, 's-002'), amountFen: 1_000, outTradeNo: 'REF-1' });
    const a = await pos.payments.refund('REF-1', { outRefundNo: 'REF-1-R1', amountFen: 300 });
    const b = await pos.payments.refund('REF-1', { outRefundNo: 'REF-1-R1', amountFen: 300 });
    expect(b).toEqual(a);
    await pos.payments.refund('REF-1', { outRefundNo: 'REF-1-R2', amountFen: 200 });
    const o = await pos.payments.query('REF-1');
    expect(o).toMatchObject({ status: 'success', refunded_amount: 500 });
    expect(o.refunds.map((x) => x.out_refund_no)).toEqual(['REF-1-R1', 'REF-1-R2']);
    expect(await balanceOf(server, 's-002')).toBe(before - 500);
    await expect(
      pos.payments.refund('REF-1', { outRefundNo: 'REF-1-R3', amountFen: 501 }),
    ).rejects.toMatchObject({
      code: 'ERR_REFUND_EXCEEDS',
      status: 409,
    });
  });

  it('offline sales survive a restart of the outbox and sync exactly once, also after a crash before the ack', async () => {
    const file = join(dir, 'outbox.jsonl');
    const caps = { perTransactionFen: 5_000, totalFen: 20_000, maxAgeSeconds: 3_600 };
    const before = await balanceOf(server, 's-003');

    // Sell two offline, then "lose power": nothing is closed cleanly and nothing was uploaded.
    const outbox1 = await createFileOutbox(file);
    const pos1 = client({ offline: { outbox: outbox1, caps, startOffline: true } });
    const sold = [
      await pos1.scanToPay({ qr: await qrOf(server, 's-003'), amountFen: 300, outTradeNo: 'OFF-1' }),
      await pos1.scanToPay({ qr: await qrOf(server, 's-003'), amountFen: 400, outTradeNo: 'OFF-2' }),
    ];
    expect(sold.map((r) => r.status)).toEqual(['offline_accepted', 'offline_accepted']);
    expect(await balanceOf(server, 's-003')).toBe(before);
    // (close() writes nothing to the journal, so the file is as a power cut leaves it; it lets the
    // lock go, which a process that died leaves behind and the next one takes over)
    await outbox1.close();

    // Restart: reopen the journal; the sales are there. Upload, but crash before the ack is written.
    const outbox2 = await createFileOutbox(file);
    expect((await outbox2.pending()).map((e) => e.outTradeNo)).toEqual(['OFF-1', 'OFF-2']);
    const crashing: OutboxStore = {
      ...outbox2,
      append: (e) => outbox2.append(e),
      pending: () => outbox2.pending(),
      ack: async () => {
        throw new Error('power cut');
      },
      close: () => outbox2.close(),
    };
    const pos2 = client({ offline: { outbox: crashing, caps } });
    await expect(pos2.sync()).resolves.toMatchObject({ complete: false });
    expect(await balanceOf(server, 's-003')).toBe(before - 700); // uploaded once
    await outbox2.close();

    // Restart again: still pending (no ack); the resend is answered "duplicate" and moves nothing.
    const outbox3 = await createFileOutbox(file);
    const pos3 = client({ offline: { outbox: outbox3, caps } });
    // (the resend carries the same batch key, so the platform replays its first answer)
    const again = await pos3.sync();
    expect(again).toMatchObject({ remaining: 0, complete: true });
    expect(again.accepted + again.duplicates).toBe(2);
    expect(await pos3.sync()).toMatchObject({ accepted: 0, duplicates: 0, remaining: 0 });
    await outbox3.close();

    // And after one more restart the journal is empty.
    const outbox4 = await createFileOutbox(file);
    expect(await outbox4.pending()).toEqual([]);
    await outbox4.close();
    expect(await balanceOf(server, 's-003')).toBe(before - 700);
    expect(ordersWith(server, 'OFF-1') + ordersWith(server, 'OFF-2')).toBe(2);
  });

  it('an unreachable platform turns scan-to-pay into an offline sale that sync uploads once', async () => {
    const file = join(dir, 'down.jsonl');
    const outbox = await createFileOutbox(file);
    closers.push(() => outbox.close());
    const caps = { perTransactionFen: 5_000, totalFen: 20_000, maxAgeSeconds: 3_600 };
    const qr = await qrOf(server, 's-001');
    // a port where nothing listens: connection refused
    const down = client({ baseUrl: 'http://127.0.0.1:9', maxRetries: 0, offline: { outbox, caps } });
    const r = await down.scanToPay({ qr, amountFen: 450, outTradeNo: 'DOWN-1' });
    expect(r.status).toBe('offline_accepted');
    const before = await balanceOf(server, 's-001');
    const up = client({ offline: { outbox, caps } });
    expect(await up.sync()).toMatchObject({ accepted: 1, remaining: 0 });
    expect(await balanceOf(server, 's-001')).toBe(before - 450);
  });

  it('one invalid offline sale does not block the rest: it is quarantined, the good one is charged', async () => {
    const outbox = createMemoryOutbox();
    const caps = { perTransactionFen: 5_000, totalFen: 20_000, maxAgeSeconds: 3_600 };
    const pos = client({ offline: { outbox, caps, startOffline: true } });
    // written straight into the outbox: the client's own checks refuse it now
    const bad = await outbox.append({
      kind: 'payment',
      outTradeNo: 'BAD-1',
      amountFen: 100,
      qrText: 'https://example.com/x',
      capturedAt: server.platform.clock.now(),
    });
    const good = await pos.scanToPay({
      qr: await qrOf(server, 's-001'),
      amountFen: 300,
      outTradeNo: 'GOOD-1',
    });
    expect(good.status).toBe('offline_accepted');
    pos.setOffline(false);
    const before = await balanceOf(server, 's-001');
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 1, remaining: 0, complete: true });
    expect(s.quarantined).toMatchObject([
      { entry: { seq: bad.seq, outTradeNo: 'BAD-1' }, reason: { code: 'ERR_VALIDATION', status: 400 } },
    ]);
    expect(await outbox.quarantined()).toMatchObject([{ entry: { outTradeNo: 'BAD-1' } }]);
    expect(await balanceOf(server, 's-001')).toBe(before - 300);
    expect(ordersWith(server, 'GOOD-1')).toBe(1);
    expect(ordersWith(server, 'BAD-1')).toBe(0);
  });

  it('401 on reverse after a charged create: payment unknown, a reversal queued (not a refusal)', async () => {
    const outbox = createMemoryOutbox();
    const c = posFor(server, {
      createMaxRetries: 0,
      maxRetries: 1,
      offline: { outbox, caps: { perTransactionFen: 5_000, totalFen: 20_000, maxAgeSeconds: 3_600 } },
    });
    server.platform.state.faults.set([
      { kind: 'drop_after_commit', device_id: 'pos-01', route: 'createPayment', count: 1 },
      { kind: 'clock_skew', device_id: 'pos-01', route: 'getPayment', skew_s: 3_600 },
      { kind: 'clock_skew', device_id: 'pos-01', route: 'reversePayment', skew_s: 3_600 },
    ]);
    const before = await balanceOf(server, 's-001');
    const e = await c.pos
      .scanToPay({ qr: await qrOf(server, 's-001'), amountFen: 700, outTradeNo: 'SKEW-1' })
      .catch((x: unknown) => x);
    server.platform.state.faults.clear();
    expect(before - (await balanceOf(server, 's-001'))).toBe(700);
    expect(e).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN' });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'SKEW-1' }]);
    // and sync() finishes it: the money goes back
    expect(await c.pos.sync()).toMatchObject({ reversals: 1, remaining: 0, complete: true });
    expect(await balanceOf(server, 's-001')).toBe(before);
    await c.close();
  });

  it('batchSize 500 with 500 offline sales (over the 256 KiB body limit in one request) syncs them all', async () => {
    const outbox = createMemoryOutbox();
    const caps = { perTransactionFen: 5_000, totalFen: 20_000, maxAgeSeconds: 3_600 };
    const pos = client({ batchSize: 500, offline: { outbox, caps, startOffline: true } });
    const people = ['s-001', 's-002', 's-003', 't-001'];
    for (let i = 0; i < 500; i++) {
      const qr = await qrOf(server, people[i % people.length] as string);
      await pos.scanToPay({ qr, amountFen: 1, outTradeNo: `BULK-${i}` });
    }
    const bytes = (await outbox.pending()).reduce((n, e) => n + JSON.stringify(e).length, 0);
    expect(bytes).toBeGreaterThan(262_144); // one batch of all 500 would be refused with 413
    pos.setOffline(false);
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 500, remaining: 0, complete: true, quarantined: [] });
    expect(s.rejected).toEqual([]);
  }, 60_000);

  it('wallet summary and the hash-checked daily statement', async () => {
    const pos = client();
    // tomorrow, a day no other test touched (09:00Z is 17:00 in Beijing: the same business day)
    const dayStart = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
    const day = new Date(dayStart).toISOString().slice(0, 10);
    server.platform.clock.set(dayStart + 9 * 3_600_000);
    const qr = await qrOf(server, 's-002');
    await pos.scanToPay({ qr, amountFen: 700, outTradeNo: 'STM-1' });
    await pos.payments.refund('STM-1', { outRefundNo: 'STM-1-R', amountFen: 100 });
    const summary = await pos.wallets.summary('s-002', dayStart, dayStart + 86_400_000);
    expect(summary).toMatchObject({ spent: 700, refunded: 100, payment_count: 1, net: -600 });

    await expect(pos.statements.download(day)).rejects.toMatchObject({ status: 404 }); // day not over
    server.platform.clock.advance(86_400);
    const s = await pos.statements.download(day);
    expect(s.info).toMatchObject({
      merchant_id: 'm-canteen-s',
      credits: 700,
      debits: 100,
      net: 600,
      line_count: 2,
    });
    expect(s.lines.map((l) => [l.kind, l.outTradeNo, l.amountFen])).toEqual([
      ['payment', 'STM-1', 700],
      ['refund', 'STM-1', -100],
    ]);
    server.platform.clock.set(Date.now());
  });
});
