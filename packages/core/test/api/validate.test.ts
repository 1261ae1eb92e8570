import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileValidator,
  EventBatchBody,
  isValidTimestamp,
  ListEventsQuery,
  Timestamp,
} from '../../src/api.js';

describe('isValidTimestamp', () => {
  it.each([
    ['2026-01-01T08:00:00Z', true],
    ['2026-01-31T23:59:59.999999999Z', true],
    ['2028-02-29T00:00:00Z', true],
    ['2000-02-29T00:00:00Z', true],
    ['2026-02-28T00:00:00Z', true],
    ['2026-02-29T00:00:00Z', false],
    ['1900-02-29T00:00:00Z', false],
    ['2026-02-30T00:00:00Z', false],
    ['2026-04-31T00:00:00Z', false],
    ['2026-13-01T00:00:00Z', false],
    ['2026-01-01T24:00:00Z', false],
    ['2026-06-30T23:59:60Z', false],
    ['2026-01-01T08:00:00+08:00', false],
    ['2026-01-01', false],
  ])('%s → %s', (text, ok) => {
    expect(isValidTimestamp(text)).toBe(ok);
  });

  it('agrees with the calendar of Date for every day of 400 years (property, pinned seed)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1600, max: 2399 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        (y, m, d) => {
          const text = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T00:00:00Z`;
          const real = new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
          expect(isValidTimestamp(text)).toBe(real);
        },
      ),
      { seed: 20261129, numRuns: 3000 },
    );
  });
});

describe('compileValidator', () => {
  it('refuses a Timestamp whose day does not exist, wherever it sits, with its path', () => {
    const check = compileValidator(
      Type.Object(
        {
          at: Timestamp,
          list: Type.Array(Type.Object({ when: Type.Optional(Timestamp) })),
          either: Type.Optional(Type.Union([Type.Object({ a: Timestamp }), Type.Number()])),
        },
        { additionalProperties: false },
      ),
    );
    expect(check({ at: '2026-02-28T00:00:00Z', list: [{}, { when: '2028-02-29T00:00:00Z' }] }).ok).toBe(true);
    const r = check({
      at: '2026-02-30T00:00:00Z',
      list: [{ when: '2026-01-01T00:00:00Z' }, { when: '2026-04-31T00:00:00Z' }],
      either: { a: '2025-02-29T00:00:00Z' },
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['/at', '/list/1/when', '/either/a']);
    expect(check({ at: '2026-01-01T00:00:00Z', list: [], either: 5 }).ok).toBe(true);
  });

  it('checks the contract: an event batch with an impossible day, and a query range', () => {
    const batch = compileValidator(EventBatchBody);
    const event = {
      seq: 1,
      kind: 'access',
      occurred_at: '2026-02-30T08:00:00Z',
      decision: 'allowed',
      card_id: 'sch-demo-000001',
    };
    const r = batch({ events: [event] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.some((i) => i.path === '/events/0/occurred_at')).toBe(true);
    const query = compileValidator(ListEventsQuery, { coerce: true });
    expect(query({ from: '2026-02-29T00:00:00Z' }).ok).toBe(false);
    expect(query({ from: '2028-02-29T00:00:00Z' }).ok).toBe(true);
  });

  it('coerces query texts strictly: no truncated numbers, no dropped __proto__', () => {
    const q = compileValidator(
      Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
      { coerce: true },
    );
    expect(q({ limit: '20' })).toEqual({ ok: true, value: { limit: 20 } });
    for (const bad of ['1.5', '1e3', '0x10', 'true', '', ' 2']) expect(q({ limit: bad }).ok).toBe(false);
    expect(q(JSON.parse('{"__proto__": "x"}')).ok).toBe(false);
  });
});
