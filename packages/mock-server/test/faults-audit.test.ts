/**
 * An audit of fault injection and recording as a vendor's CI meets them: faults decided for
 * concurrent requests, `drop_after_commit` under `app.inject()`, streams across
 * `DELETE /admin/faults`, rule validation and the recording.
 */
import type { FaultRule } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { createFaultInjector, ruleSeed } from '../src/lib/faults.js';
import { createRng } from '../src/lib/rng.js';
import { demoPlatform, deviceSigner, json, operator, signed } from './helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

/** What a fresh mulberry32 stream of `seed` says for `n` draws at probability `p`. */
const model = (seed: number, n: number, probability = 0.5): boolean[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng() < probability);
};

async function admin(pf: MockPlatform, method: 'POST' | 'DELETE', body?: unknown) {
  return pf.app.inject({
    method,
    url: '/admin/faults',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
  });
}

describe('clock_skew decided for concurrent requests', () => {
  it('count 1: of three concurrent requests the device signed by the skewed clock, one is let in', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    pf.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 3600, count: 1 }], 1);
    const skewed = () =>
      pf.app.inject(
        signed(pf, deviceSigner(pf, 'pos-01'), 'GET', '/v1/wallets/s-001', undefined, {
          created: pf.clock.nowSeconds() + 3600,
        }),
      );
    const statuses = (await Promise.all([skewed(), skewed(), skewed()])).map((r) => r.statusCode);
    expect(statuses.sort()).toEqual([200, 401, 401]);
    expect(pf.state.faults.fire('clock_skew', { principalId: 'pos-01' })).toBeUndefined();
  });

  it('open decisions see each other: successive draws and the count; a release gives both back', () => {
    const f = createFaultInjector();
    f.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 60, probability: 0.5, count: 2 }], 9);
    const site = { principalId: 'pos-01' };
    const expected = model(ruleSeed(9, 0), 8);
    // eight decisions open at once take eight successive draws (at most two fire: count 2)
    const open = Array.from({ length: 8 }, () => f.decide('clock_skew', site));
    let left = 2;
    expect(open.map((d) => d?.rule !== undefined)).toEqual(expected.map((hit) => hit && left-- > 0));
    // released, last first: the count and the stream are as before
    for (const d of open.reverse()) d?.release();
    const again = Array.from({ length: 8 }, () => f.fire('clock_skew', site) !== undefined);
    left = 2;
    expect(again).toEqual(expected.map((hit) => hit && left-- > 0));
    // a commit is final: a release after it takes nothing back
    f.set([{ kind: 'clock_skew', skew_s: 60, count: 1 }], 9);
    const d = f.decide('clock_skew', site);
    d?.commit();
    d?.release();
    expect(f.fire('clock_skew', site)).toBeUndefined();
  });
});

describe('drop_after_commit under app.inject()', () => {
  it('the inject rejects as a reset connection (no hang, nothing unhandled); the retry replays the commit', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      pf.state.faults.set([{ kind: 'drop_after_commit', route: 'topUpWallet', count: 1 }], 7);
      const topUp = () =>
        signed(
          pf,
          operator(pf),
          'POST',
          '/v1/wallets/s-002/top-ups',
          { out_trade_no: 'INJ-DROP', amount: 100, channel: 'bank' },
          { idempotencyKey: 'inj-drop' },
        );
      await expect(pf.app.inject(topUp())).rejects.toMatchObject({ code: 'LIGHT_ECONNRESET' });
      const retry = await pf.app.inject(topUp());
      expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, 'true']);
      const wallet = await pf.app.inject(signed(pf, operator(pf), 'GET', '/v1/wallets/s-002'));
      expect(json(wallet).balance).toBe(5_100);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      const lines = pf.recorder.entries.filter((e) => e.operation_id === 'topUpWallet');
      expect(lines.map((e) => [e.status, e.response_dropped])).toEqual([
        [201, true],
        [201, false],
      ]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('seeded streams across DELETE /admin/faults', () => {
  it('a POST without seed after a DELETE goes on where each position stopped, not from the start', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const rules: FaultRule[] = [{ kind: 'error_5xx', probability: 0.5, route: 'getWallet' }];
    const statuses = async (n: number) => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) {
        const r = await pf.app.inject(signed(pf, deviceSigner(pf, 'pos-01'), 'GET', '/v1/wallets/s-001'));
        out.push(r.statusCode === 503);
      }
      return out;
    };
    const expected = model(ruleSeed(3, 0), 24);
    expect((await admin(pf, 'POST', { seed: 3, rules })).statusCode).toBe(200);
    const first = await statuses(12);
    expect((await admin(pf, 'DELETE')).statusCode).toBe(200);
    expect(await statuses(4)).toEqual([false, false, false, false]);
    expect((await admin(pf, 'POST', { rules })).statusCode).toBe(200);
    expect([...first, ...(await statuses(12))]).toEqual(expected);
    // a seed starts afresh
    expect((await admin(pf, 'POST', { seed: 3, rules })).statusCode).toBe(200);
    expect(await statuses(12)).toEqual(expected.slice(0, 12));
  });
});

describe('POST /admin/faults refuses rules that could never do what they say', () => {
  it.each([
    [{ kind: 'delay', status: 500 }, 'body/rules/0/status', 'status is a parameter of the error_5xx kind'],
    [
      { kind: 'rate_limit', delay_ms: 5000 },
      'body/rules/0/delay_ms',
      'delay_ms is a parameter of the delay kind',
    ],
    [{ kind: 'error_5xx', retry_after_s: 5 }, 'body/rules/0/retry_after_s', 'of the rate_limit kind'],
    [{ kind: 'delay', skew_s: 60 }, 'body/rules/0/skew_s', 'of the clock_skew kind'],
    [
      { kind: 'error_5xx', route: 'createPayments' },
      'body/rules/0/route',
      '"createPayments" is no operationId',
    ],
    [{ kind: 'error_5xx', route: 'setFaults' }, 'body/rules/0/route', 'admin routes are never faulted'],
    [{ kind: 'rate_limit', route: 'push' }, 'body/rules/0/route', 'a rate_limit fault acts on requests'],
    [
      { kind: 'duplicate_push', route: 'uploadEvents' },
      'body/rules/0/route',
      'acts on pushes: its route is push',
    ],
    [
      { kind: 'reorder_push', route: '/v1/events' },
      'body/rules/0/route',
      'acts on pushes: its route is push',
    ],
  ])('%j: 400 ERR_VALIDATION naming %s, and the rules in place are kept', async (rule, path, message) => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const kept: FaultRule[] = [{ kind: 'error_5xx', route: 'getWallet', count: 1 }];
    expect((await admin(pf, 'POST', { rules: kept })).statusCode).toBe(200);
    const r = await admin(pf, 'POST', {
      seed: 1,
      rules: [rule, { kind: 'delay', route: 'getWallet' }],
    });
    expect(r.statusCode).toBe(400);
    const problem = json<{ code: string; detail: string; errors: { path: string; message: string }[] }>(r);
    expect(problem.code).toBe('ERR_VALIDATION');
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors[0]?.path).toBe(path);
    expect(problem.errors[0]?.message).toContain(message);
    expect(problem.detail).toContain(path);
    expect(pf.state.faults.rules()).toEqual(kept);
  });

  it('takes what the docs show: operationIds, path prefixes, push for pushes, each kind with its parameter', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const rules: FaultRule[] = [
      { kind: 'rate_limit', device_id: 'pos-01', retry_after_s: 5, probability: 0.2 },
      { kind: 'delay', route: 'createPayment', delay_ms: 10 },
      { kind: 'error_5xx', route: '/v1/payments/P1', status: 502 },
      { kind: 'error_5xx', route: 'health' },
      { kind: 'drop_after_commit', route: 'topUpWallet', count: 1 },
      { kind: 'duplicate_push', route: 'push' },
      { kind: 'reorder_push', device_id: 'op-demo' },
      { kind: 'clock_skew', device_id: 'gate-01', skew_s: -120 },
    ];
    expect((await admin(p, 'POST', { seed: 7, rules })).statusCode).toBe(200);
    expect(p.state.faults.rules()).toEqual(rules);
  });
});
