/**
 * Online resolution of compact-mode codes (token format §5.2, src/domains/cards.ts
 * `resolveCredentialInput`): a code that names its card and phone key instead of carrying its
 * credential is accepted by every reader that holds the roster, so the platform, which holds every
 * card, resolves it too, by the card as it has it now: its phone key, status, validity and school.
 */
import {
  createCompactPresentation,
  encodeQr,
  exportJwk,
  generateKeyPair,
  importPrivateJwk,
  type PrivateKey,
} from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, schoolB, signed } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const demoCard = (p: MockPlatform, person: string) => p.demo!.cards.find((c) => c.personId === person)!;

/** A compact-mode code of a demo card, made with `key` (default: the card's phone key). */
async function compactOf(p: MockPlatform, person: string, key?: PrivateKey, scene = 1): Promise<string> {
  const c = demoCard(p, person);
  const bytes = await createCompactPresentation(
    { cardId: c.cardId, t: p.clock.nowSeconds(), scene },
    key ?? importPrivateJwk(c.holderPrivateJwk),
  );
  return encodeQr(bytes);
}

function resolve(p: MockPlatform, device: string, qr: string) {
  return p.app.inject(
    signed(p, deviceSigner(p, device), 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
  );
}

describe('a compact-mode code online', () => {
  it('resolves to the same identity as a full-mode code of the card, once', async () => {
    p = await demoPlatform();
    const full = await resolve(p, 'gate-01', await qrOf(p, 's-001', 1));
    expect(full.statusCode, full.body).toBe(200);
    const qr = await compactOf(p, 's-001');
    const r = await resolve(p, 'gate-01', qr);
    // before: 422 ERR_UNKNOWN_CARD "compact code but the reader holds no roster"
    expect(r.statusCode, r.body).toBe(200);
    const body = json<{ source: string; identity: Record<string, unknown> }>(r);
    expect(body.source).toBe('qr');
    expect(body.identity).toEqual(json<{ identity: unknown }>(full).identity);
    // one use, platform-wide, as any code
    const again = await resolve(p, 'lib-01', qr);
    expect([again.statusCode, json(again).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
  });

  it('pays online at the POS, as a full-mode code does', async () => {
    p = await demoPlatform();
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
        qr_text: await compactOf(p, 's-001', undefined, 2),
        amount: 100,
        out_trade_no: 'compact-1',
      }),
    );
    expect(r.statusCode, r.body).toBe(201);
    expect(json(r)).toMatchObject({ status: 'success', person_id: 's-001', via: 'qr' });
  });

  it("is refused for a card reported lost, a phone key not the card's, another school's card", async () => {
    p = await demoPlatform();
    const gb = await schoolB(p);
    // another school's reader: the card is unknown to it, and the code stays unused
    const foreign = await compactOf(p, 's-002');
    const atB = await p.app.inject(
      signed(p, gb, 'POST', '/v1/identity/resolve', { qr_text: foreign, scene: 'access' }),
    );
    expect([atB.statusCode, json(atB).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    expect(atB.body).not.toContain('s-002');
    expect((await resolve(p, 'gate-01', foreign)).statusCode).toBe(200);

    // a key that is not the card's phone key
    const stranger = generateKeyPair('ES256').privateKey;
    const wrongKey = await resolve(p, 'gate-01', await compactOf(p, 's-001', stranger));
    expect([wrongKey.statusCode, json(wrongKey).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);

    // a card reported lost: the status list refuses it, as it refuses its full-mode codes
    const lost = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${demoCard(p, 's-001').cardId}/report-lost`, {}),
    );
    expect(lost.statusCode, lost.body).toBe(200);
    const r = await resolve(p, 'gate-01', await compactOf(p, 's-001'));
    expect([r.statusCode, json(r).code]).toEqual([422, 'ERR_REVOKED']);
  });

  it('of a phone key replaced by a renewal is refused; the new key resolves', async () => {
    p = await demoPlatform();
    const c = demoCard(p, 's-001');
    const phone = generateKeyPair('ES256').privateKey;
    const renewed = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${c.cardId}/renew`, {
        holder_jwk: exportJwk(phone.publicKey),
      }),
    );
    expect(renewed.statusCode, renewed.body).toBe(200);
    const old = await resolve(p, 'gate-01', await compactOf(p, 's-001'));
    expect([old.statusCode, json(old).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    const now = await resolve(p, 'gate-01', await compactOf(p, 's-001', phone));
    expect(now.statusCode, now.body).toBe(200);
    expect(json<{ identity: { person_id: string } }>(now).identity.person_id).toBe('s-001');
  });
});
