/** The README's "A card in twenty lines" example, kept runnable: if this fails, fix the README too. */

import {
  createPresentation,
  encodeQr,
  generateKeyPair,
  issueCredential,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { createVerifier } from '@campus-card/verifier';
import { expect, it } from 'vitest';

it('the README example accepts a fresh code once, then says REPLAYED', async () => {
  const now = Math.floor(Date.now() / 1000);
  const root = generateKeyPair(),
    issuer = generateKeyPair(),
    phone = generateKeyPair();
  const trustList = await signTrustList(
    {
      version: 1,
      iat: now,
      authority: 'platform',
      keys: [
        { key: issuer.publicKey, roles: ['student'], schools: ['10001'], nbf: now, exp: now + 365 * 86_400 },
      ],
    },
    root.privateKey,
  );
  const statusList = await signStatusList(
    { school: '10001', version: 1, iat: now, statuses: new Array(1000).fill(0) },
    issuer.privateKey,
  );
  const credential = await issueCredential(
    {
      school: '10001',
      cardId: '2024010123',
      role: 'student',
      iat: now,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 17,
    },
    issuer.privateKey,
  );
  const qr = encodeQr(await createPresentation({ credential, t: now }, phone.privateKey));
  const verifier = createVerifier({ rootKeys: [root.publicKey] });
  verifier.loadTrustList(trustList, { now });
  verifier.loadStatusList(statusList, { now });
  const a = await verifier.verify(qr, { now, reader: { id: 'gate-1' } });
  const b = await verifier.verify(qr, { now, reader: { id: 'gate-1' } });
  expect(b).toMatchObject({ accepted: false, reason: 'REPLAYED' });
  expect(a.accepted).toBe(true);
});
