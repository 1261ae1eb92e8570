/**
 * The combined chaos test (issue 5 §4): 20 POS terminals and 10 readers run thousands of
 * operations at the same time against one mock platform whose fault injection is on (drops after
 * commit, 5xx, delays, 429, duplicate and out-of-order pushes), restarting at random, with power
 * cuts between upload and acknowledgement. Then, with the faults off and every device drained:
 * the ledger balances to the fen, every order is final, no payment or event is missing or
 * doubled, and every push reached the vendor endpoint and was processed once.
 *
 * Scale with CHAOS_POS, CHAOS_POS_OPS, CHAOS_GATES, CHAOS_GATE_OPS; reseed with CHAOS_SEED.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LedgerCheck } from '@campus-card/core/api';
import { createTransport } from '@campus-card/core/transport';
import {
  createClock,
  DEMO_OPERATOR,
  type RunningMockPlatform,
  startMockPlatform,
} from '@campus-card/mock-server';
import { expect, it } from 'vitest';
import { runPosFleet } from '../../../pos-client/test/chaos/pos-fleet.js';
import { runGateFleet } from './gate-fleet.js';
import { type PushReceiver, startPushReceiver } from './push-receiver.js';

const env = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer`);
  return v;
};
const POS = env('CHAOS_POS', 20);
const POS_OPS = env('CHAOS_POS_OPS', 60);
const GATES = env('CHAOS_GATES', 10);
const GATE_OPS = env('CHAOS_GATE_OPS', 120);
const SEED = env('CHAOS_SEED', 11);

async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function subscribe(server: RunningMockPlatform, receiver: PushReceiver): Promise<string[]> {
  const operator = DEMO_OPERATOR;
  const bodies = [
    // one merchant of three: the mock's dispatcher delivers a push once per concurrent pump,
    // so every subscription multiplies the deliveries (and the run time)
    {
      merchant_id: 'm-shop',
      event_types: ['payment.succeeded', 'payment.failed', 'payment.reversed', 'payment.refunded'],
    },
    // a parent of s-002 and s-003: their attendance events, recorded by the readers
    { recipient_person_id: 'p-002', event_types: ['attendance.recorded'] },
  ];
  const ids: string[] = [];
  for (const b of bodies) {
    const r = await server.platform.invoke(
      'createSubscription',
      { body: { url: receiver.url, ...b } },
      operator,
    );
    if (r.status !== 201) throw new Error(`createSubscription: ${JSON.stringify(r.body)}`);
    ids.push((r.body as { subscription_id: string }).subscription_id);
  }
  return ids;
}

it(`chaos: ${POS} POS × ${POS_OPS} and ${GATES} readers × ${GATE_OPS} operations on one platform, faults on, restarts and power cuts`, async () => {
  const started = performance.now();
  // payments above 2 500 fen wait 0.7 s for confirmation (about the POS poll schedule: some are reversed)
  const server = await startMockPlatform({
    port: 0,
    demo: true,
    clock: createClock(),
    pushIntervalMs: 50,
    seed: SEED,
    settings: { confirmThreshold: 2_500, confirmDelayS: 0.7 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'campus-chaos-'));
  const receiver = await startPushReceiver(server);
  const platform = server.platform;
  try {
    const subscriptions = await subscribe(server, receiver);

    // Both fleets run their operations under the same faults; the faults go off once both are done.
    let arrived = 0;
    let release: () => void = () => {};
    const faultsOff = new Promise<void>((r) => {
      release = r;
    });
    const beforeDrain = async () => {
      arrived++;
      if (arrived === 2) {
        platform.state.faults.clear();
        release();
      }
      await faultsOff;
    };
    const failed = (e: unknown) => {
      release(); // never leave the other fleet waiting
      throw e;
    };
    const t0 = performance.now();
    platform.state.faults.set(
      [
        { kind: 'drop_after_commit', probability: 0.08 },
        { kind: 'error_5xx', probability: 0.05, status: 503 },
        { kind: 'delay', probability: 0.1, delay_ms: 150 },
        { kind: 'rate_limit', probability: 0.02, retry_after_s: 0 },
        { kind: 'duplicate_push', probability: 0.1 },
        { kind: 'reorder_push', probability: 0.1 },
      ],
      SEED,
    );
    const settled = await Promise.allSettled([
      runPosFleet({
        server,
        dir: join(dir, 'pos'),
        devices: POS,
        opsPerDevice: POS_OPS,
        seed: SEED,
        beforeDrain,
      }).catch(failed),
      runGateFleet({
        server,
        dir: join(dir, 'gates'),
        devices: GATES,
        opsPerDevice: GATE_OPS,
        seed: SEED,
        beforeDrain,
      }).catch(failed),
    ]);
    const fleetsS = (performance.now() - t0) / 1000;
    const [pos, gates] = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    }) as [Awaited<ReturnType<typeof runPosFleet>>, Awaited<ReturnType<typeof runGateFleet>>];

    // Every push of our subscriptions delivered and processed once by the vendor endpoint.
    const db = platform.state.db;
    const marks = subscriptions.map(() => '?').join(', ');
    const pendingPushes = db.prepare(
      `SELECT COUNT(*) AS n FROM pushes WHERE state = 'pending' AND subscription_id IN (${marks})`,
    );
    await platform.pushes.pump();
    await waitFor('the pushes', () => (pendingPushes.get(...subscriptions) as { n: number }).n === 0, 30_000);
    const pushes = db
      .prepare(`SELECT push_id, event_type, state, body FROM pushes WHERE subscription_id IN (${marks})`)
      .all(...subscriptions) as { push_id: string; event_type: string; state: string; body: string }[];
    const pushProblems: string[] = [];
    for (const p of pushes) {
      if (p.state !== 'delivered') pushProblems.push(`push ${p.push_id}: ${p.state}`);
      if (!receiver.processed.has(p.push_id)) pushProblems.push(`push ${p.push_id}: never processed`);
    }
    const known = new Set(pushes.map((p) => p.push_id));
    for (const id of receiver.processed.keys())
      if (!known.has(id)) pushProblems.push(`push ${id}: processed, unknown to the platform`);
    // attendance: one push per stored event of the subscribed family, none twice
    const family = db
      .prepare(
        "SELECT event_id FROM events WHERE device_id LIKE 'gate-chaos-%' AND person_id IN ('p-002', 's-002', 's-003')",
      )
      .all() as { event_id: string }[];
    const attendancePushes = new Map<string, number>();
    for (const p of receiver.processed.values()) {
      if (p.type !== 'attendance.recorded') continue;
      const id = String(p.data.event_id);
      attendancePushes.set(id, (attendancePushes.get(id) ?? 0) + 1);
    }
    for (const e of family)
      if (attendancePushes.get(e.event_id) !== 1)
        pushProblems.push(`event ${e.event_id}: ${attendancePushes.get(e.event_id) ?? 0} attendance pushes`);
    // payments: one final-state push per order, never two
    const finalPushes = new Map<string, number>();
    for (const p of receiver.processed.values()) {
      if (p.type !== 'payment.succeeded' && p.type !== 'payment.failed') continue;
      const no = String(p.data.out_trade_no);
      finalPushes.set(no, (finalPushes.get(no) ?? 0) + 1);
    }
    for (const [no, k] of finalPushes) if (k > 1) pushProblems.push(`order ${no}: ${k} final-state pushes`);

    // The ledger, over the API as the school's operator would ask it.
    const demo = platform.demo;
    if (demo === undefined) throw new Error('no demo');
    const operator = createTransport({
      baseUrl: server.url,
      keyId: demo.operator.id,
      privateKey: demo.operator.privateJwk,
    });
    const { body: ledger } = await operator.request<LedgerCheck>({ method: 'GET', path: '/v1/ledger/check' });
    await operator.close();
    const processing = (
      db.prepare("SELECT COUNT(*) AS n FROM orders WHERE status = 'processing'").get() as { n: number }
    ).n;

    const deliveries = [...receiver.deliveries.values()];
    const summary = {
      name: 'chaos.fleet',
      seed: SEED,
      'total.ops': (pos.counts['pos.ops'] ?? 0) + (gates.counts['gate.ops'] ?? 0),
      ...pos.counts,
      ...gates.counts,
      'push.stored': pushes.length,
      'push.processed': receiver.processed.size,
      'push.deliveries': deliveries.reduce((s, k) => s + k, 0),
      'push.delivered_twice_or_more': deliveries.filter((k) => k > 1).length,
      'push.max_deliveries': Math.max(0, ...deliveries),
      'push.refused': receiver.refused,
      'push.attendance_checked': family.length,
      'push.payment_final': finalPushes.size,
      'ledger.balanced': ledger.balanced,
      'orders.processing': processing,
      fleets_s: Math.round(fleetsS * 10) / 10,
      elapsed_s: Math.round((performance.now() - started) / 100) / 10,
    };
    console.log(JSON.stringify(summary));

    expect(pos.problems).toEqual([]);
    expect(gates.problems).toEqual([]);
    expect(pushProblems).toEqual([]);
    expect(ledger).toMatchObject({ balanced: true, problems: [] });
    expect(processing).toBe(0);
    expect(receiver.refused).toBe(0);
    expect(pos.counts['pos.ops']).toBe(POS * POS_OPS);
    expect(gates.counts['gate.ops']).toBe(GATES * GATE_OPS);
    // the chaos was real: power cuts between upload and ack made the readers re-send
    if (GATES * GATE_OPS >= 500) {
      expect(gates.counts['gate.power_cuts_before_ack']).toBeGreaterThan(0);
      expect(gates.counts['gate.upload_duplicates']).toBeGreaterThan(0);
      expect(summary['push.delivered_twice_or_more']).toBeGreaterThan(0);
    }
  } finally {
    await receiver.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 300_000);
