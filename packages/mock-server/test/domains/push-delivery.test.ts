/**
 * Push delivery, end to end against real HTTP receivers on port 0, on a frozen virtual clock:
 *
 * - the retry schedule: attempts at exactly the published offsets, stop after a success, give up
 *   after the last attempt, all recorded; the schedule published at `/v1/platform/keys`, in
 *   `/openapi.json` and in the guide is the one followed;
 * - a POS payment pushed, signed, to its merchant's subscription;
 * - an attendance push to the class teacher (not only to parents);
 * - the `duplicate_push` and `reorder_push` faults, on, off and scoped;
 * - one subscriber that never answers holds up no other subscription's pushes; pushes to one
 *   subscription still go one at a time, in order; overlapping rounds never send a push twice at
 *   once; closing with a delivery in flight is prompt and clean;
 * - every event type sent matches its OpenAPI `webhooks` schema and carries its type in
 *   `push-event-type`; a 4xx is retried like a 5xx, a port nothing listens on like no answer;
 *   a `reorder_push` hold waits for a later push of its own subscription, never another's.
 *
 * Every push received is checked with core's `verifyPush` against the published platform key.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compileValidator, type PlatformKeys, WebhookEvents } from '@campus-card/core/api';
import { importVerifyKey, type VerifyPushResult, verifyPush } from '@campus-card/core/http';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { REORDER_HOLD_MS } from '../../src/domains/webhooks.js';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  type Received,
  type Receiver,
  type Signer,
  signed,
  startReceiver,
  T0,
} from '../helpers.js';

// ---- receivers and helpers ----------------------------------------------------------------

let p: MockPlatform | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await p?.close();
  p = undefined;
  for (const r of receivers.splice(0)) await r.close();
});

/** A demo platform on the frozen clock at T0, whose dispatcher runs only when woken or pumped. */
async function platform(): Promise<MockPlatform> {
  p = await demoPlatform({ pushIntervalMs: 3_600_000 });
  return p;
}
async function receiver(
  pf: MockPlatform,
  answer?: (r: Received, countOnPath: number) => number,
): Promise<Receiver> {
  const r = await startReceiver(() => pf.clock.now(), answer);
  receivers.push(r);
  return r;
}

async function subscribe(
  pf: MockPlatform,
  body: { url: string; event_types: string[]; recipient_person_id?: string; merchant_id?: string },
  signer: Signer = operator(pf),
): Promise<string> {
  const r = await pf.app.inject(signed(pf, signer, 'POST', '/v1/webhook-subscriptions', body));
  expect(r.statusCode, r.body).toBe(201);
  return json<{ subscription_id: string }>(r).subscription_id;
}

/** Uploads one attendance event of `person` from `gate-01`, then runs a full delivery round. */
async function attend(pf: MockPlatform, seq: number, person = 's-001'): Promise<void> {
  await upload(pf, seq, person);
  await pf.pushes.pump();
}

/** Uploads one attendance event of `person` from `gate-01` (its pushes go out when the dispatcher is woken). */
async function upload(pf: MockPlatform, seq: number, person = 's-001'): Promise<void> {
  const r = await pf.app.inject(
    signed(pf, deviceSigner(pf, 'gate-01'), 'POST', '/v1/events/batches', {
      events: [
        {
          seq,
          kind: 'attendance',
          direction: 'in',
          occurred_at: new Date(pf.clock.now()).toISOString(),
          qr_text: await qrOf(pf, person, 1),
          decision: 'allowed',
        },
      ],
    }),
  );
  expect(json(r), r.body).toMatchObject({ accepted: 1 });
}

async function platformKeys(pf: MockPlatform): Promise<PlatformKeys> {
  const r = await pf.app.inject({ method: 'GET', url: '/v1/platform/keys' });
  expect(r.statusCode).toBe(200);
  return json<PlatformKeys>(r);
}

/**
 * Verifies a received push with core's `verifyPush`, the published key, the platform's
 * (virtual) time and, when given, a receiver's nonce store.
 */
async function verify(
  pf: MockPlatform,
  base: string,
  r: Received,
  opts: { now?: number; nonces?: Set<string>; body?: Uint8Array } = {},
): Promise<VerifyPushResult> {
  const jwk = (await platformKeys(pf)).webhook_signing[0]!;
  const nonces = opts.nonces;
  return verifyPush(
    {
      method: 'POST',
      url: `${base}${r.path}`,
      headers: r.headers as Record<string, string>,
      body: opts.body ?? new Uint8Array(r.body),
    },
    {
      keyLookup: (id) => (id === jwk.kid ? importVerifyKey(jwk as never) : undefined),
      now: opts.now ?? r.at,
      ...(nonces === undefined
        ? {}
        : {
            nonceStore: (nonce: string, keyId: string) => {
              const k = `${keyId} ${nonce}`;
              if (nonces.has(k)) return false;
              nonces.add(k);
              return true;
            },
          }),
    },
  );
}

const pushIdOf = (r: Received): string => String(r.headers['push-id']);
const bodyOf = <T = Record<string, unknown>>(r: Received): T => JSON.parse(r.body.toString('utf8')) as T;
const nonceOf = (r: Received): string | undefined =>
  /;nonce="([^"]+)"/.exec(String(r.headers['signature-input']))?.[1];
const createdOf = (r: Received): number | undefined => {
  const m = /;created=(\d+)/.exec(String(r.headers['signature-input']));
  return m === null ? undefined : Number(m[1]);
};

interface PushRow {
  push_id: string;
  url: string;
  state: string;
  attempts: number;
  last_status: number | null;
  next_attempt_at: number;
}
const pushRow = (pf: MockPlatform, url: string): PushRow =>
  pf.state.db.prepare('SELECT * FROM pushes WHERE url = ?').get(url) as PushRow;
const pushLog = (pf: MockPlatform, url: string) =>
  pf.recorder.entries
    .filter((e) => e.kind === 'push' && e.url === url)
    .map((e) => ({ at: e.at, attempt: e.attempt, status: e.status, push_id: e.push_id }));

const isoAt = (offsetS: number): string => new Date(T0 + offsetS * 1000).toISOString().replace('.000Z', 'Z');

// ---- 1. the retry schedule ---------------------------------------------------------------

describe('push retry schedule', () => {
  it('retries at exactly the published offsets, stops after a success, gives up after the last attempt', async () => {
    const pf = await platform();
    const keys = await platformKeys(pf);
    const schedule = keys.retry_schedule_s;
    expect(schedule.length).toBeGreaterThan(0);
    expect([...schedule].sort((a, b) => a - b)).toEqual(schedule);
    expect(new Set(schedule).size).toBe(schedule.length);
    // offsets (seconds after the first attempt) of every attempt there is
    const offsets = [0, ...schedule];
    const maxAttempts = offsets.length;

    // Receiver path /kN answers 500 to its first N requests, then 200. N = maxAttempts never
    // gets a 2xx: the platform must give up.
    const ks = Array.from({ length: maxAttempts + 1 }, (_, k) => k);
    const hook = await receiver(pf, (r, n) => (n <= Number(r.path.slice(2)) ? 500 : 200));
    for (const k of ks) {
      await subscribe(pf, {
        url: `${hook.base}/k${k}`,
        event_types: ['attendance.recorded'],
        recipient_person_id: 'p-001',
      });
    }
    await attend(pf, 1); // one event, one push per subscription, first attempt at T0
    const attemptsOf = (k: number) => hook.on(`/k${k}`).length;
    for (const k of ks) expect(attemptsOf(k), `k=${k} first attempt`).toBe(1);

    for (let i = 1; i < offsets.length; i++) {
      const due = T0 + offsets[i]! * 1000;
      const before = ks.map(attemptsOf);
      // one second early: nothing is retried
      pf.clock.set(due - 1000);
      await pf.pushes.pump();
      expect(ks.map(attemptsOf), `nothing before +${offsets[i]} s`).toEqual(before);
      // on time: attempt i+1 for every receiver that failed all i attempts so far
      pf.clock.set(due);
      await pf.pushes.pump();
      expect(ks.map(attemptsOf), `attempt ${i + 1} at +${offsets[i]} s`).toEqual(
        ks.map((k) => Math.min(k + 1, i + 1)),
      );
    }
    // a day later: nothing more, ever
    pf.clock.set(T0 + (offsets.at(-1)! + 86_400) * 1000);
    await pf.pushes.pump();
    expect(ks.map(attemptsOf)).toEqual(ks.map((k) => Math.min(k + 1, maxAttempts)));

    const observed = hook.on(`/k${maxAttempts}`).map((r) => (r.at - T0) / 1000);
    // what it does == what it publishes (platform keys, OpenAPI)
    expect(observed.slice(1)).toEqual(schedule);
    const openapi = json(await pf.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(openapi['x-push-retry-schedule-s']).toEqual(schedule);

    for (const k of ks) {
      const url = `${hook.base}/k${k}`;
      const n = Math.min(k + 1, maxAttempts);
      const got = hook.on(`/k${k}`);
      // the times of the attempts, on the virtual clock
      expect(got.map((r) => r.at)).toEqual(offsets.slice(0, n).map((o) => T0 + o * 1000));
      // the outbox: delivered after the first 2xx, failed after the last attempt
      const row = pushRow(pf, url);
      expect(row, `k=${k}`).toMatchObject(
        k < maxAttempts
          ? { state: 'delivered', attempts: k + 1, last_status: 200 }
          : { state: 'failed', attempts: maxAttempts, last_status: 500 },
      );
      // the recording: one line per attempt, with its number, time and status
      expect(pushLog(pf, url)).toEqual(
        offsets.slice(0, n).map((o, j) => ({
          at: isoAt(o),
          attempt: j + 1,
          status: j < k ? 500 : 200,
          push_id: row.push_id,
        })),
      );
      // every attempt: the same push id and bytes, re-signed at its own time with a fresh nonce
      expect(new Set(got.map(pushIdOf))).toEqual(new Set([row.push_id]));
      expect(new Set(got.map((r) => r.body.toString('utf8'))).size).toBe(1);
      expect(new Set(got.map(nonceOf)).size).toBe(n);
      expect(got.map(createdOf)).toEqual(got.map((r) => Math.floor(r.at / 1000)));
      const nonces = new Set<string>();
      for (const r of got) {
        const v = await verify(pf, hook.base, r, { nonces });
        expect(v.ok, JSON.stringify(v)).toBe(true);
      }
    }
  });

  it('the guide states the schedule the platform publishes', async () => {
    const pf = await platform();
    const { retry_schedule_s: schedule, tolerance_s } = await platformKeys(pf);
    const guide = readFileSync(new URL('../../../../docs/guides/mock-platform.md', import.meta.url), 'utf8');
    const stated = /retried after ([\d, ]+) s\b/.exec(guide)?.[1];
    expect(stated, 'docs/guides/mock-platform.md names the retry schedule').toBeDefined();
    expect(stated!.split(',').map((s) => Number(s.trim()))).toEqual(schedule);
    expect(tolerance_s).toBe(300);
  });
});

// ---- 2. payment push to the merchant -----------------------------------------------------

describe('payment push to a merchant subscription', () => {
  it('a POS payment is pushed, signed, to its merchant only; the push is the order as queried', async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    const canteen = deviceSigner(pf, 'm-canteen-s');
    // a merchant subscribes to its own pushes only
    const other = await pf.app.inject(
      signed(pf, canteen, 'POST', '/v1/webhook-subscriptions', {
        url: `${hook.base}/stolen`,
        event_types: ['payment.succeeded'],
        merchant_id: 'm-canteen-t',
      }),
    );
    expect([other.statusCode, json(other).code]).toEqual([403, 'ERR_FORBIDDEN']);
    const subId = await subscribe(
      pf,
      { url: `${hook.base}/canteen-s`, event_types: ['payment.succeeded', 'payment.failed'] },
      canteen,
    );
    expect(subId).toMatch(/^sub_/);

    const pay = async (no: string, amount: number, device: string) => {
      const r = await pf.app.inject(
        signed(pf, deviceSigner(pf, device), 'POST', '/v1/payments', {
          out_trade_no: no,
          amount,
          qr_text: await qrOf(pf, 's-001', 2),
        }),
      );
      expect(r.statusCode, r.body).toBeLessThan(300);
      await pf.pushes.pump();
    };
    await pay('MP-1', 700, 'pos-01'); // m-canteen-s
    await pay('MP-2', 800, 'pos-02'); // m-canteen-t: not this merchant's
    await pay('MP-3', 50_000, 'pos-01'); // more than the wallet holds: failed
    const got = hook.on('/canteen-s');
    expect(got.map((r) => r.headers['push-event-type'])).toEqual(['payment.succeeded', 'payment.failed']);
    expect(hook.on('/stolen')).toEqual([]);

    const [ok, failed] = got as [Received, Received];
    const v = await verify(pf, hook.base, ok, { nonces: new Set() });
    expect(v.ok, JSON.stringify(v)).toBe(true);
    if (!v.ok) return;
    const keys = await platformKeys(pf);
    expect(v.keyId).toBe(keys.webhook_signing[0]!.kid);
    expect(v.components).toEqual(expect.arrayContaining(['@method', '@path', 'content-digest', 'push-id']));
    const body = bodyOf<{ id: string; type: string; created_at: string; data: Record<string, unknown> }>(ok);
    expect(v.pushId).toBe(body.id);
    expect(body).toMatchObject({ type: 'payment.succeeded', created_at: isoAt(0) });
    // the active push carries the same order the POS gets by querying (passive)
    const queried = await pf.app.inject(signed(pf, deviceSigner(pf, 'pos-01'), 'GET', '/v1/payments/MP-1'));
    expect(body.data).toEqual(json(queried));
    expect(body.data).toMatchObject({
      out_trade_no: 'MP-1',
      amount: 700,
      status: 'success',
      merchant_id: 'm-canteen-s',
      device_id: 'pos-01',
      person_id: 's-001',
    });
    expect(bodyOf<{ data: Record<string, unknown> }>(failed).data).toMatchObject({
      out_trade_no: 'MP-3',
      status: 'failed',
      failure_code: 'ERR_INSUFFICIENT_FUNDS',
    });
    expect((await verify(pf, hook.base, failed)).ok).toBe(true);
    // the signature binds the body: one byte changed and it no longer verifies
    const tampered = new Uint8Array(ok.body);
    const at = tampered.length - 2;
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    expect(await verify(pf, hook.base, ok, { body: tampered })).toMatchObject({ ok: false });
    // and the time: outside ±300 s of `created` it is refused
    expect(await verify(pf, hook.base, ok, { now: ok.at + 301_000 })).toMatchObject({
      ok: false,
      code: 'ERR_SIG_EXPIRED',
    });
  });
});

// ---- 3. attendance push to the class teacher ---------------------------------------------

describe('attendance push to the class teacher', () => {
  it("goes to the student's class teacher (and parent), not to another class's teacher", async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    for (const who of ['t-001', 't-002', 'p-001']) {
      await subscribe(pf, {
        url: `${hook.base}/${who}`,
        event_types: ['attendance.recorded'],
        recipient_person_id: who,
      });
    }
    await attend(pf, 1, 's-001'); // class 7-2: t-001's
    expect(hook.on('/t-001')).toHaveLength(1);
    expect(hook.on('/p-001')).toHaveLength(1);
    expect(hook.on('/t-002')).toHaveLength(0);
    pf.clock.advance(60);
    await attend(pf, 2, 's-003'); // class 8-1: t-002's; p-001 is not s-003's parent
    expect(hook.on('/t-001')).toHaveLength(1);
    expect(hook.on('/p-001')).toHaveLength(1);
    expect(hook.on('/t-002')).toHaveLength(1);

    const [toT1] = hook.on('/t-001') as [Received];
    const [toT2] = hook.on('/t-002') as [Received];
    for (const r of [toT1, toT2]) {
      const v = await verify(pf, hook.base, r);
      expect(v.ok, JSON.stringify(v)).toBe(true);
      expect(r.headers['push-event-type']).toBe('attendance.recorded');
    }
    expect(bodyOf(toT1)).toMatchObject({
      type: 'attendance.recorded',
      data: { person_id: 's-001', class_id: '7-2', device_id: 'gate-01', seq: 1, decision: 'allowed' },
    });
    expect(bodyOf(toT2)).toMatchObject({
      type: 'attendance.recorded',
      data: { person_id: 's-003', class_id: '8-1', seq: 2 },
    });
    // the teacher's and the parent's pushes of one event are distinct pushes of the same event
    const [toP1] = hook.on('/p-001') as [Received];
    expect(pushIdOf(toP1)).not.toBe(pushIdOf(toT1));
    expect(bodyOf(toP1).data).toEqual(bodyOf(toT1).data);
  });
});

// ---- 4. duplicate and out-of-order pushes ------------------------------------------------

describe('duplicate_push fault', () => {
  it('on: the receiver gets each push twice (same push id, fresh nonce); off: once; scoped: only that scope', async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    const parentSub = await subscribe(pf, {
      url: `${hook.base}/parent`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    await subscribe(pf, {
      url: `${hook.base}/teacher`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 't-001',
    });
    let seq = 0;
    /** One event; what each receiver got for it. */
    const round = async () => {
      const from = hook.received.length;
      pf.clock.advance(10);
      await attend(pf, ++seq);
      const fresh = hook.received.slice(from);
      return {
        parent: fresh.filter((r) => r.path === '/parent'),
        teacher: fresh.filter((r) => r.path === '/teacher'),
      };
    };
    const counts = (r: { parent: Received[]; teacher: Received[] }) => [r.parent.length, r.teacher.length];

    // off
    expect(counts(await round())).toEqual([1, 1]);

    // on, everywhere
    pf.state.faults.set([{ kind: 'duplicate_push' }], 11);
    const dup = await round();
    expect(counts(dup)).toEqual([2, 2]);
    const nonces = new Set<string>();
    for (const pair of [dup.parent, dup.teacher]) {
      const [a, b] = pair as [Received, Received];
      expect(pushIdOf(a)).toBe(pushIdOf(b));
      expect(a.body.equals(b.body)).toBe(true);
      expect(nonceOf(a)).not.toBe(nonceOf(b));
      // a receiver with replay protection accepts both (it must dedupe by push id itself)
      for (const r of pair) expect((await verify(pf, hook.base, r, { nonces })).ok).toBe(true);
      // the outbox counts one attempt; the recording shows the two deliveries of attempt 1
      const rows = pf.state.db
        .prepare('SELECT state, attempts FROM pushes WHERE push_id = ?')
        .all(pushIdOf(a)) as { state: string; attempts: number }[];
      expect(rows).toEqual([{ state: 'delivered', attempts: 1 }]);
      expect(pushLog(pf, `${hook.base}${a.path}`).filter((e) => e.push_id === pushIdOf(a))).toEqual([
        { at: isoAt(20), attempt: 1, status: 200, push_id: pushIdOf(a) },
        { at: isoAt(20), attempt: 1, status: 200, push_id: pushIdOf(a) },
      ]);
    }
    expect(pushIdOf(dup.parent[0]!)).not.toBe(pushIdOf(dup.teacher[0]!));

    // off again
    pf.state.faults.clear();
    expect(counts(await round())).toEqual([1, 1]);

    // scoped to one subscription (a push's fault site is its subscription)
    pf.state.faults.set([{ kind: 'duplicate_push', device_id: parentSub }]);
    expect(counts(await round())).toEqual([2, 1]);
    // scoped to another principal: no push matches
    pf.state.faults.set([{ kind: 'duplicate_push', device_id: 'gate-01' }]);
    expect(counts(await round())).toEqual([1, 1]);
    // scoped to the push "route", once
    pf.state.faults.set([{ kind: 'duplicate_push', route: 'push', count: 1 }]);
    const once = await round();
    expect(once.parent.length + once.teacher.length).toBe(3);
    expect(counts(await round())).toEqual([1, 1]);
    // scoped to a request route: pushes are not requests
    pf.state.faults.set([{ kind: 'duplicate_push', route: 'uploadEvents' }]);
    expect(counts(await round())).toEqual([1, 1]);
  });
});

describe('reorder_push fault', () => {
  it('on: pushes due together arrive out of order; off or out of scope: in order', async () => {
    const pf = await platform();
    let accepting = false;
    const hook = await receiver(pf, () => (accepting ? 200 : 503));
    const subId = await subscribe(pf, {
      url: `${hook.base}/parent`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    let seq = 0;
    /**
     * Makes three pushes A, B, C (created 1 s apart) whose first attempts fail, then lets the
     * receiver accept and the retries of all three fall due in one delivery round, with `faults`
     * on for that round only. Returns the round's order as indexes into [A, B, C].
     */
    const roundOrder = async (faults: Parameters<typeof pf.state.faults.set>[0]) => {
      pf.state.faults.clear();
      accepting = false;
      const firstFrom = hook.received.length;
      for (let i = 0; i < 3; i++) {
        await attend(pf, ++seq);
        pf.clock.advance(1);
      }
      const created = hook.received.slice(firstFrom).map(pushIdOf);
      expect(created).toHaveLength(3);
      expect(new Set(created).size).toBe(3);
      accepting = true;
      pf.state.faults.set(faults);
      pf.clock.advance(60); // every retry is due
      const from = hook.received.length;
      await pf.pushes.pump();
      pf.state.faults.clear();
      // pushes held with nothing to overtake them go once REORDER_HOLD_MS has passed
      pf.clock.advance(REORDER_HOLD_MS / 1000);
      await pf.pushes.pump();
      const order = hook.received.slice(from).map((r) => created.indexOf(pushIdOf(r)));
      for (const r of hook.received.slice(from)) expect((await verify(pf, hook.base, r)).ok).toBe(true);
      return order;
    };

    expect(await roundOrder([])).toEqual([0, 1, 2]);
    // on (probability 1, every push): none arrives in creation order
    expect(await roundOrder([{ kind: 'reorder_push' }])).toEqual([2, 1, 0]);
    // on for one push: it arrives last
    expect(await roundOrder([{ kind: 'reorder_push', count: 1 }])).toEqual([1, 2, 0]);
    // scoped to this subscription, and to the push route
    expect(await roundOrder([{ kind: 'reorder_push', device_id: subId }])).toEqual([2, 1, 0]);
    expect(await roundOrder([{ kind: 'reorder_push', route: 'push', count: 1 }])).toEqual([1, 2, 0]);
    // scoped to the subscription's owner (the principal that subscribed)
    const { owner } = pf.state.db
      .prepare('SELECT owner FROM subscriptions WHERE subscription_id = ?')
      .get(subId) as { owner: string };
    expect(await roundOrder([{ kind: 'reorder_push', device_id: owner, count: 1 }])).toEqual([1, 2, 0]);
    // scoped elsewhere: in order
    expect(await roundOrder([{ kind: 'reorder_push', device_id: 'sub_other' }])).toEqual([0, 1, 2]);
    // off again
    expect(await roundOrder([])).toEqual([0, 1, 2]);
  });

  it('a held push is overtaken by one queued after it, then follows it', async () => {
    const pf = await platform();
    const hook = await receiver(pf, () => 200);
    await subscribe(pf, {
      url: `${hook.base}/parent`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    pf.state.faults.set([{ kind: 'reorder_push', count: 1 }]);
    await attend(pf, 1); // push A: held in its first round
    await pf.pushes.pump();
    expect(hook.received).toHaveLength(0);
    const [a] = pf.state.db.prepare("SELECT push_id FROM pushes WHERE state = 'pending'").all() as {
      push_id: string;
    }[];
    expect(a).toBeDefined();
    await pf.pushes.pump(); // still held: nothing has overtaken it, and the hold has not run out
    expect(hook.received).toHaveLength(0);
    pf.clock.advance(1);
    await attend(pf, 2); // push B, queued after A: sent, and A right after it
    await pf.pushes.pump();
    const ids = hook.received.map(pushIdOf);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(a?.push_id);
    expect(ids[0]).not.toBe(a?.push_id);
    for (const r of hook.received) expect((await verify(pf, hook.base, r)).ok).toBe(true);
  });
});

describe('subscriptions the platform could not deliver to, and answers that are not a 2xx', () => {
  it('a URL the URL parser refuses, or with credentials, is a 400 naming body/url; nothing stored', async () => {
    const pf = await platform();
    for (const url of [
      'http://exa mple.com/x',
      'http://h:99999/',
      'http://u:p@example.com/hook',
      'http://[::1/x',
    ]) {
      const r = await pf.app.inject(
        signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', {
          url,
          event_types: ['attendance.recorded'],
          recipient_person_id: 'p-001',
        }),
      );
      expect([url, r.statusCode, json(r).code]).toEqual([url, 400, 'ERR_VALIDATION']);
      expect(json<{ errors: { path: string }[] }>(r).errors[0]?.path).toBe('body/url');
    }
    expect(pf.state.db.prepare('SELECT COUNT(*) AS n FROM subscriptions').get()).toEqual({ n: 0 });
  });

  it('a subscription for a person or merchant that does not exist is a 404; nothing stored', async () => {
    const pf = await platform();
    for (const body of [
      { url: 'http://127.0.0.1:9/x', event_types: ['attendance.recorded'], recipient_person_id: 'nobody' },
      { url: 'http://127.0.0.1:9/x', event_types: ['payment.succeeded'], merchant_id: 'no-such-merchant' },
    ]) {
      const r = await pf.app.inject(signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', body));
      expect([r.statusCode, json(r).code]).toEqual([404, 'ERR_NOT_FOUND']);
    }
    expect(pf.state.db.prepare('SELECT COUNT(*) AS n FROM subscriptions').get()).toEqual({ n: 0 });
  });

  it('a stored URL that cannot be signed for fails its own push, on the schedule, and holds up no other', async () => {
    const pf = await platform();
    const good = await receiver(pf);
    await subscribe(pf, {
      url: `${good.base}/good`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    // a row stored before URLs were checked (an older database)
    const bad = await subscribe(pf, {
      url: `${good.base}/later-broken`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    pf.state.db
      .prepare('UPDATE subscriptions SET url = ? WHERE subscription_id = ?')
      .run('http://exa mple.com/x', bad);
    await attend(pf, 1);
    expect(good.on('/good')).toHaveLength(1);
    const rows = pf.state.db
      .prepare("SELECT state, attempts, last_status FROM pushes WHERE url LIKE 'http://exa mple%'")
      .all();
    expect(rows).toEqual([{ state: 'pending', attempts: 1, last_status: 0 }]);
  });

  it('a redirect is not followed: the 3xx is recorded and the push tried again', async () => {
    const pf = await platform();
    const hits: string[] = [];
    const srv = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end('ok');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const port = (srv.address() as AddressInfo).port;
      await subscribe(pf, {
        url: `http://127.0.0.1:${port}/hook`,
        event_types: ['attendance.recorded'],
        recipient_person_id: 'p-001',
      });
      await attend(pf, 1);
      expect(hits).toEqual(['POST /hook']);
      expect(pf.state.db.prepare('SELECT state, last_status FROM pushes').get()).toEqual({
        state: 'pending',
        last_status: 302,
      });
    } finally {
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    }
  });
});

// ---- 5. one slow subscriber holds up no other --------------------------------------------

/** A receiver that answers 200 after `holdMs` of real time, or never; it counts the requests it holds open. */
interface SlowReceiver extends Receiver {
  /** Requests open now, by path. */
  readonly open: Map<string, number>;
  /** Most requests open at once, by path and (`*`) over all paths. */
  readonly most: Map<string, number>;
}
async function slowReceiver(pf: MockPlatform, holdMs: number | 'never'): Promise<SlowReceiver> {
  const received: Received[] = [];
  const open = new Map<string, number>();
  const most = new Map<string, number>();
  const bump = (key: string, by: number) => {
    const n = (open.get(key) ?? 0) + by;
    open.set(key, n);
    most.set(key, Math.max(most.get(key) ?? 0, n));
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    bump(path, 1);
    bump('*', 1);
    let closed = false;
    // the request ends when answered, or when the platform gives up on it (timeout, close)
    res.on('close', () => {
      if (closed) return;
      closed = true;
      bump(path, -1);
      bump('*', -1);
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path,
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: pf.clock.now(),
      });
      if (holdMs !== 'never') setTimeout(() => res.end('ok'), holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: SlowReceiver = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    open,
    most,
    on: (path) => received.filter((x) => x.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(r);
  return r;
}

/** Polls `done` every 10 ms for up to `withinMs` of real time; true once it holds. */
async function eventually(done: () => boolean, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > until) return false;
    await sleep(10);
  }
  return true;
}

const seqOf = (r: Received): number => bodyOf<{ data: { seq: number } }>(r).data.seq;

describe('one slow subscriber holds up no other', () => {
  it("a subscriber that never answers does not delay another subscription's push", async () => {
    const pf = await platform();
    const hang = await slowReceiver(pf, 'never');
    const good = await receiver(pf);
    await subscribe(pf, {
      url: `${hang.base}/hang`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 's-001',
    });
    await subscribe(pf, {
      url: `${good.base}/good`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 's-002',
    });
    // two pushes to the subscriber that hangs, then one to the good one (each upload wakes the
    // dispatcher; the pump below is one more round)
    await upload(pf, 1, 's-001');
    pf.clock.advance(1);
    await upload(pf, 2, 's-001');
    pf.clock.advance(1);
    await upload(pf, 3, 's-002');
    const since = Date.now();
    const round = pf.pushes.pump();
    // one after another, the good push would wait for the 5 s timeout of each hanging push (10 s)
    expect(await eventually(() => good.on('/good').length === 1, 4000)).toBe(true);
    expect(Date.now() - since).toBeLessThan(1000);
    expect(seqOf(good.on('/good')[0]!)).toBe(3);
    const hanging = () =>
      pf.state.db
        .prepare('SELECT state, attempts, last_status FROM pushes WHERE url = ? ORDER BY created_at')
        .all(`${hang.base}/hang`);
    // ... while both hanging pushes are still pending, their first attempt not over
    expect(hanging()).toEqual([
      { state: 'pending', attempts: 0, last_status: null },
      { state: 'pending', attempts: 0, last_status: null },
    ]);
    expect(pushRow(pf, `${good.base}/good`)).toMatchObject({ state: 'delivered', attempts: 1 });
    // the hanging subscription's pushes go one at a time: the second waits for the first
    expect(await eventually(() => hang.received.length === 1, 4000)).toBe(true);
    expect(seqOf(hang.received[0]!)).toBe(1);
    expect(hang.most.get('/hang')).toBe(1);

    // the subscriber goes away: both attempts fail (no answer), are recorded and retried on the schedule
    await hang.close();
    await round;
    expect(hanging()).toEqual([
      { state: 'pending', attempts: 1, last_status: 0 },
      { state: 'pending', attempts: 1, last_status: 0 },
    ]);
    expect(pushLog(pf, `${hang.base}/hang`).map((e) => [e.attempt, e.status])).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect(pushLog(pf, `${good.base}/good`).map((e) => [e.attempt, e.status])).toEqual([[1, 200]]);
  });

  it('pushes to one subscription go one at a time, in creation order; subscriptions go side by side', async () => {
    const pf = await platform();
    const slow = await slowReceiver(pf, 200);
    // s-001's pushes go to s-001, to its parent p-001 and to its class teacher t-001
    const paths = ['/s-001', '/p-001', '/t-001'];
    for (const path of paths) {
      await subscribe(pf, {
        url: `${slow.base}${path}`,
        event_types: ['attendance.recorded'],
        recipient_person_id: path.slice(1),
      });
    }
    // five events a second apart, each waking the dispatcher: rounds overlap the deliveries
    for (let seq = 1; seq <= 5; seq++) {
      await upload(pf, seq);
      pf.clock.advance(1);
    }
    await pf.pushes.pump();
    for (const path of paths) {
      expect(slow.on(path).map(seqOf), path).toEqual([1, 2, 3, 4, 5]);
      expect(slow.most.get(path), path).toBe(1);
      expect(pushLog(pf, `${slow.base}${path}`).map((e) => [e.attempt, e.status])).toEqual(
        Array(5).fill([1, 200]),
      );
    }
    // the three subscriptions' requests overlapped (each is held 200 ms)
    expect(slow.most.get('*')).toBeGreaterThan(1);
    const states = pf.state.db.prepare('SELECT state, attempts FROM pushes').all();
    expect(states).toEqual(Array(15).fill({ state: 'delivered', attempts: 1 }));
  });

  it('overlapping rounds never send a push again while its attempt is under way', async () => {
    // a round every 10 ms on its own, plus wake-ups and pumps
    p = await demoPlatform({ pushIntervalMs: 10 });
    const pf = p;
    const slow = await slowReceiver(pf, 300);
    const hang = await slowReceiver(pf, 'never');
    await subscribe(pf, {
      url: `${slow.base}/slow`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    await subscribe(pf, {
      url: `${hang.base}/hang`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 's-001',
    });
    for (let seq = 1; seq <= 3; seq++) {
      await upload(pf, seq);
      pf.clock.advance(1);
    }
    const pumps: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      pumps.push(pf.pushes.pump());
      await sleep(25);
    }
    // all three answered and recorded (each answer comes 300 ms after the request)
    expect(await eventually(() => pushLog(pf, `${slow.base}/slow`).length >= 3, 4000)).toBe(true);
    await sleep(100); // room for a second copy to show up
    expect(slow.on('/slow').map(seqOf)).toEqual([1, 2, 3]);
    expect(new Set(slow.received.map(pushIdOf)).size).toBe(3);
    expect(slow.most.get('/slow')).toBe(1);
    // the hanging push stays due (pending, its first attempt not over) through every round, and
    // is sent once; the ones after it wait their turn
    expect(hang.received.map(seqOf)).toEqual([1]);
    expect(hang.most.get('/hang')).toBe(1);
    expect(
      pf.state.db
        .prepare('SELECT state, attempts FROM pushes WHERE url = ? ORDER BY created_at')
        .all(`${hang.base}/hang`),
    ).toEqual(Array(3).fill({ state: 'pending', attempts: 0 }));
    expect(pushLog(pf, `${slow.base}/slow`)).toHaveLength(3);
    expect(pushLog(pf, `${hang.base}/hang`)).toHaveLength(0);
    // closing cuts the hanging attempt short; every pump still running settles
    await pf.close();
    await Promise.all(pumps);
  });

  it('closing with a delivery in flight to a subscriber that never answers is prompt and clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-card-push-close-'));
    try {
      const dbPath = join(dir, 'p.db');
      p = await demoPlatform({ dbPath, pushIntervalMs: 3_600_000 });
      const pf = p;
      const hang = await slowReceiver(pf, 'never');
      await subscribe(pf, {
        url: `${hang.base}/hang`,
        event_types: ['attendance.recorded'],
        recipient_person_id: 's-001',
      });
      await upload(pf, 1);
      const round = pf.pushes.pump();
      expect(await eventually(() => hang.received.length === 1, 4000)).toBe(true);
      const since = Date.now();
      await pf.close();
      // without aborting the request, close would wait out its 5 s timeout
      expect(Date.now() - since).toBeLessThan(3000);
      await expect(round).resolves.toBe(0);
      // the request was given up (the subscriber sees the connection close)
      expect(await eventually(() => hang.open.get('/hang') === 0, 2000)).toBe(true);
      // a wake-up after close touches nothing (the database is closed)
      await expect(pf.pushes.pump()).resolves.toBe(0);
      pf.state.kickPushes();
      await sleep(50);
      // the cut attempt is neither recorded nor counted: the push is pending as before, and a
      // platform started again on this database sends it again
      expect(pushLog(pf, `${hang.base}/hang`)).toEqual([]);
      const db = new Database(dbPath, { readonly: true });
      try {
        expect(db.prepare('SELECT state, attempts, last_status FROM pushes').all()).toEqual([
          { state: 'pending', attempts: 0, last_status: null },
        ]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- what a vendor building a push receiver relies on ------------------------------------

describe('push payloads', () => {
  it('every event type sent matches its OpenAPI webhooks schema and verifies', async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    const all = Object.keys(WebhookEvents);
    await subscribe(pf, { url: `${hook.base}/s-001`, event_types: all, recipient_person_id: 's-001' });
    await subscribe(pf, { url: `${hook.base}/m`, event_types: all }, deviceSigner(pf, 'm-canteen-s'));
    const pos = deviceSigner(pf, 'pos-01');
    for (const [no, amount] of [
      ['A1', 500],
      ['A2', 500],
    ] as const) {
      const r = await pf.app.inject(
        signed(pf, pos, 'POST', '/v1/payments', {
          out_trade_no: no,
          amount,
          qr_text: await qrOf(pf, 's-001', 2),
        }),
      );
      expect(r.statusCode, r.body).toBeLessThan(300);
    }
    expect((await pf.app.inject(signed(pf, pos, 'POST', '/v1/payments/A1/reverse', {}))).statusCode).toBe(
      200,
    );
    const rf = await pf.app.inject(
      signed(pf, pos, 'POST', '/v1/payments/A2/refunds', { out_refund_no: 'RF1', amount: 100, reason: 'x' }),
    );
    expect(rf.statusCode, rf.body).toBe(201);
    // above the confirmation threshold: processing until closed
    const big = await pf.app.inject(
      signed(pf, pos, 'POST', '/v1/payments', {
        out_trade_no: 'A3',
        amount: 60_000,
        qr_text: await qrOf(pf, 's-001', 2),
      }),
    );
    expect(json<{ status: string }>(big).status).toBe('processing');
    const closed = await pf.app.inject(signed(pf, pos, 'POST', '/v1/payments/A3/close', {}));
    expect(json<{ status: string }>(closed).status).toBe('closed');
    const card = pf.demo?.cards.find((c) => c.personId === 's-001');
    const lost = await pf.app.inject(
      signed(pf, operator(pf), 'POST', `/v1/cards/${card?.cardId}/report-lost`, {}),
    );
    expect(lost.statusCode, lost.body).toBe(200);
    await attend(pf, 1, 's-002'); // not s-001's: nothing for these subscriptions
    await pf.pushes.pump();
    const seen = new Set<string>();
    for (const got of hook.received) {
      const body = bodyOf<{ type: string }>(got);
      seen.add(body.type);
      expect(got.headers['push-event-type']).toBe(body.type);
      const check = compileValidator(WebhookEvents[body.type as keyof typeof WebhookEvents]);
      expect(check(body), body.type).toMatchObject({ ok: true });
      expect(await verify(pf, hook.base, got)).toMatchObject({ ok: true, pushId: pushIdOf(got) });
    }
    expect([...seen].sort()).toEqual([
      'card.status_changed',
      'payment.closed',
      'payment.refunded',
      'payment.reversed',
      'payment.succeeded',
    ]);
  });
});

describe('reorder_push fault', () => {
  it("a held push waits for a later push of its own subscription, not another subscription's", async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    // p-001 gets s-001's pushes; t-002 (class 8-1) gets s-003's
    const parent = await subscribe(pf, {
      url: `${hook.base}/parent`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    await subscribe(pf, {
      url: `${hook.base}/teacher`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 't-002',
    });
    pf.state.faults.set([{ kind: 'reorder_push', device_id: parent, count: 1 }]);
    await attend(pf, 1, 's-001'); // the parent's push 1: held
    expect(hook.on('/parent')).toHaveLength(0);
    pf.clock.advance(1);
    await attend(pf, 2, 's-003'); // a later push, to the teacher only
    await pf.pushes.pump();
    expect(hook.on('/teacher').map((r) => seqOf(r))).toEqual([2]);
    // the parent's receiver has seen nothing after push 1 yet: it is still held
    expect(hook.on('/parent')).toHaveLength(0);
    await attend(pf, 3, 's-001'); // the parent's next push (1 s after push 1: the hold has not run out)
    await pf.pushes.pump();
    const got = hook.on('/parent');
    expect(got.map((r) => seqOf(r))).toEqual([3, 1]);
    for (const r of got)
      expect(await verify(pf, hook.base, r)).toMatchObject({ ok: true, pushId: pushIdOf(r) });
  });
});

/** A port on 127.0.0.1 that nothing listens on (taken, then let go). */
function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

describe('retries', () => {
  it('4xx and connection refused are retried on the schedule, a 2xx stops them; each attempt is recorded', async () => {
    const pf = await platform();
    const statuses = [410, 400, 204];
    const hook = await receiver(pf, (_r, n) => statuses[n - 1] ?? 200);
    const dead = `http://127.0.0.1:${await deadPort()}/gone`;
    await subscribe(pf, {
      url: `${hook.base}/h`,
      event_types: ['attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    await subscribe(pf, { url: dead, event_types: ['attendance.recorded'], recipient_person_id: 'p-001' });
    await attend(pf, 1, 's-001');
    for (const at of [5, 30, 120]) {
      pf.clock.set(T0 + at * 1000);
      await pf.pushes.pump();
    }
    const log = (url: string) =>
      pf.recorder.entries
        .filter((e) => e.kind === 'push' && e.url === url)
        .map((e) => [e.at, e.attempt, e.status]);
    expect(log(`${hook.base}/h`)).toEqual([
      [isoAt(0), 1, 410],
      [isoAt(5), 2, 400],
      [isoAt(30), 3, 204],
    ]);
    expect(log(dead)).toEqual([
      [isoAt(0), 1, 0],
      [isoAt(5), 2, 0],
      [isoAt(30), 3, 0],
      [isoAt(120), 4, 0],
    ]);
    const rows = pf.state.db
      .prepare('SELECT url, state, attempts, last_status FROM pushes ORDER BY url')
      .all();
    expect(rows).toEqual(
      [
        { url: `${hook.base}/h`, state: 'delivered', attempts: 3, last_status: 204 },
        { url: dead, state: 'pending', attempts: 4, last_status: 0 },
      ].sort((a, b) => (a.url < b.url ? -1 : 1)),
    );
    for (const r of hook.received)
      expect(await verify(pf, hook.base, r)).toMatchObject({ ok: true, pushId: pushIdOf(r) });
  });
});
