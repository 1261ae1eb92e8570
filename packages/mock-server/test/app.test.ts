import { WEBHOOK_EVENT_TYPES } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed, whenDelayed } from './helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const topUp = (amount: number, no = 'TU1') => ({ out_trade_no: no, amount, channel: 'simulated' });
const count = (p: MockPlatform) =>
  (p.state.db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number }).n;

describe('idempotency', () => {
  it('replays the first outcome for the same key and body', async () => {
    p = await demoPlatform();
    const op = operator(p);
    const a = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k1' }),
    );
    const b = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k1' }),
    );
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(json(b)).toEqual(json(a));
  });

  it('compares bodies as JSON: another key order or spacing replays; an old fingerprint of the bytes still matches', async () => {
    p = await demoPlatform();
    const op = operator(p);
    const body = topUp(100) as Record<string, unknown>;
    const text = JSON.stringify(body);
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(body).reverse()), null, 2);
    expect(reordered).not.toBe(text);
    const url = '/v1/wallets/s-002/top-ups';
    const a = await p.app.inject(
      signed(p, op, 'POST', url, undefined, { rawBody: text, idempotencyKey: 'kj' }),
    );
    const b = await p.app.inject(
      signed(p, op, 'POST', url, undefined, { rawBody: reordered, idempotencyKey: 'kj' }),
    );
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(json(b)).toEqual(json(a));
    // a record stored by an earlier build, fingerprinted over the body's bytes, still matches them
    const { createHash } = await import('node:crypto');
    const old = createHash('sha256').update(`POST ${url}\n${text}`).digest('hex');
    p.state.db.prepare('UPDATE idempotency SET request_hash = ? WHERE idem_key = ?').run(old, 'kj');
    const c = await p.app.inject(
      signed(p, op, 'POST', url, undefined, { rawBody: text, idempotencyKey: 'kj' }),
    );
    expect(c.statusCode).toBe(201);
    expect(c.headers['idempotent-replayed']).toBe('true');
    const d = await p.app.inject(
      signed(p, op, 'POST', url, undefined, {
        rawBody: JSON.stringify({ ...body, amount: 101 }),
        idempotencyKey: 'kj',
      }),
    );
    expect(d.statusCode).toBe(422);
  });

  it('answers 422 when a key is reused with a different body, without a state change', async () => {
    p = await demoPlatform();
    const op = operator(p);
    await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k2' }),
    );
    const before = count(p);
    const r = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(999, 'TU9'), { idempotencyKey: 'k2' }),
    );
    expect(r.statusCode).toBe(422);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(json(r).code).toBe('ERR_IDEMPOTENCY_KEY_REUSED');
    expect(count(p)).toBe(before);
  });

  it('answers 409 ERR_IDEMPOTENCY_IN_PROGRESS (retryable) while the first is in flight', async () => {
    p = await demoPlatform();
    // the first is held 1 s: the second, sent 50 ms after it, finds it running even on a loaded machine
    p.state.faults.set([{ kind: 'delay', route: 'topUpWallet', delay_ms: 1000, count: 1 }]);
    const op = operator(p);
    const req = signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k3' });
    const req2 = signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k3' });
    const first = p.app.inject(req);
    await new Promise((r) => setTimeout(r, 50));
    const second = await p.app.inject(req2);
    expect(second.statusCode).toBe(409);
    expect(json(second)).toMatchObject({ code: 'ERR_IDEMPOTENCY_IN_PROGRESS', retryable: true });
    expect((await first).statusCode).toBe(201);
    const third = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100), { idempotencyKey: 'k3' }),
    );
    expect(third.statusCode).toBe(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
  });

  it('answers 409 while the first runs however far the virtual clock jumps: the request runs once', async () => {
    p = await demoPlatform();
    p.state.faults.set([{ kind: 'delay', route: 'topUpWallet', delay_ms: 400, count: 1 }]);
    const sleeping = whenDelayed(p);
    const op = operator(p);
    const before = count(p);
    const first = p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100, 'JUMP'), { idempotencyKey: 'k-jump' }),
    );
    await sleeping;
    // a test moves the platform's time while the first request is still running
    p.clock.advance(2 * 3600);
    const second = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100, 'JUMP'), { idempotencyKey: 'k-jump' }),
    );
    expect([second.statusCode, json(second).code]).toEqual([409, 'ERR_IDEMPOTENCY_IN_PROGRESS']);
    const a = await first;
    expect(a.statusCode).toBe(201);
    expect(count(p)).toBe(before + 1);
    const third = await p.app.inject(
      signed(p, op, 'POST', '/v1/wallets/s-002/top-ups', topUp(100, 'JUMP'), { idempotencyKey: 'k-jump' }),
    );
    expect([third.statusCode, third.headers['idempotent-replayed']]).toEqual([201, 'true']);
    expect(third.body).toBe(a.body);
  });

  it('lets a key go when its outcome could not be stored: the retry runs, no 409 for ever', async () => {
    p = await demoPlatform();
    const { db } = p.state;
    db.exec(
      "CREATE TRIGGER fail_idem BEFORE INSERT ON idempotency WHEN NEW.idem_key = 'k-lost' BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const op = operator(p);
    const ask = () =>
      p.app.inject(
        signed(p, op, 'POST', '/v1/wallets/nobody/top-ups', topUp(100, 'LOST'), { idempotencyKey: 'k-lost' }),
      );
    expect((await ask()).statusCode).toBe(404); // its 404 could not be stored
    db.exec('DROP TRIGGER fail_idem');
    const retry = await ask();
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([404, undefined]);
    expect((await ask()).headers['idempotent-replayed']).toBe('true');
  });

  it('requires an Idempotency-Key on POST', async () => {
    p = await demoPlatform();
    const r = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/wallets/s-002/top-ups', topUp(1), { idempotencyKey: null }),
    );
    expect(r.statusCode).toBe(400);
    expect(json(r).code).toBe('ERR_IDEMPOTENCY_KEY_MISSING');
  });
});

describe('signatures', () => {
  it('refuses missing, bad, expired and replayed signatures with precise codes', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const missing = await p.app.inject(signed(p, undefined, 'GET', '/v1/wallets/s-001'));
    expect([missing.statusCode, json(missing).code]).toEqual([401, 'ERR_SIG_MISSING']);

    const bad = signed(p, pos, 'GET', '/v1/wallets/s-001');
    (bad.headers as Record<string, string>).signature = 'sig1=:AAAA:';
    const badRes = await p.app.inject(bad);
    expect(badRes.statusCode).toBe(401);

    const old = await p.app.inject(
      signed(p, pos, 'GET', '/v1/wallets/s-001', undefined, { created: p.clock.nowSeconds() - 301 }),
    );
    expect([old.statusCode, json(old).code]).toEqual([401, 'ERR_SIG_EXPIRED']);

    const once = signed(p, pos, 'GET', '/v1/wallets/s-001', undefined, { nonce: 'n-1' });
    expect((await p.app.inject(once)).statusCode).toBe(200);
    const again = await p.app.inject(once);
    expect([again.statusCode, json(again).code]).toEqual([401, 'ERR_SIG_NONCE_REPLAYED']);

    const tampered = signed(p, operator(p), 'POST', '/v1/wallets/s-002/top-ups', topUp(1));
    tampered.payload = JSON.stringify(topUp(100000));
    const t = await p.app.inject(tampered);
    expect(t.statusCode).toBe(401);
    expect(count(p)).toBe(5);
  });

  it('forbids a principal kind the route does not allow', async () => {
    p = await demoPlatform();
    const r = await p.app.inject(signed(p, deviceSigner(p, 'gate-01'), 'GET', '/v1/ledger/check'));
    expect([r.statusCode, json(r).code]).toEqual([403, 'ERR_FORBIDDEN']);
  });
});

describe('bad input', () => {
  it('malformed JSON, unknown fields, wrong types, huge body → 4xx problem+json', async () => {
    p = await demoPlatform({ bodyLimit: 4096 });
    const op = operator(p);
    const url = '/v1/wallets/s-002/top-ups';
    const cases: [ReturnType<typeof signed>, number, string][] = [
      [signed(p, op, 'POST', url, undefined, { rawBody: '{"out_trade_no":' }), 400, 'ERR_MALFORMED_JSON'],
      [signed(p, op, 'POST', url, { ...topUp(1), extra: true }), 400, 'ERR_VALIDATION'],
      [signed(p, op, 'POST', url, { ...topUp(1), amount: '1' }), 400, 'ERR_VALIDATION'],
      [signed(p, op, 'POST', url, { ...topUp(1), amount: 1.5 }), 400, 'ERR_VALIDATION'],
      [
        signed(p, op, 'POST', url, undefined, {
          rawBody: JSON.stringify({ ...topUp(1), pad: 'x'.repeat(10_000) }),
        }),
        413,
        'ERR_BODY_TOO_LARGE',
      ],
    ];
    for (const [req, status, code] of cases) {
      const r = await p.app.inject(req);
      expect([r.statusCode, json(r).code], r.body).toEqual([status, code]);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(json(r).request_id).toBeTypeOf('string');
    }
    expect(count(p)).toBe(5);
  });

  it('a value outside an enum names its path and the allowed values', async () => {
    p = await demoPlatform();
    const r = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: 'http://127.0.0.1:9/hook',
        event_types: ['payment.*'],
        recipient_person_id: 's-001',
      }),
    );
    const allowed = WEBHOOK_EVENT_TYPES.map((t) => `"${t}"`).join(', ');
    expect([r.statusCode, json(r).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(json(r).detail).toBe(`invalid body: /event_types/0 must be one of ${allowed}`);
    expect(json(r).detail).toContain('must be one of "payment.succeeded", "payment.failed", ');
    expect(json(r).errors).toEqual([{ path: 'body/event_types/0', message: `must be one of ${allowed}` }]);
  });

  it('unknown routes are 404 problem+json', async () => {
    p = await demoPlatform();
    const r = await p.app.inject({ method: 'GET', url: '/nope' });
    expect([r.statusCode, json(r).code]).toEqual([404, 'ERR_NOT_FOUND']);
  });
});

describe('trust material', () => {
  it('serves the status list with an ETag and answers 304, then a new version after a change', async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    const a = await p.app.inject(signed(p, gate, 'GET', '/v1/schools/sch-demo/status-list'));
    expect(a.statusCode).toBe(200);
    expect(a.headers['content-type']).toBe('application/cbor');
    const etag = a.headers.etag as string;
    const b = await p.app.inject(
      signed(p, gate, 'GET', '/v1/schools/sch-demo/status-list', undefined, {
        headers: { 'if-none-match': etag },
      }),
    );
    expect(b.statusCode).toBe(304);
    const card = p.demo!.cards.find((c) => c.personId === 's-002')!;
    expect(
      (await p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${card.cardId}/report-lost`, {})))
        .statusCode,
    ).toBe(200);
    const c = await p.app.inject(
      signed(p, gate, 'GET', '/v1/schools/sch-demo/status-list', undefined, {
        headers: { 'if-none-match': etag },
      }),
    );
    expect(c.statusCode).toBe(200);
    expect(c.headers.etag).not.toBe(etag);
    for (const kind of ['trust-list', 'roster']) {
      expect((await p.app.inject(signed(p, gate, 'GET', `/v1/schools/sch-demo/${kind}`))).statusCode).toBe(
        200,
      );
    }
  });
});

describe('identity', () => {
  it('resolves a code once, platform-wide; a second read is 409', async () => {
    p = await demoPlatform();
    const qr = await qrOf(p, 's-001', 1);
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ identity: Record<string, unknown> }>(r).identity).toMatchObject({
      school_id: 'sch-demo',
      role: 'student',
      person_id: 's-001',
      class_id: '7-2',
      dorm: 'B3',
      physical_card_number: 'PC-s-001',
    });
    const again = await p.app.inject(
      signed(p, deviceSigner(p, 'lib-01'), 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect([again.statusCode, json(again).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
  });

  it('resolves a physical card UID, and refuses it once the card is reported lost (C5)', async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    const ok = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { uid_hex: '04a1b2c3d4e5f6', scene: 'access' }),
    );
    expect(json<{ identity: { person_id: string } }>(ok).identity.person_id).toBe('s-001');
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    await p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${card.cardId}/report-lost`, {}));
    const lost = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { uid_hex: '04a1b2c3d4e5f6', scene: 'access' }),
    );
    expect([lost.statusCode, json(lost).code]).toEqual([403, 'ERR_CARD_NOT_ACTIVE']);
  });

  it('checks permissions: dorm residents only', async () => {
    p = await demoPlatform();
    const lock = deviceSigner(p, 'lock-b3');
    const card = (id: string) => p.demo!.cards.find((c) => c.personId === id)!.cardId;
    const yes = json(
      await p.app.inject(
        signed(p, lock, 'POST', '/v1/identity/permissions/check', { card_id: card('s-001'), scene: 'dorm' }),
      ),
    );
    const no = json(
      await p.app.inject(
        signed(p, lock, 'POST', '/v1/identity/permissions/check', { card_id: card('s-003'), scene: 'dorm' }),
      ),
    );
    expect([yes.allowed, no.allowed, no.reason]).toEqual([true, false, 'NOT_RESIDENT']);
  });

  it('one school, one role, one card (C1)', async () => {
    p = await demoPlatform();
    const jwk = p.demo!.devices[0]!.privateJwk;
    const { d: _d, ...pub } = jwk;
    const r = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', { person_id: 's-001', role: 'student', holder_jwk: pub }),
    );
    expect([r.statusCode, json(r).code]).toEqual([409, 'ERR_CARD_EXISTS']);
  });
});

describe('recording', () => {
  it('records the requests the router refuses too (bad percent-encoding, a path parameter too long)', async () => {
    p = await demoPlatform();
    const urls = ['/v1/people/%zz', `/v1/people/${'a'.repeat(200)}`];
    for (const url of urls) {
      const r = await p.app.inject({ method: 'GET', url });
      expect([r.statusCode, r.headers['content-type'], json(r).code]).toEqual([
        400,
        'application/problem+json; charset=utf-8',
        'ERR_VALIDATION',
      ]);
      expect(p.recorder.entries.at(-1)).toMatchObject({
        kind: 'request',
        method: 'GET',
        url,
        status: 400,
        request_id: r.headers['x-request-id'],
        response_body: r.body,
      });
    }
  });

  it('records each GET /admin/recording without its body: a poll never nests the recording in itself', async () => {
    p = await demoPlatform();
    expect((await p.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const polls = [];
    for (let i = 0; i < 2; i++) polls.push(await p.app.inject({ method: 'GET', url: '/admin/recording' }));
    expect(polls.map((r) => r.statusCode)).toEqual([200, 200]);
    const lines = p.recorder.toJsonLines().trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = entries.at(-1);
    expect(last).toMatchObject({
      kind: 'request',
      url: '/admin/recording',
      status: 200,
      response_body: null,
    });
    // the poll is still recorded, once each; the other requests keep their bodies
    expect(entries.filter((e) => e.url === '/admin/recording')).toHaveLength(2);
    expect(entries.find((e) => e.url === '/health')?.response_body).toEqual(expect.any(String));
    // and the second poll's answer holds the first poll's line once, small
    expect(polls[1]?.body.split('\n').filter((l) => l.includes('/admin/recording'))).toHaveLength(1);
    expect(lines.every((l) => l.length < 4096)).toBe(true);
  });
});
