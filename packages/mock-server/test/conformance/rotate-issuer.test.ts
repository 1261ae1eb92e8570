import {
  createPresentation,
  decodeTrustList,
  encodeQr,
  fromBase64Url,
  importPrivateJwk,
  importPublicJwk,
  toBase64Url,
} from '@campus-card/core';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/context.js';
import { DEMO_OPERATOR as OPERATOR } from '../../src/demo.js';
import { resolveCredentialInput } from '../../src/domains/cards.js';
import { createMockPlatform, type MockPlatform } from '../../src/platform.js';

const SCHOOL = 'sch-demo';
const GATE: Principal = { ...OPERATOR, id: 'gate-01', kind: 'device', zone: 'gate:main', deviceType: 'gate' };

let p: MockPlatform;
beforeEach(async () => {
  p = await createMockPlatform({ demo: true, pushIntervalMs: 60_000 });
});
afterEach(async () => {
  await p.close();
});

async function material(kind: 'getTrustList' | 'getStatusList'): Promise<Uint8Array> {
  const r = await p.invoke(kind, { params: { school_id: SCHOOL } }, OPERATOR);
  if (r.binary === undefined) throw new Error(`${kind}: ${r.status}`);
  return r.binary;
}

async function codeOf(personId: string, credential?: string): Promise<string> {
  const card = p.demo?.cards.find((c) => c.personId === personId);
  if (card === undefined) throw new Error(personId);
  const bytes = fromBase64Url(credential ?? card.credential);
  if (bytes === undefined) throw new Error('credential');
  return encodeQr(
    await createPresentation(
      { credential: bytes, t: p.clock.nowSeconds() },
      importPrivateJwk(card.holderPrivateJwk),
    ),
  );
}

describe('POST /admin/rotate-issuer', () => {
  it('signs a new trust list with a new issuer key only, re-issues every live card and re-signs the status list', async () => {
    const root = await p.invoke('getRootKey', { params: { school_id: SCHOOL } }, OPERATOR);
    const verifier = createVerifier({ rootKeys: [importPublicJwk((root.body as { jwk: unknown }).jwk)] });
    const now = () => p.clock.nowSeconds();
    const tl1 = await material('getTrustList');
    expect(verifier.loadTrustList(tl1, { now: now() }).ok).toBe(true);
    expect(verifier.loadStatusList(await material('getStatusList'), { now: now() }).ok).toBe(true);
    const reader = { id: 'gate-01' };
    const oldCredential = p.demo?.cards.find((c) => c.personId === 's-001')?.credential;
    expect((await verifier.verify(await codeOf('s-001'), { now: now(), reader })).accepted).toBe(true);
    const v1 = decodeTrustList(tl1).trustList;

    const res = await p.app.inject({
      method: 'POST',
      url: '/admin/rotate-issuer',
      payload: { school_id: SCHOOL },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      trust_list_version: number;
      issuer_kid: string;
      retired_kid: string;
      reissued: number;
    };
    expect(body.trust_list_version).toBe(v1.version + 1);
    expect(body.reissued).toBe(p.demo?.cards.length);
    expect(body.retired_kid).toBe(toBase64Url(v1.keys[0]?.key.kid ?? new Uint8Array()));
    expect(body.issuer_kid).not.toBe(body.retired_kid);

    const tl2 = await material('getTrustList');
    const v2 = decodeTrustList(tl2).trustList;
    expect(v2.version).toBe(body.trust_list_version);
    expect(v2.keys.map((k) => toBase64Url(k.key.kid))).toEqual([body.issuer_kid]);

    // the card now carries a credential under the new key
    const card = p.demo?.cards.find((c) => c.personId === 's-001');
    const got = await p.invoke('getCard', { params: { card_id: card?.cardId } }, OPERATOR);
    const newCredential = (got.body as { credential: string }).credential;
    expect(newCredential).not.toBe(oldCredential);

    // a reader that takes the new material admits the new credential and denies the old one
    expect(verifier.loadTrustList(tl2, { now: now() }).ok).toBe(true);
    expect(verifier.loadStatusList(await material('getStatusList'), { now: now() }).ok).toBe(true);
    const fresh = await verifier.verify(await codeOf('s-001', newCredential), { now: now(), reader });
    expect(fresh.accepted).toBe(true);
    const retired = await verifier.verify(await codeOf('s-001', oldCredential), { now: now(), reader });
    expect(retired.accepted ? null : retired.reason).toBe('UNKNOWN_ISSUER');
    // and refuses the old trust list as a rollback
    expect(verifier.loadTrustList(tl1, { now: now() })).toMatchObject({ ok: false, reason: 'ROLLBACK' });

    // the platform itself resolves the new code and refuses the old one
    const r = await resolveCredentialInput(p.state, GATE, { qr_text: await codeOf('s-001', newCredential) });
    expect(r.card.card_id).toBe(card?.cardId);
    await expect(
      resolveCredentialInput(p.state, GATE, { qr_text: await codeOf('s-001', oldCredential) }),
    ).rejects.toMatchObject({ code: 'ERR_UNKNOWN_ISSUER' });
  });

  it('answers 404 for an unknown school', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/admin/rotate-issuer',
      payload: { school_id: 'nope' },
    });
    expect(res.statusCode).toBe(404);
  });
});
