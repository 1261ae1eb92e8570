import { exportJwk, generateKeyPair, type PublicKey } from '@campus-card/core';
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { makeCampus, seed, T0 } from './helpers/fixtures.js';

describe('rootKeys', () => {
  it('a root key that is not a public key (a key pair, a private key, a JWK) is a TypeError at creation', async () => {
    const root = generateKeyPair('ES256', { seed: seed(1) });
    for (const bad of [root, root.privateKey, exportJwk(root.publicKey), null, 'key']) {
      expect(() => createVerifier({ rootKeys: [bad as unknown as PublicKey] })).toThrow(TypeError);
      expect(() => createVerifier({ rootKeys: [bad as unknown as PublicKey] })).toThrow(/rootKeys\[0\]/);
    }
    expect(() => createVerifier({ rootKeys: [root.publicKey] })).not.toThrow();
  });

  it("are the keys given at creation: a later change to the caller's array changes no trust anchor", async () => {
    const campus = await makeCampus();
    const other = generateKeyPair('ES256', { seed: seed(99) });
    const roots: PublicKey[] = [other.publicKey];
    const v = createVerifier({ rootKeys: roots });
    // the caller reuses its array: the verifier still trusts only the key it was given
    roots.splice(0, 1, campus.root.publicKey);
    const r = v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 });
    expect(r).toMatchObject({ ok: false, reason: 'UNKNOWN_ISSUER' });
  });
});
