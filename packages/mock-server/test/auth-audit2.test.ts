/**
 * Second audit of request authentication at the platform's edge: what the first one missed.
 *
 * @module
 */
import { importSigningKey, signBytes } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, operator, signed } from './helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

/** The Ed25519 identity point, a public key of small order (order 1). */
const IDENTITY_X = Buffer.from(`01${'00'.repeat(31)}`, 'hex').toString('base64url');

/**
 * A request "signed" by `keyId` with R = the identity and S = 0: under a public key that is the
 * identity, OpenSSL's cofactorless Ed25519 check accepts it, whatever the request.
 */
function forged(keyId: string, created: number, nonce: string) {
  const sig = new Uint8Array(64);
  sig[0] = 1;
  return {
    method: 'GET' as const,
    url: '/v1/wallets/s-001',
    headers: {
      'signature-input': `sig1=("@method" "@path");created=${created};keyid="${keyId}";nonce="${nonce}"`,
      signature: `sig1=:${Buffer.from(sig).toString('base64')}:`,
    },
  };
}

describe('Ed25519 principal keys of small order', () => {
  it('are refused at registration', async () => {
    p = await demoPlatform();
    const res = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/devices', {
        device_id: 'pos-weak',
        school_id: 'sch-demo',
        type: 'pos',
        zone: 'canteen:student',
        merchant_id: 'm-canteen-s',
        public_jwk: { kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X },
        offline_tx_cap: 5000,
        offline_device_cap: 50000,
      }),
    );
    expect([res.statusCode, json(res).code], res.body).toEqual([400, 'ERR_VALIDATION']);
    const forgedGet = await p.app.inject(forged('pos-weak', p.clock.nowSeconds(), 'weak-1'));
    expect([forgedGet.statusCode, json(forgedGet).code]).toEqual([401, 'ERR_SIG_UNKNOWN_KEY']);
  });

  it('one already stored (registered by an earlier build) authenticates nothing: a forged request is 401', async () => {
    p = await demoPlatform();
    const jwk = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X });
    const now = p.clock.now();
    p.state.db
      .prepare(
        'INSERT INTO devices (device_id, school_id, type, zone, jwk, merchant_id, offline_tx_cap, offline_device_cap, created_at) VALUES (?,?,?,?,?,?,?,?,?)',
      )
      .run('pos-weak', 'sch-demo', 'pos', 'canteen:student', jwk, 'm-canteen-s', 5000, 50000, now);
    p.state.db
      .prepare(
        'INSERT INTO principals (principal_id, kind, school_id, jwk, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run('pos-weak', 'device', 'sch-demo', jwk, now);
    const res = await p.app.inject(forged('pos-weak', p.clock.nowSeconds(), 'weak-2'));
    expect([res.statusCode, json(res).code], res.body).toEqual([401, 'ERR_SIG_UNKNOWN_KEY']);
    expect(res.headers['www-authenticate']).toBe('Signature realm="campus-card"');
  });
});

describe('a clock_skew rule applies to the key the signature check verifies, not to a keyid found elsewhere', () => {
  /**
   * GET /v1/wallets/s-001 signed by pos-02, whose Signature-Input also carries a parameter
   * `xkeyid="pos-01"`: an unknown parameter, covered by the signature and otherwise ignored, so
   * the request is pos-02's alone.
   */
  function byPos02(created: number, nonce: string) {
    const signer = deviceSigner(p, 'pos-02');
    const key = importSigningKey(signer.jwk as never);
    const input = `("@method" "@path");created=${created};xkeyid="pos-01";keyid="pos-02";alg="${key.alg}";nonce="${nonce}"`;
    const base = `"@method": GET\n"@path": /v1/wallets/s-001\n"@signature-params": ${input}`;
    const sig = signBytes(key, new TextEncoder().encode(base));
    return {
      method: 'GET' as const,
      url: '/v1/wallets/s-001',
      headers: {
        'signature-input': `sig1=${input}`,
        signature: `sig1=:${Buffer.from(sig).toString('base64')}:`,
      },
    };
  }

  it("pos-02 is judged on the platform's clock, and leaves pos-01's rule alone", async () => {
    p = await demoPlatform();
    const now = p.clock.nowSeconds();
    // without a rule, the request is pos-02's and is accepted
    expect((await p.app.inject(byPos02(now, 'skew-a'))).statusCode).toBe(200);

    p.state.faults.set([{ kind: 'clock_skew', device_id: 'pos-01', skew_s: 1000, count: 1 }]);
    // pos-02 signing 1000 s ahead is refused: pos-01's rule does not move pos-02's clock
    const ahead = await p.app.inject(byPos02(now + 1000, 'skew-b'));
    expect([ahead.statusCode, json(ahead).code]).toEqual([401, 'ERR_SIG_EXPIRED']);
    // pos-02 signing on time is accepted: pos-01's rule does not refuse it
    const onTime = await p.app.inject(byPos02(now, 'skew-c'));
    expect(onTime.statusCode, onTime.body).toBe(200);
    // and pos-01 still has its rule's one firing
    const genuine = signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/wallets/s-001', undefined, {
      created: now + 1000,
    });
    expect((await p.app.inject(genuine)).statusCode).toBe(200);
    expect(p.state.faults.fire('clock_skew', { principalId: 'pos-01' })).toBeUndefined();
  });
});
