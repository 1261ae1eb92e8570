/**
 * Seeded fault injection: the injector itself (determinism, seeds, scopes, counts) and the
 * platform's use of it (a seeded 50 % 5xx over HTTP, device and route scopes, `clock_skew`).
 */
import type { FaultRule } from '@campus-card/core/api';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { createFaultInjector, type FaultSite, ruleSeed } from '../../src/lib/faults.js';
import { createRng } from '../../src/lib/rng.js';
import { demoPlatform, deviceSigner, json, qrOf, signed, T0 } from '../helpers.js';

/** Whether `kind` fires at each site, in order, for a fresh injector. */
function outcomes(
  seed: number,
  rules: readonly FaultRule[],
  sites: readonly FaultSite[],
  kind: FaultRule['kind'] = 'error_5xx',
): boolean[] {
  const f = createFaultInjector(seed);
  f.set(rules);
  return sites.map((s) => f.fire(kind, s) !== undefined);
}

/** What a fresh mulberry32 stream of `seed` says for `n` draws at probability `p`. */
const model = (seed: number, n: number, p = 0.5): boolean[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng() < p);
};

const site = (principalId?: string, operationId?: string, path?: string): FaultSite => ({
  principalId,
  operationId,
  path,
});
const arbSite: fc.Arbitrary<FaultSite> = fc.record({
  principalId: fc.constantFrom('pos-01', 'gate-01', 'lib-01', undefined),
  operationId: fc.constantFrom('getWallet', 'getCard', 'createPayment', 'push'),
  path: fc.constantFrom(
    '/v1/wallets/s-001',
    '/v1/cards/c1',
    '/v1/cards-x',
    '/v1/payments',
    '/v1/wallets?x=1',
    undefined,
  ),
});
const FC = { seed: 20_260_105, numRuns: 200 } as const;

// ---- the injector ------------------------------------------------------------------------

describe('createFaultInjector: seeded', () => {
  it('a 50 % rule fires exactly where the seeded PRNG draws below 0.5, about half the time', () => {
    for (const seed of [1, 7, 42, 0xdeadbeef]) {
      const fired = outcomes(
        seed,
        [{ kind: 'error_5xx', probability: 0.5 }],
        Array(400).fill(site('pos-01')),
      );
      expect(fired).toEqual(model(seed, 400));
      const rate = fired.filter(Boolean).length / fired.length;
      expect(rate).toBeGreaterThan(0.4);
      expect(rate).toBeLessThan(0.6);
    }
    // probability 1 (the default) always, 0 never
    expect(outcomes(3, [{ kind: 'error_5xx' }], Array(50).fill(site()))).toEqual(Array(50).fill(true));
    expect(outcomes(3, [{ kind: 'error_5xx', probability: 0 }], Array(50).fill(site()))).toEqual(
      Array(50).fill(false),
    );
  });

  it('the same seed and calls give the same outcomes; another seed another sequence (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 1, max: 0xffff_fffe }),
        fc.array(arbSite, { minLength: 64, maxLength: 128 }),
        fc.double({ min: 0.25, max: 0.75, noNaN: true }),
        (seed, delta, sites, probability) => {
          const rules: FaultRule[] = [{ kind: 'error_5xx', probability }];
          const a = outcomes(seed, rules, sites);
          expect(outcomes(seed, rules, sites)).toEqual(a);
          expect(a).toEqual(model(seed, sites.length, probability));
          // 64+ fair-ish coin flips: two seeds agreeing on all of them is a broken seed
          expect(outcomes((seed + delta) >>> 0, rules, sites)).not.toEqual(a);
        },
      ),
      FC,
    );
  });

  it('set(rules, seed) reseeds and replays; set(rules) keeps the stream going', () => {
    const rules: FaultRule[] = [{ kind: 'error_5xx', probability: 0.5 }];
    const f = createFaultInjector(9);
    f.set(rules, 5);
    const first = Array.from({ length: 32 }, () => f.fire('error_5xx', site()) !== undefined);
    expect(first).toEqual(model(5, 32));
    f.set(rules, 5);
    expect(Array.from({ length: 32 }, () => f.fire('error_5xx', site()) !== undefined)).toEqual(first);
    f.set(rules); // no seed: draws 33..64 of the seed-5 stream
    expect(Array.from({ length: 32 }, () => f.fire('error_5xx', site()) !== undefined)).toEqual(
      model(5, 64).slice(32),
    );
    // the platform seed seeds the injector before any set(…, seed)
    expect(outcomes(9, rules, Array(32).fill(site()))).toEqual(model(9, 32));
    f.clear();
    expect(f.rules()).toEqual([]);
    expect(f.fire('error_5xx', site())).toBeUndefined();
  });

  it('scoped to a device or a route it fires only there, and calls out of scope draw nothing (fast-check)', () => {
    const scopes: { rule: FaultRule; inScope: (s: FaultSite) => boolean }[] = [
      {
        rule: { kind: 'error_5xx', device_id: 'pos-01', probability: 0.5 },
        inScope: (s) => s.principalId === 'pos-01',
      },
      {
        rule: { kind: 'error_5xx', route: 'getWallet', probability: 0.5 },
        inScope: (s) => s.operationId === 'getWallet',
      },
      {
        rule: { kind: 'error_5xx', route: '/v1/wallets', probability: 0.5 },
        inScope: (s) => /^\/v1\/wallets([/?]|$)/.test(s.path ?? ''),
      },
      {
        rule: { kind: 'error_5xx', device_id: 'gate-01', route: '/v1/cards', probability: 0.5 },
        inScope: (s) => s.principalId === 'gate-01' && /^\/v1\/cards([/?]|$)/.test(s.path ?? ''),
      },
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.constantFrom(...scopes),
        fc.array(arbSite, { minLength: 1, maxLength: 120 }),
        (seed, { rule, inScope }, sites) => {
          const fired = outcomes(seed, [rule], sites);
          // never out of scope
          sites.forEach((s, i) => {
            if (!inScope(s)) expect(fired[i]).toBe(false);
          });
          // in scope, the same outcomes as if the other calls had never happened
          const mine = sites.filter(inScope);
          expect(fired.filter((_, i) => inScope(sites[i]!))).toEqual(model(seed, mine.length));
        },
      ),
      FC,
    );
    // a route without a leading slash is an operationId, never a path prefix
    expect(
      outcomes(1, [{ kind: 'error_5xx', route: 'v1/wallets' }], [site('x', 'getWallet', '/v1/wallets/a')]),
    ).toEqual([false]);
    // a path prefix matches on segment boundaries: P1 is not P10
    const pay = (path: string) => site('pos-01', 'getPayment', path);
    expect(
      outcomes(
        1,
        [{ kind: 'error_5xx', route: '/v1/payments/P1' }],
        [
          pay('/v1/payments/P1'),
          pay('/v1/payments/P10'),
          pay('/v1/payments/P1/reverse'),
          pay('/v1/payments/P1?a'),
        ],
      ),
    ).toEqual([true, false, true, true]);
    // a path-prefix rule does not hit a site without a path (a push)
    expect(
      outcomes(1, [{ kind: 'duplicate_push', route: '/v1' }], [site('sub_1', 'push')], 'duplicate_push'),
    ).toEqual([false]);
  });

  it('count limits how often a rule fires; rules of other kinds neither fire nor draw', () => {
    const f = createFaultInjector(4);
    f.set([
      { kind: 'rate_limit', probability: 0.5 },
      { kind: 'error_5xx', count: 3 },
    ]);
    const fired = Array.from({ length: 10 }, () => f.fire('error_5xx', site()) !== undefined);
    expect(fired).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // the rate_limit rule has a stream of its own, untouched by the error_5xx calls: it starts at
    // the seed's first draw
    expect(Array.from({ length: 16 }, () => f.fire('rate_limit', site()) !== undefined)).toEqual(
      model(4, 16),
    );
    // the first matching rule that fires wins; the rule returned carries its parameters
    const h = createFaultInjector(1);
    h.set([
      { kind: 'error_5xx', device_id: 'lib-01', status: 502 },
      { kind: 'error_5xx', status: 504 },
    ]);
    expect(h.fire('error_5xx', site('lib-01'))?.status).toBe(502);
    expect(h.fire('error_5xx', site('pos-01'))?.status).toBe(504);
  });
});

describe('createFaultInjector: one stream per rule', () => {
  it("scoped seeded rules are independent: another device's faults draw nothing from this one's", () => {
    const run = (gate: boolean) => {
      const f = createFaultInjector();
      f.set(
        [
          { kind: 'error_5xx', device_id: 'pos-01', probability: 0.5 },
          { kind: 'delay', device_id: 'gate-01', delay_ms: 0 },
        ],
        7,
      );
      return Array.from({ length: 20 }, () => {
        if (gate) f.fire('delay', { principalId: 'gate-01' });
        return f.fire('error_5xx', { principalId: 'pos-01' }) !== undefined;
      });
    };
    expect(run(true)).toEqual(run(false));
    expect(run(false)).toEqual(model(7, 20));
  });

  it('two uncertain rules of two devices: each follows its own (seed, index) stream, however their calls interleave (fast-check)', () => {
    const rules: FaultRule[] = [
      { kind: 'error_5xx', device_id: 'pos-01', probability: 0.5 },
      { kind: 'rate_limit', device_id: 'gate-01', probability: 0.3 },
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 120 }),
        (seed, order) => {
          const f = createFaultInjector();
          f.set(rules, seed);
          const pos: boolean[] = [];
          const gate: boolean[] = [];
          for (const isPos of order) {
            if (isPos) pos.push(f.fire('error_5xx', site('pos-01')) !== undefined);
            else gate.push(f.fire('rate_limit', site('gate-01')) !== undefined);
          }
          expect(pos).toEqual(model(ruleSeed(seed, 0), pos.length));
          expect(gate).toEqual(model(ruleSeed(seed, 1), gate.length, 0.3));
        },
      ),
      FC,
    );
    expect(ruleSeed(7, 0)).toBe(7);
    expect(ruleSeed(7, 1)).not.toBe(ruleSeed(7, 2));
  });

  it('a certain rule (probability 1) draws nothing: a later uncertain rule of the same kind is unaffected', () => {
    const f = createFaultInjector();
    f.set(
      [
        { kind: 'error_5xx', device_id: 'gate-01' },
        { kind: 'error_5xx', device_id: 'pos-01', probability: 0.5 },
      ],
      11,
    );
    const pos: boolean[] = [];
    for (let i = 0; i < 40; i++) {
      expect(f.fire('error_5xx', site('gate-01'))).toMatchObject({ device_id: 'gate-01' });
      pos.push(f.fire('error_5xx', site('pos-01')) !== undefined);
    }
    expect(pos).toEqual(model(ruleSeed(11, 1), 40));
  });

  it('decide() reserves until commit() or release(): a decision released leaves the count and the streams as they were', () => {
    const rules: FaultRule[] = [
      { kind: 'clock_skew', device_id: 'pos-01', skew_s: 60, probability: 0.5 },
      { kind: 'clock_skew', device_id: 'pos-01', skew_s: 90, count: 3 },
    ];
    const committed = createFaultInjector();
    committed.set(rules, 5);
    const fired = createFaultInjector();
    fired.set(rules, 5);
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 12; i++) {
      // released decisions in between change nothing: the committed ones match fire() one for one
      for (let j = 0; j < 3; j++) committed.decide('clock_skew', site('pos-01'))?.release();
      const d = committed.decide('clock_skew', site('pos-01'));
      d?.commit();
      d?.commit(); // a second commit counts nothing more
      d?.release(); // nor does a release after it
      const f = fired.fire('clock_skew', site('pos-01'));
      expect(d?.rule).toBe(f);
      seen.push(f?.skew_s);
    }
    // the 0.5 rule follows its stream; the count-3 rule takes the draws it loses, three times only
    const stream = model(ruleSeed(5, 0), 12);
    let left = 3;
    expect(seen).toEqual(stream.map((hit) => (hit ? 60 : left-- > 0 ? 90 : undefined)));
    expect(committed.decide('clock_skew', site('gate-01'))).toBeUndefined();
    // a decision made before the rules changed counts nothing after
    const stale = committed.decide('clock_skew', site('pos-01'));
    committed.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 7, count: 1 }]);
    stale?.commit();
    expect(committed.fire('clock_skew', site('pos-01'))?.skew_s).toBe(7);
    expect(committed.fire('clock_skew', site('pos-01'))).toBeUndefined();
  });
});

// ---- through the platform ----------------------------------------------------------------

let p: MockPlatform | undefined;
const extra: MockPlatform[] = [];
afterEach(async () => {
  await p?.close();
  p = undefined;
  for (const x of extra.splice(0)) await x.close();
});

async function setFaults(pf: MockPlatform, body: { seed?: number; rules: FaultRule[] }): Promise<void> {
  const r = await pf.app.inject({
    method: 'POST',
    url: '/admin/faults',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  expect(r.statusCode, r.body).toBe(200);
}

const cardOf = (pf: MockPlatform, person: string): string =>
  pf.demo!.cards.find((c) => c.personId === person)!.cardId;

/** GET as `device`, signed with `created` = platform time + `dt` seconds. */
async function get(pf: MockPlatform, device: string, url: string, dt = 0) {
  return pf.app.inject(
    signed(pf, deviceSigner(pf, device), 'GET', url, undefined, { created: pf.clock.nowSeconds() + dt }),
  );
}

describe('seeded faults through the API', () => {
  it('a seeded 50 % 5xx: the same seed and requests give the same outcomes, another seed others', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const run = async (seed: number) => {
      await setFaults(pf, { seed, rules: [{ kind: 'error_5xx', probability: 0.5, status: 503 }] });
      const out: number[] = [];
      for (let i = 0; i < 32; i++) {
        const r = await get(pf, 'pos-01', '/v1/wallets/s-001');
        if (r.statusCode === 503)
          expect(json(r)).toMatchObject({ code: 'ERR_INJECTED_FAULT', retryable: true });
        out.push(r.statusCode);
      }
      return out;
    };
    const a = await run(7);
    expect(a).toEqual(model(7, 32).map((f) => (f ? 503 : 200)));
    expect(a).toContain(503);
    expect(a).toContain(200);
    expect(await run(7)).toEqual(a);
    const b = await run(8);
    expect(b).toEqual(model(8, 32).map((f) => (f ? 503 : 200)));
    expect(b).not.toEqual(a);

    // two platforms made with the same seed, rules set without one: the same outcomes
    const twin = async (seed: number) => {
      const x = await demoPlatform({ seed, pushIntervalMs: 3_600_000 });
      extra.push(x);
      await setFaults(x, { rules: [{ kind: 'error_5xx', probability: 0.5 }] });
      const out: number[] = [];
      for (let i = 0; i < 16; i++) out.push((await get(x, 'gate-01', '/v1/wallets/s-002')).statusCode);
      return out;
    };
    const t1 = await twin(11);
    expect(await twin(11)).toEqual(t1);
    expect(t1).toEqual(model(11, 16).map((f) => (f ? 503 : 200)));
  });

  it('scoped to a device: only its requests fail, and interleaved others change nothing', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    await setFaults(p, { seed: 7, rules: [{ kind: 'error_5xx', device_id: 'pos-01', probability: 0.5 }] });
    const pos: number[] = [];
    for (let i = 0; i < 24; i++) {
      pos.push((await get(p, 'pos-01', '/v1/wallets/s-001')).statusCode);
      expect((await get(p, 'gate-01', '/v1/wallets/s-001')).statusCode).toBe(200);
      expect((await get(p, 'lib-01', `/v1/cards/${cardOf(p, 's-001')}`)).statusCode).toBe(200);
    }
    expect(pos).toEqual(model(7, 24).map((f) => (f ? 503 : 200)));
  });

  it('scoped to a route, by operationId or by path prefix: only that route fails, for every device', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const card = `/v1/cards/${cardOf(p, 's-001')}`;
    const statuses = async () =>
      Promise.all([
        get(p!, 'pos-01', '/v1/wallets/s-001'),
        get(p!, 'gate-01', '/v1/wallets/s-002'),
        get(p!, 'pos-01', card),
        get(p!, 'gate-01', card),
      ]).then((rs) => rs.map((r) => r.statusCode));
    await setFaults(p, { rules: [{ kind: 'error_5xx', route: 'getWallet', status: 502 }] });
    expect(await statuses()).toEqual([502, 502, 200, 200]);
    await setFaults(p, { rules: [{ kind: 'error_5xx', route: '/v1/cards/' }] });
    expect(await statuses()).toEqual([200, 200, 503, 503]);
    await setFaults(p, {
      rules: [{ kind: 'rate_limit', route: '/v1/wallets', device_id: 'gate-01', retry_after_s: 9 }],
    });
    const limited = await get(p, 'gate-01', '/v1/wallets/s-002');
    expect([limited.statusCode, limited.headers['retry-after']]).toEqual([429, '9']);
    expect(await statuses()).toEqual([200, 429, 200, 200]);
    const clear = await p.app.inject({ method: 'DELETE', url: '/admin/faults' });
    expect(clear.statusCode).toBe(200);
    expect(await statuses()).toEqual([200, 200, 200, 200]);
  });
});

describe('clock_skew fault', () => {
  it("shifts the platform's time for signature checks of that device only (fast-check over skew and signer offset)", async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    const card = `/v1/cards/${cardOf(pf, 's-001')}`;
    const expectStatus = (r: { statusCode: number; body: string }, ok: boolean) => {
      if (ok) expect(r.statusCode, r.body).toBe(200);
      else expect([r.statusCode, json(r).code]).toEqual([401, 'ERR_SIG_EXPIRED']);
    };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -900, max: 900 }),
        fc.integer({ min: -900, max: 900 }),
        async (skew, dt) => {
          pf.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: skew }]);
          // pos-01 is checked against now + skew; gate-01 against now (±300 s either way)
          expectStatus(await get(pf, 'pos-01', card, dt), Math.abs(dt - skew) <= 300);
          expectStatus(await get(pf, 'gate-01', card, dt), Math.abs(dt) <= 300);
        },
      ),
      {
        seed: 424_242,
        numRuns: 40,
        examples: [
          [400, 0],
          [400, 400],
          [400, 700],
          [400, 701],
          [300, 0],
          [301, 0],
          [-301, 0],
          [-400, -400],
        ],
      },
    );
  });

  it('scoped to a route it hits that route for every device; count limits it; the clock itself does not move', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const card = `/v1/cards/${cardOf(p, 's-001')}`;
    const codes = async (dt = 0) =>
      Promise.all([
        get(p!, 'pos-01', '/v1/wallets/s-001', dt),
        get(p!, 'gate-01', '/v1/wallets/s-001', dt),
        get(p!, 'pos-01', card, dt),
      ]).then((rs) => rs.map((r) => r.statusCode));
    p.state.faults.set([{ kind: 'clock_skew', route: 'getWallet', skew_s: -400 }]);
    expect(await codes()).toEqual([401, 401, 200]);
    expect(await codes(-400)).toEqual([200, 200, 401]);
    p.state.faults.set([{ kind: 'clock_skew', route: '/v1/cards', skew_s: 3600 }]);
    expect(await codes()).toEqual([200, 200, 401]);
    p.state.faults.set([{ kind: 'clock_skew', device_id: 'gate-01', skew_s: 500, count: 1 }]);
    expect(await codes()).toEqual([200, 401, 200]);
    expect(await codes()).toEqual([200, 200, 200]);

    // a skewed device signing by its own (skewed) clock is accepted, and what it does is
    // stamped with the platform's unskewed time
    p.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 400 }]);
    const pay = await p.app.inject(
      signed(
        p,
        deviceSigner(p, 'pos-01'),
        'POST',
        '/v1/payments',
        { out_trade_no: 'SKEW-1', amount: 300, qr_text: await qrOf(p, 's-001', 2) },
        { created: p.clock.nowSeconds() + 400 },
      ),
    );
    expect(pay.statusCode, pay.body).toBe(201);
    expect(json(pay)).toMatchObject({ status: 'success', created_at: '2026-01-05T08:00:00Z' });
    expect(p.clock.now()).toBe(T0);
    const health = await p.app.inject({ method: 'GET', url: '/health' });
    expect(json(health).time).toBe('2026-01-05T08:00:00Z');
    // without the fault, the same future signature is refused
    p.state.faults.clear();
    expect(await codes(400)).toEqual([401, 401, 401]);
  });

  it("a forged request naming a device's key does not use that device's rule up", async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const pf = p;
    pf.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 1000, count: 1 }]);
    const forge = (created: number) =>
      pf.app.inject({
        method: 'GET',
        url: '/v1/wallets/s-001',
        headers: {
          'signature-input': `sig1=("@method" "@path");created=${created};keyid="pos-01";nonce="forged-${created}"`,
          signature: `sig1=:${Buffer.alloc(64, 7).toString('base64')}:`,
        },
      });
    // forged, both with the device's clock as the rule has it and without
    for (const dt of [0, 1000]) {
      const r = await forge(pf.clock.nowSeconds() + dt);
      expect(r.statusCode).toBe(401);
      expect(['ERR_SIG_EXPIRED', 'ERR_SIG_INVALID']).toContain(json(r).code);
    }
    // so the device, signing by the clock the rule gives it, still gets the rule's one firing
    const genuine = signed(pf, deviceSigner(pf, 'pos-01'), 'GET', '/v1/wallets/s-001', undefined, {
      created: pf.clock.nowSeconds() + 1000,
    });
    expect((await pf.app.inject(genuine)).statusCode).toBe(200); // the rule's one firing
    expect(pf.state.faults.fire('clock_skew', { principalId: 'pos-01' })).toBeUndefined();
    // a genuine request the skew refuses counts: it is the fault doing its work
    pf.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 1000, count: 1 }]);
    expect((await get(pf, 'pos-01', '/v1/wallets/s-001')).statusCode).toBe(401);
    expect((await get(pf, 'pos-01', '/v1/wallets/s-001')).statusCode).toBe(200);
  });
});
