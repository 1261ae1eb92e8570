/**
 * Event queries (issue 4 §2 "Events can be queried by person, class and time";
 * src/domains/attendance.ts `listEvents`): `GET /v1/events` filters by `person_id`, `class_id`
 * (the person's class when the event was stored) and the half-open range `[from, to)` of
 * `occurred_at`, combined with AND; results are ordered by occurred_at, device_id, seq; pages are
 * `limit` long with a keyset cursor (the last event seen, so events added meanwhile neither repeat
 * nor shift a page; a cursor the platform did not give is refused); a device sees only its own
 * events, an operator all.
 */
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, type Signer, signed } from '../helpers.js';

interface StoredEvent {
  device_id: string;
  seq: number;
  person_id: string | null;
  class_id: string | null;
  occurred_at: string;
}
interface Page {
  data: StoredEvent[];
  next_cursor: string | null;
}

let p: MockPlatform;

// Two people in two classes: s-001 (class 7-2) and s-003 (class 8-1), and a teacher (no class),
// at two times, on two devices.
const AM = '2026-01-05T07:30:00Z';
const NOON = '2026-01-05T12:00:00Z';
const cardOf = (person: string) => p.demo!.cards.find((c) => c.personId === person)!.cardId;

beforeAll(async () => {
  p = await demoPlatform();
  // the day's events are uploaded in the afternoon (a time after now is refused: ERR_OCCURRED_AT)
  p.clock.set(Date.parse('2026-01-05T15:00:00Z'));
  const ev = (seq: number, person: string, at: string) => ({
    seq,
    kind: 'attendance',
    direction: 'in',
    occurred_at: at,
    card_id: cardOf(person),
    decision: 'allowed',
  });
  const up = async (device: string, events: object[]) => {
    const r = await p.app.inject(
      signed(p, deviceSigner(p, device), 'POST', '/v1/events/batches', { events }),
    );
    expect(r.statusCode, r.body).toBe(200);
    expect(json(r).accepted).toBe(events.length);
  };
  await up('gate-01', [ev(1, 's-001', AM), ev(2, 's-003', AM), ev(3, 's-001', NOON)]);
  await up('lib-01', [
    ev(1, 's-003', NOON),
    // resolved from the physical card UID of s-001, not a card id
    {
      seq: 2,
      kind: 'library_enter',
      occurred_at: NOON,
      uid_hex: p.demo!.cards.find((c) => c.personId === 's-001')!.physicalUidHex,
      decision: 'allowed',
    },
    ev(3, 't-001', AM),
  ]);
});
afterAll(async () => p?.close());

const list = async (query: string, who: Signer = operator(p)): Promise<Page> => {
  const res = await p.app.inject(signed(p, who, 'GET', `/v1/events${query}`));
  expect(res.statusCode, res.body).toBe(200);
  return json<Page>(res);
};
/** The events of a page as "device#seq person class time". */
const ids = (page: Page) =>
  page.data.map((e) => `${e.device_id}#${e.seq} ${e.person_id} ${e.class_id} ${e.occurred_at.slice(11, 16)}`);

describe('event queries', () => {
  it('without filters: every event, in (occurred_at, device_id, seq) order', async () => {
    expect(ids(await list(''))).toEqual([
      'gate-01#1 s-001 7-2 07:30',
      'gate-01#2 s-003 8-1 07:30',
      'lib-01#3 t-001 null 07:30',
      'gate-01#3 s-001 7-2 12:00',
      'lib-01#1 s-003 8-1 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
  });

  it('by person', async () => {
    expect(ids(await list('?person_id=s-001'))).toEqual([
      'gate-01#1 s-001 7-2 07:30',
      'gate-01#3 s-001 7-2 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
    expect(ids(await list('?person_id=s-003'))).toEqual([
      'gate-01#2 s-003 8-1 07:30',
      'lib-01#1 s-003 8-1 12:00',
    ]);
    expect(ids(await list('?person_id=t-001'))).toEqual(['lib-01#3 t-001 null 07:30']);
    expect(await list('?person_id=s-002')).toEqual({ data: [], next_cursor: null });
  });

  it('by class', async () => {
    expect(ids(await list('?class_id=7-2'))).toEqual([
      'gate-01#1 s-001 7-2 07:30',
      'gate-01#3 s-001 7-2 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
    expect(ids(await list('?class_id=8-1'))).toEqual([
      'gate-01#2 s-003 8-1 07:30',
      'lib-01#1 s-003 8-1 12:00',
    ]);
    expect((await list('?class_id=9-9')).data).toEqual([]);
  });

  it('by time: from is inclusive, to exclusive', async () => {
    expect(ids(await list(`?from=${NOON}`))).toEqual([
      'gate-01#3 s-001 7-2 12:00',
      'lib-01#1 s-003 8-1 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
    expect(ids(await list(`?to=${NOON}`))).toEqual([
      'gate-01#1 s-001 7-2 07:30',
      'gate-01#2 s-003 8-1 07:30',
      'lib-01#3 t-001 null 07:30',
    ]);
    expect(ids(await list(`?from=${AM}&to=2026-01-05T07:30:01Z`))).toHaveLength(3);
    expect((await list(`?to=${AM}`)).data).toEqual([]);
    expect((await list('?from=2026-01-05T12:00:01Z')).data).toEqual([]);
    expect(ids(await list('?from=2026-01-05T07:30:01Z&to=2026-01-05T12:00:01Z'))).toHaveLength(3);
  });

  it('combined filters are ANDed', async () => {
    expect(ids(await list(`?person_id=s-001&from=${NOON}`))).toEqual([
      'gate-01#3 s-001 7-2 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
    expect(ids(await list(`?class_id=8-1&to=${NOON}`))).toEqual(['gate-01#2 s-003 8-1 07:30']);
    expect(ids(await list(`?class_id=7-2&from=${AM}&to=${NOON}`))).toEqual(['gate-01#1 s-001 7-2 07:30']);
    expect(ids(await list('?person_id=s-003&class_id=8-1'))).toEqual([
      'gate-01#2 s-003 8-1 07:30',
      'lib-01#1 s-003 8-1 12:00',
    ]);
    expect((await list('?person_id=s-001&class_id=8-1')).data).toEqual([]);
  });

  it('a device sees only its own events', async () => {
    expect(ids(await list('', deviceSigner(p, 'lib-01')))).toEqual([
      'lib-01#3 t-001 null 07:30',
      'lib-01#1 s-003 8-1 12:00',
      'lib-01#2 s-001 7-2 12:00',
    ]);
    expect(ids(await list('?person_id=s-001', deviceSigner(p, 'gate-01')))).toEqual([
      'gate-01#1 s-001 7-2 07:30',
      'gate-01#3 s-001 7-2 12:00',
    ]);
    expect((await list('?person_id=s-001', deviceSigner(p, 'lock-b3'))).data).toEqual([]);
  });

  it('pages with limit and cursor, over filters too', async () => {
    const all = ids(await list(''));
    const seen: string[] = [];
    const cursors: (string | null)[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await list(`?limit=4${cursor === null ? '' : `&cursor=${cursor}`}`);
      seen.push(...ids(page));
      cursor = page.next_cursor;
      cursors.push(cursor);
    } while (cursor !== null);
    expect(cursors).toHaveLength(2);
    expect(cursors[1]).toBeNull();
    expect(seen).toEqual(all);

    const p1 = await list('?person_id=s-001&limit=2');
    expect(ids(p1)).toEqual(['gate-01#1 s-001 7-2 07:30', 'gate-01#3 s-001 7-2 12:00']);
    expect(p1.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const p2 = await list(`?person_id=s-001&limit=2&cursor=${p1.next_cursor}`);
    expect([ids(p2), p2.next_cursor]).toEqual([['lib-01#2 s-001 7-2 12:00'], null]);
    // a page that ends exactly at the last event has no next cursor
    const exact = await list('?class_id=8-1&limit=2');
    expect([exact.data.length, exact.next_cursor]).toEqual([2, null]);
    // a cursor marks a position in the order: with another filter it goes on from there
    const after3 = (await list('?limit=3')).next_cursor as string;
    expect(ids(await list(`?class_id=8-1&cursor=${after3}`))).toEqual(['lib-01#1 s-003 8-1 12:00']);
    const afterAll5 = (await list('?limit=5')).next_cursor as string;
    expect(await list(`?class_id=8-1&cursor=${afterAll5}`)).toEqual({ data: [], next_cursor: null });
  });

  it('refuses a cursor it did not give, naming the parameter', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const good = (await list('?limit=1')).next_cursor as string;
    for (const c of [
      '4', // an offset, as cursors were once
      'abc',
      '!!',
      `${good}=`,
      b64('[1]'),
      b64('["07:30","gate-01",1]'),
      b64('[1.5,"gate-01",1]'),
      b64('[1, "gate-01", 1]'),
      b64('{"0":1}'),
      'x'.repeat(129),
    ]) {
      const res = await p.app.inject(
        signed(p, operator(p), 'GET', `/v1/events?cursor=${encodeURIComponent(c)}`),
      );
      expect([c, res.statusCode, json(res).code]).toEqual([c, 400, 'ERR_VALIDATION']);
    }
    const res = await p.app.inject(signed(p, operator(p), 'GET', '/v1/events?cursor=abc'));
    expect(json(res).errors).toEqual([{ path: 'querystring/cursor', message: expect.any(String) }]);
  });

  it('refuses a swapped range on every list (events, orders, incidents), as the wallet summary does', async () => {
    const range = 'from=2026-12-03T00:00:00Z&to=2026-12-01T00:00:00Z';
    for (const path of ['/v1/events', '/v1/orders', '/v1/incidents', '/v1/wallets/s-001/summary']) {
      const res = await p.app.inject(signed(p, operator(p), 'GET', `${path}?${range}`));
      expect([path, res.statusCode, json(res).code, json(res).errors]).toEqual([
        path,
        400,
        'ERR_VALIDATION',
        [{ path: 'querystring/to', message: 'must not be before from' }],
      ]);
    }
    // an empty range (from = to) is no mistake: an empty page
    const empty = await p.app.inject(
      signed(p, operator(p), 'GET', '/v1/events?from=2026-12-01T00:00:00Z&to=2026-12-01T00:00:00Z'),
    );
    expect([empty.statusCode, json<{ data: unknown[] }>(empty).data]).toEqual([200, []]);
  });

  it('refuses bad query values with 400 ERR_VALIDATION', async () => {
    for (const q of ['?from=yesterday', '?limit=0', '?limit=501', '?person=s-001']) {
      const res = await p.app.inject(signed(p, operator(p), 'GET', `/v1/events${q}`));
      expect([q, res.statusCode, json(res).code]).toEqual([q, 400, 'ERR_VALIDATION']);
    }
  });
});

describe('paging while events arrive', () => {
  it('neither repeats nor skips an event that was there, when late events land before and after the cursor', async () => {
    const q = await demoPlatform();
    try {
      q.clock.set(Date.parse('2026-01-05T15:00:00Z')); // after every event of the day
      const card = q.demo!.cards.find((c) => c.personId === 's-001')!.cardId;
      const at = (hh: string) => `2026-01-05T${hh}:00:00Z`;
      const ev = (seq: number, time: string) => ({
        seq,
        kind: 'attendance',
        direction: 'in',
        occurred_at: time,
        card_id: card,
        decision: 'allowed',
      });
      const up = async (events: object[]) => {
        const r = await q.app.inject(
          signed(q, deviceSigner(q, 'gate-01'), 'POST', '/v1/events/batches', { events }),
        );
        expect(r.statusCode, r.body).toBe(200);
      };
      const page = async (query: string): Promise<Page> => {
        const r = await q.app.inject(signed(q, operator(q), 'GET', `/v1/events${query}`));
        expect(r.statusCode, r.body).toBe(200);
        return json<Page>(r);
      };
      await up([ev(1, at('08')), ev(2, at('09')), ev(3, at('10')), ev(4, at('11'))]);
      const first = await page('?limit=2');
      expect(first.data.map((e) => e.seq)).toEqual([1, 2]);
      // a reader's backlog arrives: one event before the cursor, one after it
      await up([ev(5, at('07')), ev(6, at('09').replace(':00:00', ':30:00'))]);
      const seen = first.data.map((e) => e.seq);
      let cursor = first.next_cursor;
      while (cursor !== null) {
        const next = await page(`?limit=2&cursor=${cursor}`);
        seen.push(...next.data.map((e) => e.seq));
        cursor = next.next_cursor;
      }
      // with an offset cursor, event 2 came again (shifted by event 5) and event 4 needed a page more
      expect(seen).toEqual([1, 2, 6, 3, 4]);
    } finally {
      await q.close();
    }
  });
});

describe('cursors of long sort keys', () => {
  it('a device id of 64 characters and seqs up to 2^53 − 1 (both in the contract) page to the end', async () => {
    const q = await demoPlatform();
    try {
      const id = `gate-${'x'.repeat(59)}`;
      const key = generateKeyPair('ES256').privateKey;
      const reg = await q.app.inject(
        signed(q, operator(q), 'POST', '/v1/devices', {
          device_id: id,
          school_id: 'sch-demo',
          type: 'gate',
          zone: 'gate:east',
          public_jwk: exportJwk(key.publicKey),
        }),
      );
      expect(reg.statusCode, reg.body).toBe(201);
      const gate: Signer = { id, jwk: exportJwk(key, { includePrivate: true }) };
      const top = Number.MAX_SAFE_INTEGER;
      const events = [top - 2, top - 1, top].map((seq) => ({
        seq,
        kind: 'access',
        occurred_at: '2026-01-05T07:30:00.125Z',
        decision: 'denied',
      }));
      const up = await q.app.inject(signed(q, gate, 'POST', '/v1/events/batches', { events }));
      expect(up.statusCode, up.body).toBe(200);
      const seen: number[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const query: string = cursor === '' ? '?limit=1' : `?limit=1&cursor=${cursor}`;
        const r = await q.app.inject(signed(q, gate, 'GET', `/v1/events${query}`));
        expect(r.statusCode, r.body).toBe(200); // today: 400 ERR_VALIDATION, the cursor is 135 characters
        const page = json<Page>(r);
        seen.push(...page.data.map((e) => e.seq));
        cursor = page.next_cursor;
      }
      expect(seen).toEqual([top - 2, top - 1, top]);
    } finally {
      await q.close();
    }
  });
});
