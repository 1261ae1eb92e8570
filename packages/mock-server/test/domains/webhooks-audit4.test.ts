/**
 * Push delivery, audit 4 (src/domains/webhooks.ts), against real receivers on a frozen clock:
 *
 * - a late attempt (a clock jump, a slow queue) pushes the later retries back: they keep the
 *   schedule's gaps instead of going back to back and abandoning the push within seconds;
 * - the pushes of one request (the same millisecond) go in the order they were queued, whatever
 *   order an index holds them in, and a `reorder_push` hold is overtaken by a later push of the
 *   same millisecond;
 * - a push is signed for its receiver's authority: another receiver at the same path refuses it;
 * - an attempt's outcome written while another request's group-commit batch is open, a batch that
 *   then fails, is written again: the attempt is counted and a delivered push is not sent again.
 */
import { type PlatformKeys, WEBHOOK_RETRY_SCHEDULE_S } from '@campus-card/core/api';
import { type HeaderInput, importVerifyKey, verifyPush } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  failNextCommit,
  json,
  operator,
  qrOf,
  type Received,
  type Receiver,
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

/** A demo platform on the frozen clock at T0 whose dispatcher runs only when woken or pumped. */
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

async function subscribe(pf: MockPlatform, url: string, person = 'p-001'): Promise<string> {
  const r = await pf.app.inject(
    signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', {
      url,
      event_types: ['attendance.recorded'],
      recipient_person_id: person,
    }),
  );
  expect(r.statusCode, r.body).toBe(201);
  return json<{ subscription_id: string }>(r).subscription_id;
}

/** Uploads attendance events `seqs` of s-001 from gate-01 in ONE batch (one request, one millisecond). */
async function uploadBatch(pf: MockPlatform, seqs: number[]): Promise<void> {
  const events = [];
  for (const seq of seqs) {
    events.push({
      seq,
      kind: 'attendance',
      direction: seq % 2 === 1 ? 'in' : 'out',
      occurred_at: new Date(pf.clock.now()).toISOString(),
      qr_text: await qrOf(pf, 's-001', 1),
      decision: 'allowed',
    });
  }
  const r = await pf.app.inject(
    signed(pf, deviceSigner(pf, 'gate-01'), 'POST', '/v1/events/batches', { events }),
  );
  expect(json(r), r.body).toMatchObject({ accepted: seqs.length });
}

const seqOf = (r: Received): number =>
  (JSON.parse(r.body.toString('utf8')) as { data: { seq: number } }).data.seq;

interface PushRow {
  push_id: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
}
const rows = (pf: MockPlatform): PushRow[] =>
  pf.state.db
    .prepare('SELECT push_id, state, attempts, next_attempt_at, last_status FROM pushes ORDER BY rowid')
    .all() as PushRow[];

/** Lets a group-commit batch scheduled now reach its COMMIT (a `setImmediate`). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a late attempt pushes the later retries back', () => {
  it('after a clock jump past the whole schedule, the retries keep their gaps; the push is not abandoned at once', async () => {
    const pf = await platform();
    const hook = await receiver(pf, () => 503);
    await subscribe(pf, `${hook.base}/down`);
    await uploadBatch(pf, [1]);
    await pf.pushes.pump();
    expect(hook.received.map((r) => r.at)).toEqual([T0]);
    // the platform was down (or its clock was moved on) for over an hour: one attempt now ...
    const back = T0 + 4000 * 1000;
    pf.clock.set(back);
    for (let i = 0; i < 5; i++) await pf.pushes.pump();
    // ... and not the whole rest of the schedule back to back
    expect(hook.received.map((r) => r.at)).toEqual([T0, back]);
    expect(rows(pf)).toEqual([
      expect.objectContaining({ state: 'pending', attempts: 2, next_attempt_at: back + 25_000 }),
    ]);
    // then each retry waits the schedule's gap after the one before: 25, 90, 480, 3000 s
    const gaps = WEBHOOK_RETRY_SCHEDULE_S.slice(1).map((s, i) => s - (WEBHOOK_RETRY_SCHEDULE_S[i] ?? 0));
    expect(gaps).toEqual([25, 90, 480, 3000]);
    let at = back;
    for (const gap of gaps) {
      pf.clock.set(at + gap * 1000 - 1000);
      await pf.pushes.pump();
      expect(hook.received.at(-1)?.at, `nothing a second before the ${gap} s gap is over`).toBe(at);
      at += gap * 1000;
      pf.clock.set(at);
      await pf.pushes.pump();
      expect(hook.received.at(-1)?.at).toBe(at);
    }
    expect(hook.received).toHaveLength(WEBHOOK_RETRY_SCHEDULE_S.length + 1);
    expect(rows(pf)).toEqual([expect.objectContaining({ state: 'failed', attempts: 6, last_status: 503 })]);
  });

  it('a first attempt made late is retried 5 s after it, not at once', async () => {
    const pf = await platform();
    const hook = await receiver(pf, (_r, n) => (n === 1 ? 500 : 200));
    await subscribe(pf, `${hook.base}/late`);
    await uploadBatch(pf, [1]); // queued at T0; the dispatcher gets to it 10 s later
    pf.clock.set(T0 + 10_000);
    await pf.pushes.pump();
    expect(rows(pf)).toEqual([
      expect.objectContaining({ state: 'pending', attempts: 1, next_attempt_at: T0 + 15_000 }),
    ]);
    await pf.pushes.pump();
    expect(hook.received).toHaveLength(1);
    pf.clock.set(T0 + 15_000);
    await pf.pushes.pump();
    expect(hook.received.map((r) => r.at)).toEqual([T0 + 10_000, T0 + 15_000]);
    expect(rows(pf)).toEqual([expect.objectContaining({ state: 'delivered', attempts: 2 })]);
  });
});

describe('pushes of the same millisecond', () => {
  it("a batch's pushes arrive in the order they were made", async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    await subscribe(pf, `${hook.base}/parent`);
    await uploadBatch(pf, [1, 2, 3, 4, 5]);
    await pf.pushes.pump();
    expect(hook.received.map(seqOf)).toEqual([1, 2, 3, 4, 5]);
  });

  it('due together, they go in creation order, not in the order of their due times in the index', async () => {
    const pf = await platform();
    // every first attempt fails; the retries are taken
    const hook = await receiver(pf, (_r, n) => (n <= 3 ? 500 : 200));
    await subscribe(pf, `${hook.base}/parent`);
    await uploadBatch(pf, [1, 2, 3]);
    await pf.pushes.pump();
    expect(hook.received.map(seqOf)).toEqual([1, 2, 3]);
    // the first push falls due a moment after the other two (whatever made it so): when all three
    // are due, the subscriber still gets them in the order they were made
    const [first] = rows(pf);
    pf.state.db
      .prepare('UPDATE pushes SET next_attempt_at = next_attempt_at + 1000 WHERE push_id = ?')
      .run(first?.push_id);
    pf.clock.set(T0 + 10_000);
    await pf.pushes.pump();
    expect(hook.received.slice(3).map(seqOf)).toEqual([1, 2, 3]);
  });

  it('a push held by reorder_push is overtaken by a later push made in the same millisecond', async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    const sub = await subscribe(pf, `${hook.base}/parent`);
    pf.state.faults.set([{ kind: 'reorder_push', device_id: sub, count: 1 }]);
    await uploadBatch(pf, [1, 2]);
    await pf.pushes.pump(); // push 1 held, push 2 sent
    await pf.pushes.pump(); // push 1 overtaken: released (the frozen clock never ends its hold)
    expect(hook.received.map(seqOf)).toEqual([2, 1]);
  });
});

describe("an attempt's outcome and the group commit", () => {
  /**
   * Opens a group-commit batch (as another request's write does) just before the outcome of the
   * first attempt is written, and makes that batch's COMMIT fail.
   */
  function failTheBatchOfTheFirstOutcome(pf: MockPlatform): void {
    const record = pf.state.recorder.record.bind(pf.state.recorder);
    let armed = true;
    pf.state.recorder.record = (entry) => {
      record(entry);
      if (armed && entry.kind === 'push') {
        armed = false;
        pf.state.groupCommit.join();
        failNextCommit(pf);
      }
    };
  }

  it('a delivered push whose outcome went into a batch that failed is not sent again', async () => {
    const pf = await platform();
    expect(pf.state.groupCommit.enabled).toBe(true);
    const hook = await receiver(pf);
    await subscribe(pf, `${hook.base}/parent`);
    await uploadBatch(pf, [1]);
    failTheBatchOfTheFirstOutcome(pf);
    await expect(pf.pushes.pump()).resolves.toBe(1);
    await nextTurn();
    expect(pf.state.groupCommit.stats().failed).toBe(1);
    expect(rows(pf)).toEqual([
      expect.objectContaining({ state: 'delivered', attempts: 1, last_status: 200 }),
    ]);
    await pf.pushes.pump();
    expect(hook.received).toHaveLength(1);
  });

  it('a failed attempt whose outcome went into a batch that failed is counted and waits for its retry', async () => {
    const pf = await platform();
    const hook = await receiver(pf, () => 500);
    await subscribe(pf, `${hook.base}/parent`);
    await uploadBatch(pf, [1]);
    failTheBatchOfTheFirstOutcome(pf);
    await pf.pushes.pump();
    await nextTurn();
    expect(pf.state.groupCommit.stats().failed).toBe(1);
    expect(rows(pf)).toEqual([
      expect.objectContaining({
        state: 'pending',
        attempts: 1,
        last_status: 500,
        next_attempt_at: T0 + 5000,
      }),
    ]);
    await pf.pushes.pump();
    expect(hook.received).toHaveLength(1);
  });
});

describe('a push is signed for its receiver', () => {
  it("verifies at the subscribed URL's authority only, not at another receiver with the same path", async () => {
    const pf = await platform();
    const hook = await receiver(pf);
    await subscribe(pf, `${hook.base}/webhook`);
    await uploadBatch(pf, [1]);
    await pf.pushes.pump();
    const [got] = hook.received;
    expect(got).toBeDefined();
    if (got === undefined) return;
    expect(String(got.headers['signature-input'])).toMatch(/^sig1=\("@method" "@authority" "@path"/);
    const keys = json<PlatformKeys>(await pf.app.inject({ method: 'GET', url: '/v1/platform/keys' }));
    const jwk = keys.webhook_signing[0]!;
    const at = (url: string, headers: HeaderInput = got.headers) =>
      verifyPush(
        { method: 'POST', url, headers, body: new Uint8Array(got.body) },
        {
          keyLookup: (kid) => (kid === jwk.kid ? importVerifyKey(jwk as never) : undefined),
          now: got.at,
          nonceStore: () => true, // each receiver has its own: the replay is new to it
        },
      );
    // as received: origin-form with the Host the platform sent
    expect(got.headers.host).toBe(new URL(hook.base).host);
    await expect(at('/webhook')).resolves.toMatchObject({ ok: true });
    // replayed to another receiver, same path, within the tolerance
    const other = `localhost:${new URL(hook.base).port}`;
    await expect(at('/webhook', { ...got.headers, host: other })).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
    await expect(at('http://receiver-b.example/webhook')).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_INVALID',
    });
  });
});

describe('the event types of a subscription', () => {
  const create = (pf: MockPlatform, signer: ReturnType<typeof operator>, body: Record<string, unknown>) =>
    pf.app.inject(signed(pf, signer, 'POST', '/v1/webhook-subscriptions', body));

  it('are kept once each; a merchant keeps only the types it can be pushed, and none of them is a 422', async () => {
    const pf = await platform();
    const canteen = deviceSigner(pf, 'm-canteen-s');
    const url = 'http://127.0.0.1:9/hook';
    // twice the same type: once
    const dup = await create(pf, operator(pf), {
      url,
      event_types: ['attendance.recorded', 'payment.succeeded', 'attendance.recorded'],
      recipient_person_id: 'p-001',
    });
    expect(dup.statusCode, dup.body).toBe(201);
    expect(json(dup).event_types).toEqual(['attendance.recorded', 'payment.succeeded']);
    // a merchant is pushed payments only: the others are not kept
    const mixed = await create(pf, canteen, {
      url,
      event_types: ['card.status_changed', 'payment.refunded', 'payment.succeeded', 'payment.refunded'],
    });
    expect(mixed.statusCode, mixed.body).toBe(201);
    expect(json(mixed).event_types).toEqual(['payment.refunded', 'payment.succeeded']);
    const stored = pf.state.db
      .prepare('SELECT event_types FROM subscriptions WHERE subscription_id = ?')
      .get(json<{ subscription_id: string }>(mixed).subscription_id) as { event_types: string };
    expect(JSON.parse(stored.event_types)).toEqual(['payment.refunded', 'payment.succeeded']);
    // nothing it could ever get: refused, naming each type, and nothing stored
    const before = pf.state.db.prepare('SELECT COUNT(*) AS n FROM subscriptions').get();
    for (const signer of [canteen, operator(pf)]) {
      const never = await create(pf, signer, {
        url,
        event_types: ['attendance.recorded', 'card.status_changed'],
        merchant_id: 'm-canteen-s',
      });
      expect(never.statusCode, never.body).toBe(422);
      expect(json(never)).toMatchObject({
        code: 'ERR_VALIDATION',
        errors: [{ path: 'body/event_types/0' }, { path: 'body/event_types/1' }],
      });
    }
    expect(pf.state.db.prepare('SELECT COUNT(*) AS n FROM subscriptions').get()).toEqual(before);
  });
});
