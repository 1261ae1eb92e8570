/**
 * Audit of signed pushes, end to end, on a frozen virtual clock against real HTTP receivers on
 * port 0: what a vendor building a push receiver relies on.
 *
 * - every push event type the platform sends matches its OpenAPI `webhooks` schema, carries its
 *   type in `push-event-type` and verifies with core's `verifyPush` against the published key;
 * - a 4xx is retried like a 5xx, a port nothing listens on like no answer; a 2xx stops the
 *   retries; every attempt is recorded;
 * - a `reorder_push` fault on one subscription makes that subscription's receiver see its pushes
 *   out of order: the held push waits for a later push of the same subscription (or the hold),
 *   never for another subscription's, which its receiver does not see.
 */

import { createServer } from 'node:net';
import { compileValidator, type PlatformKeys, WebhookEvents } from '@campus-card/core/api';
import { importVerifyKey, verifyPush } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
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

async function receiver(pf: MockPlatform, answer?: (r: Received, n: number) => number): Promise<Receiver> {
  const r = await startReceiver(() => pf.clock.now(), answer);
  receivers.push(r);
  return r;
}

async function subscribe(
  pf: MockPlatform,
  body: { url: string; event_types: string[]; recipient_person_id?: string },
  signer: Signer = operator(pf),
): Promise<string> {
  const r = await pf.app.inject(signed(pf, signer, 'POST', '/v1/webhook-subscriptions', body));
  expect(r.statusCode, r.body).toBe(201);
  return json<{ subscription_id: string }>(r).subscription_id;
}

/** Uploads one attendance event of `person` from `gate-01`, then runs a delivery round. */
async function attend(pf: MockPlatform, seq: number, person: string): Promise<void> {
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
  await pf.pushes.pump();
}

async function verified(pf: MockPlatform, r: Received): Promise<boolean> {
  const keys = json<PlatformKeys>(await pf.app.inject({ method: 'GET', url: '/v1/platform/keys' }));
  const byKid = new Map(keys.webhook_signing.map((k) => [k.kid ?? '', importVerifyKey(k as never)]));
  const v = await verifyPush(
    {
      method: r.method,
      url: r.path,
      headers: r.headers as Record<string, string>,
      body: new Uint8Array(r.body),
    },
    { keyLookup: (kid) => byKid.get(kid), now: r.at },
  );
  return v.ok && v.pushId === String(r.headers['push-id']);
}

const bodyOf = (r: Received) =>
  JSON.parse(r.body.toString('utf8')) as { type: string; data: { seq?: number } };

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
    const card = pf.demo?.cards.find((c) => c.personId === 's-001');
    const lost = await pf.app.inject(
      signed(pf, operator(pf), 'POST', `/v1/cards/${card?.cardId}/report-lost`, {}),
    );
    expect(lost.statusCode, lost.body).toBe(200);
    await attend(pf, 1, 's-002'); // not s-001's: nothing for these subscriptions
    await pf.pushes.pump();
    const seen = new Set<string>();
    for (const got of hook.received) {
      const body = bodyOf(got);
      seen.add(body.type);
      expect(got.headers['push-event-type']).toBe(body.type);
      const check = compileValidator(WebhookEvents[body.type as keyof typeof WebhookEvents]);
      expect(check(body), body.type).toMatchObject({ ok: true });
      expect(await verified(pf, got)).toBe(true);
    }
    expect([...seen].sort()).toEqual([
      'card.status_changed',
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
    expect(hook.on('/teacher').map((r) => bodyOf(r).data.seq)).toEqual([2]);
    // the parent's receiver has seen nothing after push 1 yet: it is still held
    expect(hook.on('/parent')).toHaveLength(0);
    await attend(pf, 3, 's-001'); // the parent's next push (1 s after push 1: the hold has not run out)
    await pf.pushes.pump();
    const got = hook.on('/parent');
    expect(got.map((r) => bodyOf(r).data.seq)).toEqual([3, 1]);
    for (const r of got) expect(await verified(pf, r)).toBe(true);
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
    const at = (s: number) => new Date(T0 + s * 1000).toISOString().replace('.000Z', 'Z');
    expect(log(`${hook.base}/h`)).toEqual([
      [at(0), 1, 410],
      [at(5), 2, 400],
      [at(30), 3, 204],
    ]);
    expect(log(dead)).toEqual([
      [at(0), 1, 0],
      [at(5), 2, 0],
      [at(30), 3, 0],
      [at(120), 4, 0],
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
    for (const r of hook.received) expect(await verified(pf, r)).toBe(true);
  });
});
