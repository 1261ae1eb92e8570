/**
 * Rotating the push-signing key (`POST /v1/platform/keys/rotate`, src/domains/webhooks.ts): every
 * push attempt after it is signed with the new key; the previous key stays published for its
 * overlap and is then dropped; `overlap_s: 0` retires it at once; only the operator rotates, once
 * per Idempotency-Key; the current key survives a restart.
 */
import { join } from 'node:path';
import type { PlatformKeys } from '@campus-card/core/api';
import { importVerifyKey, verifyPush } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock, type MockPlatform, startMockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  type Received,
  type Receiver,
  signed,
  startReceiver,
  T0,
  testDir,
} from '../helpers.js';

let p: MockPlatform | undefined;
let hook: Receiver | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
  await hook?.close();
  hook = undefined;
});

const keysOf = async (pf: MockPlatform): Promise<PlatformKeys> => {
  const r = await pf.app.inject({ method: 'GET', url: '/v1/platform/keys' });
  expect(r.statusCode, r.body).toBe(200);
  return json<PlatformKeys>(r);
};
const kids = (k: PlatformKeys) => k.webhook_signing.map((j) => j.kid);
const rotate = (pf: MockPlatform, body: object = {}, key?: string) => {
  const req = signed(pf, operator(pf), 'POST', '/v1/platform/keys/rotate', body);
  if (key !== undefined) (req.headers as Record<string, string>)['idempotency-key'] = key;
  return pf.app.inject(req);
};

/** Pays 100 fen at pos-01 (merchant m-canteen-s) and delivers the pushes; returns the last one received. */
async function payAndPush(pf: MockPlatform, r: Receiver, no: string): Promise<Received> {
  const res = await pf.app.inject(
    signed(pf, deviceSigner(pf, 'pos-01'), 'POST', '/v1/payments', {
      out_trade_no: no,
      amount: 100,
      qr_text: await qrOf(pf, 's-001', 2),
    }),
  );
  expect(res.statusCode, res.body).toBe(201);
  await pf.pushes.pump();
  const got = r.on('/hook');
  expect(got.length).toBeGreaterThan(0);
  return got.at(-1) as Received;
}

/** Which published key verifies the push (its kid), or the verification failure code. */
async function verifiedBy(
  pf: MockPlatform,
  r: Receiver,
  push: Received,
  at = pf.clock.now(),
): Promise<string> {
  const published = (await keysOf(pf)).webhook_signing;
  const v = await verifyPush(
    {
      method: 'POST',
      url: `${r.base}${push.path}`,
      headers: push.headers as Record<string, string>,
      body: new Uint8Array(push.body),
    },
    {
      keyLookup: (id) => {
        const jwk = published.find((k) => k.kid === id);
        return jwk === undefined ? undefined : importVerifyKey(jwk as never);
      },
      now: at,
    },
  );
  return v.ok ? v.keyId : v.code;
}

describe('rotating the push-signing key', () => {
  it('signs every later push with the new key, publishes the old one for its overlap, then drops it', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    hook = await startReceiver(() => p!.clock.now());
    const sub = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: `${hook.base}/hook`,
        event_types: ['payment.succeeded'],
        merchant_id: 'm-canteen-s',
      }),
    );
    expect(sub.statusCode, sub.body).toBe(201);
    const [first] = kids(await keysOf(p));
    const sentAt = p.clock.now();
    const old = await payAndPush(p, hook, 'K-1');
    expect(await verifiedBy(p, hook, old)).toBe(first);

    const r = await rotate(p, { overlap_s: 600 });
    expect(r.statusCode, r.body).toBe(201);
    const after = json<PlatformKeys>(r);
    const second = after.webhook_signing[0]?.kid;
    expect(second).not.toBe(first);
    expect(kids(after)).toEqual([second, first]);
    expect(after.webhook_signing.every((k) => k.kty === 'OKP' && !('d' in k))).toBe(true);
    expect(await keysOf(p)).toEqual(after);
    // the next push is signed with the new key, which the published list names first
    const push = await payAndPush(p, hook, 'K-2');
    expect(push.headers['signature-input']).toContain(`keyid="${second}"`);
    expect(await verifiedBy(p, hook, push)).toBe(second);

    p.clock.advance(599);
    expect(kids(await keysOf(p))).toEqual([second, first]);
    p.clock.advance(1);
    expect(kids(await keysOf(p))).toEqual([second]);
    // a push signed by the dropped key no longer verifies against the published list
    expect(await verifiedBy(p, hook, old, sentAt)).toBe('ERR_SIG_UNKNOWN_KEY');
  });

  it('overlap_s 0 retires the old key at once; a key retired earlier is not brought back by the next rotation', async () => {
    p = await demoPlatform();
    const [a] = kids(await keysOf(p));
    const r1 = await rotate(p, { overlap_s: 0 });
    expect(r1.statusCode, r1.body).toBe(201);
    const [b] = kids(json<PlatformKeys>(r1));
    expect(kids(await keysOf(p))).toEqual([b]);
    const r2 = await rotate(p);
    const [c] = kids(json<PlatformKeys>(r2));
    // the default overlap is the signature tolerance (300 s); a stays retired
    expect(kids(await keysOf(p))).toEqual([c, b]);
    expect(new Set([a, b, c]).size).toBe(3);
    p.clock.advance(300);
    expect(kids(await keysOf(p))).toEqual([c]);
  });

  it('only the operator rotates, once per Idempotency-Key; a bad overlap is 400; nothing changes on a refusal', async () => {
    p = await demoPlatform();
    const before = await keysOf(p);
    for (const who of [deviceSigner(p, 'pos-01')]) {
      const r = await p.app.inject(signed(p, who, 'POST', '/v1/platform/keys/rotate', {}));
      expect([r.statusCode, json<{ code: string }>(r).code]).toEqual([403, 'ERR_FORBIDDEN']);
    }
    for (const body of [{ overlap_s: -1 }, { overlap_s: 604_801 }, { overlap_s: 1.5 }, { other: 1 }]) {
      const r = await rotate(p, body);
      expect([JSON.stringify(body), r.statusCode, json<{ code: string }>(r).code]).toEqual([
        JSON.stringify(body),
        400,
        'ERR_VALIDATION',
      ]);
    }
    expect(await keysOf(p)).toEqual(before);
    const once = await rotate(p, {}, 'rotate-1');
    const again = await rotate(p, {}, 'rotate-1');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(json(again)).toEqual(json(once));
    expect(kids(await keysOf(p))).toHaveLength(2);
  });

  it('the current key and the overlap survive a restart', async () => {
    const dir = testDir('push-keys-');
    const dbPath = join(dir, 'p.db');
    const clock = () => createClock({ start: T0, frozen: true });
    let kept: PlatformKeys;
    {
      await using s = await startMockPlatform({ demo: true, dbPath, clock: clock() });
      const r = await rotate(s.platform, { overlap_s: 3_600 });
      expect(r.statusCode, r.body).toBe(201);
      kept = json<PlatformKeys>(r);
    }
    await using s = await startMockPlatform({ dbPath, clock: clock() });
    expect(await keysOf(s.platform)).toEqual(kept);
  });
});
