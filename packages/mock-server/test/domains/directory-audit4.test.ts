/**
 * The public keys of devices and merchants (src/domains/directory.ts `checkJwk`): a key is stored
 * and served as one encoding of one signing key. An OKP (Ed25519) key with a `y` (RFC 8037 §2
 * gives it none) and a key declared for encryption (`use` other than `sig`, RFC 7517 §4.2) are
 * refused with a 400 naming `body/public_jwk`, writing nothing, as a card's phone key is.
 */
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { changedTables, demoPlatform, json, operator, signed, tableDigests } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const SKIP = new Set(['nonces', 'idempotency']);

describe('a public key of a device or merchant', () => {
  it('an OKP key with a y, or one whose use is not sig: 400 naming body/public_jwk, no state change', async () => {
    p = await demoPlatform();
    const op = operator(p);
    const ed = exportJwk(generateKeyPair('EdDSA').privateKey.publicKey);
    const ec = exportJwk(generateKeyPair('ES256').privateKey.publicKey);
    const bad = [
      { ...ed, y: ec.y as string },
      { ...ec, use: 'enc' },
      { ...ed, use: 'encrypt' },
    ];
    const before = tableDigests(p, SKIP);
    for (const [i, public_jwk] of bad.entries()) {
      for (const [url, body] of [
        ['/v1/devices', { device_id: `gate-x${i}`, school_id: 'sch-demo', type: 'gate', zone: 'gate:x' }],
        ['/v1/merchants', { merchant_id: `m-x${i}`, school_id: 'sch-demo', name: 'X', category: 'shop' }],
      ] as const) {
        const r = await p.app.inject(signed(p, op, 'POST', url, { ...body, public_jwk }));
        // before: 201, the key stored and served with its y or its use
        expect([url, i, r.statusCode, json(r).code], r.body).toEqual([url, i, 400, 'ERR_VALIDATION']);
        expect(json<{ errors: { path: string }[] }>(r).errors.map((e) => e.path)).toEqual([
          'body/public_jwk',
        ]);
      }
    }
    expect(changedTables(before, tableDigests(p, SKIP))).toEqual([]);
    // the same keys as they should be are taken, `use: "sig"` too
    for (const [i, public_jwk] of [ed, { ...ec, use: 'sig' }].entries()) {
      const r = await p.app.inject(
        signed(p, op, 'POST', '/v1/devices', {
          device_id: `gate-ok${i}`,
          school_id: 'sch-demo',
          type: 'gate',
          zone: 'gate:x',
          public_jwk,
        }),
      );
      expect(r.statusCode, r.body).toBe(201);
      expect(json<{ public_jwk: unknown }>(r).public_jwk).toEqual(public_jwk);
    }
  });
});
