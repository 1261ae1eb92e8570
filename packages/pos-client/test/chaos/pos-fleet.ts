/**
 * The POS side of the chaos test: a fleet of simulated POS terminals that sell (online and
 * offline), refund, sync and restart at random against a running mock platform with fault
 * injection on, then drain and check that the platform agrees with every terminal to the fen.
 *
 * Usable on its own (test/chaos.test.ts) or from a shared chaos test next to a gate fleet.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  importPrivateJwk,
  type Jwk,
} from '@campus-card/core';
import type { PublicJwk } from '@campus-card/core/api';
import { DEMO_OPERATOR as OPERATOR, type RunningMockPlatform } from '@campus-card/mock-server';
import { Agent } from 'undici';
import {
  CampusCardApiError,
  createFileOutbox,
  createPosClient,
  isPosClientError,
  type OutboxStore,
  type PosClient,
} from '../../src/index.js';

/** Options of {@link runPosFleet}. */
export interface PosFleetOptions {
  readonly server: RunningMockPlatform;
  /** Directory for the terminals' outbox journals. */
  readonly dir: string;
  /** Number of terminals; default 20. */
  readonly devices?: number;
  /** Operations per terminal; default 100. */
  readonly opsPerDevice?: number;
  /** Seed of the operation mix; default 1. */
  readonly seed?: number;
  /**
   * For a platform shared with other fleets. When given, this fleet leaves fault injection to the
   * caller (it neither sets nor clears the faults) and awaits this after its operations, before
   * its drain: the caller turns the faults off there, once every fleet is done.
   */
  readonly beforeDrain?: () => Promise<void>;
}

/** What the POS side did and what the final check found. */
export interface PosFleetReport {
  readonly counts: Record<string, number>;
  /** Every disagreement between a terminal and the platform (empty when all is well). */
  readonly problems: readonly string[];
}

type Expect =
  | { kind: 'charged'; amount: number } // success online, or offline and accepted at sync
  | { kind: 'not_charged' } // failed, reversed, closed, denied, refused
  | { kind: 'offline'; amount: number } // offline, not yet known
  | { kind: 'unknown' }; // ERR_POS_PAYMENT_UNKNOWN: a reversal is owed

interface Terminal {
  readonly id: string;
  readonly jwk: Jwk;
  readonly file: string;
  outbox: OutboxStore;
  pos: PosClient;
  agent: Agent;
  /** Power cut between upload and acknowledgement on the next sync. */
  crashNextAck: boolean;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4_294_967_296;
  };
}

const MERCHANTS = ['m-canteen-s', 'm-canteen-t', 'm-shop'];

/** Runs the POS fleet; see the module comment. */
export async function runPosFleet(options: PosFleetOptions): Promise<PosFleetReport> {
  const { server } = options;
  const platform = server.platform;
  const demo = platform.demo;
  if (demo === undefined) throw new Error('the chaos fleet needs the demo data');
  const n = options.devices ?? 20;
  const ops = options.opsPerDevice ?? 100;
  const rand = rng(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const counts: Record<string, number> = {};
  const count = (k: string, by = 1) => {
    counts[k] = (counts[k] ?? 0) + by;
  };
  const expected = new Map<string, Expect>(); // by out_trade_no
  const refunds = new Map<string, { outTradeNo: string; amount: number; done: boolean }>(); // by out_refund_no
  const charged = new Map<string, number>(); // out_trade_no → amount, for refunds
  await mkdir(options.dir, { recursive: true });

  // Payers: every demo card, each wallet topped up so most payments succeed.
  const payers = demo.cards.map((c) => c.personId);
  for (const person of payers) {
    await platform.invoke(
      'topUpWallet',
      {
        params: { person_id: person },
        body: { out_trade_no: `chaos-topup-${person}`, amount: 5_000_000, channel: 'simulated' },
      },
      OPERATOR,
    );
  }
  async function qrOf(person: string): Promise<string> {
    const card = demo?.cards.find((c) => c.personId === person);
    if (card === undefined) throw new Error(person);
    const bytes = await createPresentation(
      { credential: fromBase64Url(card.credential) as Uint8Array, t: platform.clock.nowSeconds() },
      importPrivateJwk(card.holderPrivateJwk),
    );
    return encodeQr(bytes);
  }

  async function boot(t: Omit<Terminal, 'outbox' | 'pos' | 'agent'> & Partial<Terminal>): Promise<Terminal> {
    const outbox = await createFileOutbox(t.file);
    const agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const wrapped: OutboxStore = {
      append: (e) => outbox.append(e),
      pending: () => outbox.pending(),
      ack: async (seqs) => {
        if (term.crashNextAck) {
          term.crashNextAck = false;
          count('pos.crash_before_ack');
          throw new Error('power cut before the ack');
        }
        await outbox.ack(seqs);
      },
      quarantine: (seqs, reason) => outbox.quarantine(seqs, reason),
      quarantined: () => outbox.quarantined(),
      close: () => outbox.close(),
    };
    const pos = createPosClient({
      baseUrl: server.url,
      deviceId: t.id,
      privateKey: t.jwk,
      dispatcher: agent,
      offline: {
        outbox: wrapped,
        caps: { perTransactionFen: 5_000, totalFen: 40_000, maxAgeSeconds: 3_600 },
      },
      pollSchedule: [0.05, 0.1, 0.2, 0.4],
      retryBaseMs: 5,
      retryMaxMs: 50,
      maxRetries: 4,
      requestTimeoutMs: 5_000,
      unknownOrderHorizonSeconds: 1,
    });
    const term = Object.assign(t, { outbox, pos, agent }) as Terminal;
    return term;
  }

  // Register the terminals.
  const terminals: Terminal[] = [];
  for (let i = 0; i < n; i++) {
    const id = `pos-chaos-${String(i + 1).padStart(2, '0')}`;
    const key = generateKeyPair('ES256').privateKey;
    const r = await platform.invoke(
      'createDevice',
      {
        body: {
          device_id: id,
          school_id: demo.schoolId,
          type: 'pos',
          zone: 'canteen:chaos',
          merchant_id: MERCHANTS[i % MERCHANTS.length],
          public_jwk: exportJwk(key) as PublicJwk,
          offline_device_cap: 10_000_000,
        },
      },
      OPERATOR,
    );
    if (r.status >= 300) throw new Error(`createDevice ${id}: ${JSON.stringify(r.body)}`);
    terminals.push(
      await boot({
        id,
        jwk: exportJwk(key, { includePrivate: true }),
        file: join(options.dir, `${id}.jsonl`),
        crashNextAck: false,
      }),
    );
  }

  async function restart(t: Terminal): Promise<void> {
    count('pos.restarts');
    await t.pos.close().catch(() => undefined);
    await t.agent.close().catch(() => undefined);
    await t.outbox.close().catch(() => undefined);
    Object.assign(t, await boot(t));
  }

  function noteSync(r: Awaited<ReturnType<PosClient['sync']>>): void {
    count('pos.sync_accepted', r.accepted);
    count('pos.sync_duplicates', r.duplicates);
    count('pos.sync_rejected', r.rejected.length);
    count('pos.sync_reversals', r.reversals);
    for (const x of r.rejected) expected.set(x.out_trade_no, { kind: 'not_charged' });
  }

  async function sell(t: Terminal, offline: boolean): Promise<void> {
    const person = pick(payers);
    const amount = 100 + Math.floor(rand() * 4_000); // above 2 500 waits for confirmation
    const outTradeNo = `${t.id}-${(counts['pos.orders'] ?? 0) + 1}-${Math.floor(rand() * 1e9)}`;
    count('pos.orders');
    if (offline) t.pos.setOffline(true);
    try {
      const r = await t.pos.scanToPay({ qr: await qrOf(person), amountFen: amount, outTradeNo });
      count(`pos.result_${r.status}`);
      if (r.status === 'success') {
        expected.set(outTradeNo, { kind: 'charged', amount });
        charged.set(outTradeNo, amount);
      } else if (r.status === 'offline_accepted') expected.set(outTradeNo, { kind: 'offline', amount });
      else expected.set(outTradeNo, { kind: 'not_charged' });
    } catch (e) {
      if (isPosClientError(e, 'ERR_POS_PAYMENT_UNKNOWN')) {
        count('pos.result_unknown');
        expected.set(outTradeNo, { kind: 'unknown' });
      } else if (isPosClientError(e)) {
        count(`pos.refused_${e.code}`);
        expected.set(outTradeNo, { kind: 'not_charged' });
      } else if (e instanceof CampusCardApiError) {
        count(`pos.refused_${e.code}`);
        expected.set(outTradeNo, e.retryable ? { kind: 'unknown' } : { kind: 'not_charged' });
        if (e.retryable) await t.outbox.append({ kind: 'reversal', outTradeNo, capturedAt: Date.now() });
      } else if (e instanceof Error && e.message === 'power cut before the ack') {
        // The sale's outcome was never recorded (nor shown to the cashier): the write-ahead
        // reversal is still in the outbox, and the sync after the restart reverses the sale.
        count('pos.crash_in_sale');
        expected.set(outTradeNo, { kind: 'unknown' });
        await restart(t);
      } else throw e;
    } finally {
      t.pos.setOffline(false);
    }
  }

  async function refund(t: Terminal, reuse: boolean): Promise<void> {
    const mine = [...refunds.entries()].filter(([, r]) => r.outTradeNo.startsWith(`${t.id}-`));
    let outRefundNo: string;
    let target: { outTradeNo: string; amount: number; done: boolean };
    if (reuse && mine.length > 0) {
      const [no, r] = pick(mine);
      outRefundNo = no;
      target = r;
      count('pos.refund_repeats');
    } else {
      const orders = [...charged.entries()].filter(([o]) => o.startsWith(`${t.id}-`));
      if (orders.length === 0) return;
      const [outTradeNo, amount] = pick(orders);
      const refunded = [...refunds.values()]
        .filter((r) => r.outTradeNo === outTradeNo)
        .reduce((s, r) => s + r.amount, 0);
      const left = amount - refunded;
      if (left < 2) return;
      outRefundNo = `R-${outTradeNo.slice(-20)}-${mine.length + 1}-${Math.floor(rand() * 1e6)}`;
      target = { outTradeNo, amount: 1 + Math.floor(rand() * (left - 1)), done: false };
      refunds.set(outRefundNo, target);
    }
    try {
      await t.pos.payments.refund(target.outTradeNo, { outRefundNo, amountFen: target.amount });
      target.done = true;
      count('pos.refunds_ok');
    } catch (e) {
      if (!(e instanceof CampusCardApiError)) throw e;
      count('pos.refund_errors'); // retried with the same refund number in the drain
    }
  }

  async function drive(t: Terminal): Promise<void> {
    for (let i = 0; i < ops; i++) {
      const x = rand();
      if (x < 0.65) await sell(t, false);
      else if (x < 0.77) await sell(t, true);
      else if (x < 0.87) await refund(t, rand() < 0.3);
      else if (x < 0.94) {
        if (rand() < 0.3) t.crashNextAck = true;
        noteSync(await t.pos.sync());
      } else await restart(t);
      count('pos.ops');
    }
  }

  // Faults on every route, seeded: drops after commit, 5xx, delays, rate limits.
  if (options.beforeDrain === undefined)
    platform.state.faults.set(
      [
        { kind: 'drop_after_commit', probability: 0.08 },
        { kind: 'error_5xx', probability: 0.05, status: 503 },
        { kind: 'delay', probability: 0.1, delay_ms: 150 },
        { kind: 'rate_limit', probability: 0.02, retry_after_s: 0 },
      ],
      options.seed ?? 1,
    );
  await Promise.all(terminals.map((t) => drive(t)));

  // Drain: faults off, every terminal restarts once and syncs until its outbox is empty; refunds
  // whose answer was lost are repeated with the same refund number.
  if (options.beforeDrain === undefined) platform.state.faults.clear();
  else await options.beforeDrain();
  await new Promise((r) => setTimeout(r, 1_100)); // past unknownOrderHorizonSeconds
  for (const t of terminals) {
    await restart(t);
    for (let i = 0; i < 5; i++) {
      const r = await t.pos.sync();
      noteSync(r);
      if (r.complete) break;
      await new Promise((res) => setTimeout(res, 300));
    }
  }
  for (const [outRefundNo, r] of refunds) {
    if (r.done) continue;
    const t = terminals.find((x) => r.outTradeNo.startsWith(`${x.id}-`)) as Terminal;
    await t.pos.payments.refund(r.outTradeNo, { outRefundNo, amountFen: r.amount });
    r.done = true;
    count('pos.refunds_completed_in_drain');
  }
  await new Promise((r) => setTimeout(r, 1_100)); // let the platform settle confirmations

  // Check: the platform agrees with every terminal.
  const problems: string[] = [];
  const db = platform.state.db;
  const pendingLeft = (await Promise.all(terminals.map((t) => t.outbox.pending()))).flat().length;
  if (pendingLeft > 0) problems.push(`${pendingLeft} outbox entries still pending`);
  // every sale here is well formed: none may be set aside as malformed, whatever the faults
  const setAside = (await Promise.all(terminals.map((t) => t.outbox.quarantined()))).flat();
  for (const q of setAside) problems.push(`${q.entry.outTradeNo}: quarantined (${q.reason.code})`);
  const rows = db
    .prepare(
      "SELECT out_trade_no, status, amount, refunded_amount, kind FROM orders WHERE device_id LIKE 'pos-chaos-%'",
    )
    .all() as {
    out_trade_no: string;
    status: string;
    amount: number;
    refunded_amount: number;
    kind: string;
  }[];
  const byNo = new Map<string, (typeof rows)[number][]>();
  for (const r of rows) byNo.set(r.out_trade_no, [...(byNo.get(r.out_trade_no) ?? []), r]);
  for (const [no, list] of byNo) if (list.length > 1) problems.push(`${no}: ${list.length} orders (doubled)`);
  const processing = rows.filter((r) => r.status === 'processing').length;
  if (processing > 0) problems.push(`${processing} orders still processing`);
  for (const [no, exp] of expected) {
    const o = byNo.get(no)?.[0];
    const paid = o !== undefined && o.status === 'success';
    if (exp.kind === 'charged' && (!paid || o.amount !== exp.amount))
      problems.push(`${no}: paid at the POS, ${o?.status ?? 'missing'} on the platform`);
    if (exp.kind === 'offline' && !(paid && o.amount === exp.amount))
      problems.push(`${no}: sold offline, ${o?.status ?? 'missing'} on the platform`);
    if (exp.kind === 'not_charged' && paid) problems.push(`${no}: refused at the POS but charged`);
    if (exp.kind === 'unknown' && paid)
      problems.push(`${no}: unknown at the POS but charged (reversal not done)`);
  }
  for (const r of rows)
    if (!expected.has(r.out_trade_no)) problems.push(`${r.out_trade_no}: an order no terminal made`);
  const refundRows = db
    .prepare(
      "SELECT r.out_refund_no, r.amount FROM refunds r JOIN orders o ON o.order_id = r.order_id WHERE o.device_id LIKE 'pos-chaos-%'",
    )
    .all() as { out_refund_no: string; amount: number }[];
  if (refundRows.length !== refunds.size)
    problems.push(`${refundRows.length} refunds on the platform, ${refunds.size} at the POS`);
  for (const r of refundRows) {
    const mine = refunds.get(r.out_refund_no);
    if (mine === undefined || mine.amount !== r.amount) problems.push(`refund ${r.out_refund_no} differs`);
  }
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + f(r), 0);
  count('platform.orders', rows.length);
  count('platform.orders_success', rows.filter((r) => r.status === 'success').length);
  count('platform.orders_reversed', rows.filter((r) => r.status === 'reversed').length);
  count('platform.orders_failed', rows.filter((r) => r.status === 'failed').length);
  count('platform.offline_orders', rows.filter((r) => r.kind === 'offline_payment').length);
  count(
    'platform.charged_fen',
    sum((r) => (r.status === 'success' ? r.amount - r.refunded_amount : 0)),
  );
  count('platform.refunds', refundRows.length);

  for (const t of terminals) {
    await t.pos.close();
    await t.agent.close();
    await t.outbox.close();
  }
  return { counts, problems };
}
