/**
 * Attendance and access events with compact-mode codes (src/domains/attendance.ts, resolved by
 * src/domains/cards.ts `resolveCredentialInput` without `statusAt`): a compact code names its
 * card, not its credential, so the card's roster entry stands in for the credential, as it was at
 * the event's time. A card expired at `occurred_at` and renewed since does not resolve, as a
 * full-mode code of it (whose credential carries the old expiry) and an event naming it by
 * `card_id` do not; a code of a phone key replaced since stays unresolved in either mode, as
 * before (a code is judged against the card's phone key now).
 */
import {
  createCompactPresentation,
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  importPrivateJwk,
} from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, signed } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const ACCESS = 1;
const event = (seq: number, t: number, qr_text: string) => ({
  seq,
  kind: 'access',
  occurred_at: new Date(t * 1000).toISOString(),
  qr_text,
  decision: 'allowed',
});
const stored = (pf: MockPlatform) =>
  pf.state.db
    .prepare("SELECT seq, card_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq")
    .all();

describe('a compact-mode code in an attendance event', () => {
  it('of a card expired at occurred_at, renewed since, does not resolve, as a full-mode code of it; one of the card while valid does', async () => {
    p = await demoPlatform();
    const c = p.demo!.cards.find((x) => x.personId === 's-001')!;
    const key = importPrivateJwk(c.holderPrivateJwk);
    const credential = fromBase64Url(c.credential)!;
    const { expires_at: exp } = p.state.db
      .prepare('SELECT expires_at FROM cards WHERE card_id = ?')
      .get(c.cardId) as { expires_at: number };
    const valid = Math.floor(exp / 1000) - 600;
    const expired = Math.floor(exp / 1000) + 600;
    const compact = async (t: number) =>
      encodeQr(await createCompactPresentation({ cardId: c.cardId, t, scene: ACCESS }, key));
    const full = async (t: number) =>
      encodeQr(await createPresentation({ credential, t, scene: ACCESS }, key));
    const codes = [await compact(valid), await compact(expired), await full(expired)];
    p.clock.set(exp + 1_200_000);
    const renew = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${c.cardId}/renew`, { validity_days: 30 }),
    );
    expect(renew.statusCode, renew.body).toBe(200);
    p.clock.set(exp + 1_800_000);
    const up = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
        events: [event(1, valid, codes[0]!), event(2, expired, codes[1]!), event(3, expired, codes[2]!)],
      }),
    );
    expect(up.statusCode, up.body).toBe(200);
    expect(json(up)).toMatchObject({ accepted: 3 });
    expect(stored(p)).toEqual([
      { seq: 1, card_id: c.cardId, reason: null },
      // before: resolved by the card's expiry now, renewed after the event
      { seq: 2, card_id: null, reason: 'UNRESOLVED' },
      { seq: 3, card_id: null, reason: 'UNRESOLVED' },
    ]);
  });

  it('of a phone key replaced since stays unresolved, as a full-mode code of it', async () => {
    p = await demoPlatform();
    const c = p.demo!.cards.find((x) => x.personId === 's-002')!;
    const t = p.clock.nowSeconds();
    const code = encodeQr(
      await createCompactPresentation(
        { cardId: c.cardId, t, scene: ACCESS },
        importPrivateJwk(c.holderPrivateJwk),
      ),
    );
    p.clock.advance(60);
    const renew = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${c.cardId}/renew`, {
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    expect(renew.statusCode, renew.body).toBe(200);
    const up = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', { events: [event(1, t, code)] }),
    );
    expect(up.statusCode, up.body).toBe(200);
    expect(stored(p)).toEqual([{ seq: 1, card_id: null, reason: 'UNRESOLVED' }]);
  });
});
