/**
 * A second audit of fault injection, recording and the admin routes as a vendor's CI meets them:
 * fault rules whose scope no call can reach (a path prefix no route lies under, an admin route, an
 * unsigned route for `clock_skew`, a `device_id` no principal can have) are refused, never accepted
 * to fire nowhere.
 */
import type { FaultRule } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, signed } from './helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

async function setFaults(pf: MockPlatform, body: unknown) {
  return pf.app.inject({
    method: 'POST',
    url: '/admin/faults',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

describe('POST /admin/faults refuses a route no request of the rule can reach', () => {
  it.each([
    // a path prefix missing /v1: it would never fire, and a retry test would pass without a fault
    [{ kind: 'error_5xx', route: '/payments' }, 'no route of the contract'],
    [{ kind: 'rate_limit', route: '/v1/payment' }, 'no route of the contract'],
    [{ kind: 'delay', route: '/v1/payments/P1/refund' }, 'no route of the contract'],
    [{ kind: 'delay', route: '/v1//payments' }, 'no route of the contract'],
    [{ kind: 'delay', route: '/v1/orders/?limit=5' }, 'no route of the contract'],
    // admin routes are never faulted, whether named by operationId or by path
    [{ kind: 'error_5xx', route: '/admin/clock' }, 'admin routes are never faulted'],
    [{ kind: 'drop_after_commit', route: '/admin' }, 'admin routes are never faulted'],
    // the OpenAPI document is no route of the contract
    [{ kind: 'error_5xx', route: '/openapi.json' }, 'no route of the contract'],
    // clock_skew acts on signature checks: an unsigned route has none
    [{ kind: 'clock_skew', route: 'health', skew_s: 60 }, 'clock_skew acts on signature checks'],
    [{ kind: 'clock_skew', route: 'getPlatformKeys', skew_s: 60 }, 'clock_skew acts on signature checks'],
    [{ kind: 'clock_skew', route: '/health', skew_s: 60 }, 'clock_skew acts on signature checks'],
  ])(
    '%j: 400 ERR_VALIDATION naming body/rules/0/route (%s), and the rules in place are kept',
    async (rule, message) => {
      p = await demoPlatform({ pushIntervalMs: 3_600_000 });
      const kept: FaultRule[] = [{ kind: 'error_5xx', route: 'getWallet', count: 1 }];
      expect((await setFaults(p, { rules: kept })).statusCode).toBe(200);
      const r = await setFaults(p, { seed: 1, rules: [rule] });
      expect(r.statusCode).toBe(400);
      const problem = json<{ code: string; errors: { path: string; message: string }[] }>(r);
      expect(problem.code).toBe('ERR_VALIDATION');
      expect(problem.errors.map((e) => e.path)).toEqual(['body/rules/0/route']);
      expect(problem.errors[0]?.message).toContain(message);
      expect(p.state.faults.rules()).toEqual(kept);
    },
  );

  it('takes every prefix some route lies under, and such a rule fires there', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const rules: FaultRule[] = [
      { kind: 'error_5xx', route: '/' },
      { kind: 'error_5xx', route: '/v1' },
      { kind: 'error_5xx', route: '/v1/payments/' },
      { kind: 'error_5xx', route: '/v1/payments/P1' },
      { kind: 'error_5xx', route: '/v1/payments/P1/reverse' },
      { kind: 'error_5xx', route: '/v1/payments/offline-batches' },
      { kind: 'error_5xx', route: '/v1/orders?limit=5' },
      { kind: 'error_5xx', route: '/health' },
      { kind: 'drop_after_commit', route: 'health' },
      { kind: 'clock_skew', route: '/v1/wallets', skew_s: 60 },
      { kind: 'clock_skew', route: 'getWallet', skew_s: 60 },
    ];
    expect((await setFaults(pf, { seed: 1, rules })).statusCode).toBe(200);
    expect(pf.state.faults.rules()).toEqual(rules);
    expect(
      (await setFaults(pf, { rules: [{ kind: 'error_5xx', route: '/v1/wallets/s-001', count: 1 }] }))
        .statusCode,
    ).toBe(200);
    const wallet = () => pf.app.inject(signed(pf, deviceSigner(pf, 'pos-01'), 'GET', '/v1/wallets/s-001'));
    expect([(await wallet()).statusCode, (await wallet()).statusCode]).toEqual([503, 200]);
  });
});

describe('POST /admin/faults refuses a device_id no principal can have', () => {
  it.each([[''], [' '], ['pos 01'], ['..']])(
    '%j (no principal has such an id; an unset environment variable gives ""): 400 naming body/rules/0/device_id',
    async (deviceId) => {
      p = await demoPlatform({ pushIntervalMs: 3_600_000 });
      const r = await setFaults(p, { rules: [{ kind: 'error_5xx', device_id: deviceId }] });
      expect(r.statusCode).toBe(400);
      const problem = json<{ code: string; errors: { path: string }[] }>(r);
      expect(problem.code).toBe('ERR_VALIDATION');
      expect(problem.errors.map((e) => e.path)).toContain('body/rules/0/device_id');
      expect(p.state.faults.rules()).toEqual([]);
    },
  );
});
