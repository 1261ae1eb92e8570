import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
// ajv (2020-12 draft) is what generated clients validate /openapi.json with (a root dev dependency)
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CreatePaymentBody,
  CreatePersonBody,
  CreateSubscriptionBody,
  compileValidator,
  EventBatchBody,
  isValidTimestamp,
  ListEventsQuery,
  Timestamp,
  WEBHOOK_EVENT_TYPES,
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

  it('names the allowed values of a union of literals, with the path (enum-like unions)', () => {
    const sub = compileValidator(CreateSubscriptionBody);
    const allowed = WEBHOOK_EVENT_TYPES.map((t) => JSON.stringify(t)).join(', ');
    expect(sub({ url: 'https://vendor.example/hooks', event_types: ['payment.*'] })).toEqual({
      ok: false,
      issues: [{ path: '/event_types/0', message: `must be one of ${allowed}` }],
    });
    expect(allowed.startsWith('"payment.succeeded", "payment.failed", ')).toBe(true);
    const check = compileValidator(
      Type.Object({
        direction: Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Null()]),
        level: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
        either: Type.Optional(Type.Union([Type.Literal('a'), Type.Object({ a: Type.String() })])),
      }),
    );
    expect(check({ direction: 'up', level: 3 })).toEqual({
      ok: false,
      issues: [
        { path: '/direction', message: 'must be one of "in", "out", null' },
        { path: '/level', message: 'must be one of 1, 2' },
      ],
    });
    // a union with a branch that is no literal keeps TypeBox's issue
    expect(check({ direction: 'in', either: 'b' })).toEqual({
      ok: false,
      issues: [{ path: '/either', message: 'Expected union value' }],
    });
  });

  it('says in words what a time must be, and reports a missing required field once', () => {
    const check = compileValidator(Type.Object({ at: Timestamp, n: Type.Number() }));
    const words =
      'must be an RFC 3339 time in UTC ending in Z, e.g. 2026-01-01T08:00:00Z (no offset such as +08:00)';
    expect(check({ at: '2026-12-02T08:00:00+08:00', n: 1 })).toEqual({
      ok: false,
      issues: [{ path: '/at', message: words }],
    });
    // a real pattern match on a day that does not exist keeps its own message
    expect(check({ at: '2026-02-30T00:00:00Z', n: 1 })).toEqual({
      ok: false,
      issues: [{ path: '/at', message: 'Expected a real date and time (that day does not exist)' }],
    });
    // missing: one issue a field, not also "Expected string" / "Expected number"
    expect(check({})).toEqual({
      ok: false,
      issues: [
        { path: '/at', message: 'Expected required property' },
        { path: '/n', message: 'Expected required property' },
      ],
    });
    // present with a wrong type: still the type's issue
    const wrong = check({ at: 5, n: 'x' });
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.issues.map((i) => i.path)).toEqual(['/at', '/n']);
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

describe('compileValidator: string lengths in code points (JSON Schema), not UTF-16 units', () => {
  const ASTRAL = '𠀀'; // CJK Extension B: one code point, two UTF-16 units
  const EMOJI = '😀';
  const cp = (s: string): number => [...s].length;
  const MAX = 'Expected string length less or equal to';
  const MIN = 'Expected string length greater or equal to';

  it('accepts a name of exactly maxLength astral characters and refuses one more (the contract)', () => {
    const person = compileValidator(CreatePersonBody);
    const base = { person_id: 'p-1', school_id: 'sch-demo', kind: 'student' };
    expect(compileValidator(CreatePersonBody)({ ...base, name: '张三' }).ok).toBe(true);
    expect(person({ ...base, name: ASTRAL.repeat(100) }).ok).toBe(true);
    expect(person({ ...base, name: ASTRAL.repeat(128) }).ok).toBe(true);
    expect(person({ ...base, name: ASTRAL.repeat(129) })).toEqual({
      ok: false,
      issues: [{ path: '/name', message: `${MAX} 128` }],
    });
    expect(person({ ...base, name: 'a'.repeat(129) })).toEqual({
      ok: false,
      issues: [{ path: '/name', message: `${MAX} 128` }],
    });
    const payment = compileValidator(CreatePaymentBody);
    const pay = { out_trade_no: 'POS17-000123', amount: 250 };
    expect(payment({ ...pay, description: `${EMOJI.repeat(127)}a` }).ok).toBe(true);
    expect(payment({ ...pay, description: EMOJI.repeat(129) }).ok).toBe(false);
  });

  it('counts minLength in code points too, astral characters included', () => {
    const check = compileValidator(Type.String({ minLength: 3, maxLength: 5 }));
    expect(check(ASTRAL.repeat(2))).toEqual({ ok: false, issues: [{ path: '/', message: `${MIN} 3` }] });
    expect(check(ASTRAL.repeat(3)).ok).toBe(true);
    expect(check(EMOJI.repeat(5)).ok).toBe(true); // 10 units
    expect(check(EMOJI.repeat(6))).toEqual({ ok: false, issues: [{ path: '/', message: `${MAX} 5` }] });
    expect(check(`a${EMOJI}`)).toEqual({ ok: false, issues: [{ path: '/', message: `${MIN} 3` }] });
    // a lone surrogate is one code point, as ajv and [...s] count it
    expect(check('\uD800\uD800\uDC00a').ok).toBe(true); // lone, pair, a: 3
    expect(check('\uDC00\uD800').ok).toBe(false);
  });

  const Nested = Type.Object(
    {
      list: Type.Array(Type.Object({ n: Type.String({ maxLength: 2 }) })),
      opt: Type.Optional(Type.String({ minLength: 2, maxLength: 3 })),
      either: Type.Optional(
        Type.Union([Type.Object({ a: Type.String({ minLength: 2, maxLength: 2 }) }), Type.Number()]),
      ),
      rec: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 2 }))),
      count: Type.Optional(Type.Integer({ minimum: 0 })),
    },
    { additionalProperties: false },
  );

  it('checks nested strings: arrays of objects, optional fields, unions and records', () => {
    const check = compileValidator(Nested);
    const good = {
      list: [{ n: '' }, { n: EMOJI.repeat(2) }],
      opt: ASTRAL.repeat(3),
      either: { a: `${EMOJI}${ASTRAL}` },
      rec: { k: ASTRAL.repeat(2) },
    };
    expect(check(good)).toEqual({ ok: true, value: good });
    expect(check({ list: [], opt: ASTRAL.repeat(2), either: 3 }).ok).toBe(true);
    expect(check({ ...good, list: [{ n: 'ab' }, { n: EMOJI.repeat(3) }] })).toEqual({
      ok: false,
      issues: [{ path: '/list/1/n', message: `${MAX} 2` }],
    });
    expect(check({ ...good, opt: ASTRAL })).toEqual({
      ok: false,
      issues: [{ path: '/opt', message: `${MIN} 2` }],
    });
    expect(check({ ...good, opt: EMOJI.repeat(4) })).toEqual({
      ok: false,
      issues: [{ path: '/opt', message: `${MAX} 3` }],
    });
    expect(check({ ...good, rec: { k: ASTRAL.repeat(3) } })).toEqual({
      ok: false,
      issues: [{ path: '/rec/k', message: `${MAX} 2` }],
    });
    // a union no branch of which fits is TypeBox's union issue, as for BMP text
    const overBmp = check({ ...good, either: { a: 'abc' } });
    const overAstral = check({ ...good, either: { a: ASTRAL.repeat(3) } });
    expect(overAstral).toEqual(overBmp);
    expect(overAstral).toEqual({ ok: false, issues: [{ path: '/either', message: 'Expected union value' }] });
    // too short in code points while long enough in units, inside the union's branch
    expect(check({ ...good, either: { a: ASTRAL } })).toEqual({
      ok: false,
      issues: [{ path: '/either/a', message: `${MIN} 2` }],
    });
    // another failure does not make the fitting astral strings fail too
    expect(
      check({
        list: [{ n: EMOJI.repeat(2) }],
        opt: EMOJI.repeat(3),
        either: { a: ASTRAL.repeat(2) },
        rec: { k: EMOJI.repeat(2) },
        count: -1,
      }),
    ).toEqual({
      ok: false,
      issues: [{ path: '/count', message: 'Expected integer to be greater or equal to 0' }],
    });
    expect(check({ ...good, opt: ASTRAL, count: -1 })).toEqual({
      ok: false,
      issues: [
        { path: '/count', message: 'Expected integer to be greater or equal to 0' },
        { path: '/opt', message: `${MIN} 2` },
      ],
    });
  });

  it('agrees with a code-point count for any text (property, pinned seed)', () => {
    const check = compileValidator(Type.Object({ s: Type.String({ minLength: 3, maxLength: 6 }) }));
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.string({ unit: fc.constantFrom('a', '中', ASTRAL, EMOJI, '\uD800', '\uDC00'), maxLength: 10 }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const n = cp(s);
        const r = check({ s });
        if (n >= 3 && n <= 6) expect(r).toEqual({ ok: true, value: { s } });
        else {
          expect(r).toEqual({
            ok: false,
            issues: [{ path: '/s', message: n < 3 ? `${MIN} 3` : `${MAX} 6` }],
          });
        }
      }),
      { seed: 20260701, numRuns: 3000 },
    );
  });

  it('judges text without astral characters exactly as TypeBox does (property, pinned seed)', () => {
    const check = compileValidator(Nested);
    const typebox = TypeCompiler.Compile(Nested);
    const bmp = fc.string({ unit: fc.constantFrom('a', 'é', '中', ' '), maxLength: 4 });
    const value = fc.record(
      {
        list: fc.array(fc.record({ n: bmp }), { maxLength: 3 }),
        opt: bmp,
        either: fc.oneof(fc.record({ a: bmp }), fc.integer(), fc.constant('x')),
        rec: fc.dictionary(fc.constantFrom('k', 'l'), bmp),
        count: fc.integer({ min: -2, max: 2 }),
      },
      { requiredKeys: ['list'] },
    );
    fc.assert(
      fc.property(value, (v) => {
        const expected = typebox.Check(v)
          ? { ok: true, value: v }
          : {
              ok: false,
              issues: [...typebox.Errors(v)].slice(0, 10).map((e) => ({
                path: e.path === '' ? '/' : e.path,
                message: e.message,
              })),
            };
        expect(check(v)).toEqual(expected);
      }),
      { seed: 20260702, numRuns: 2000 },
    );
  });

  it('agrees with ajv (JSON Schema 2020-12) on lengths around the bounds (property, pinned seed)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    const schemas: TSchema[] = [
      Type.String({ minLength: 2, maxLength: 4 }),
      Type.Object({ v: Type.Optional(Type.Array(Type.String({ maxLength: 3 }))) }),
      Type.Union([
        Type.String({ minLength: 5 }),
        Type.Object({ t: Type.String({ minLength: 1, maxLength: 1 }) }),
      ]),
    ];
    const checks = schemas.map((s) => [compileValidator(s), ajv.compile(s as object)] as const);
    const text = fc.string({
      unit: fc.constantFrom('a', 'é', ASTRAL, EMOJI, '\uD83D', '\uDE00'),
      maxLength: 7,
    });
    const value = fc.oneof(text, fc.record({ v: fc.array(text, { maxLength: 3 }) }), fc.record({ t: text }));
    fc.assert(
      fc.property(value, (v) => {
        for (const [ours, theirs] of checks) expect(ours(v).ok).toBe(theirs(v));
      }),
      { seed: 20260703, numRuns: 3000 },
    );
  });
});
