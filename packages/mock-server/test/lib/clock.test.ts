import { Timestamp } from '@campus-card/core/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iso, parseIso, parseIsoBound } from '../../src/lib/clock.js';
import { ApiError } from '../../src/lib/problem.js';

describe('iso', () => {
  it('formats RFC 3339 UTC, dropping zero milliseconds, and answers repeats of one instant alike', () => {
    const t = Date.UTC(2026, 10, 28, 23, 15, 25);
    expect(iso(t)).toBe('2026-11-28T23:15:25Z');
    expect(iso(t)).toBe('2026-11-28T23:15:25Z');
    expect(iso(t + 7)).toBe('2026-11-28T23:15:25.007Z');
    expect(iso(t)).toBe('2026-11-28T23:15:25Z');
    expect(iso(0)).toBe('1970-01-01T00:00:00Z');
    expect(parseIso(iso(t + 999))).toBe(t + 999);
  });

  it('throws on a time that is not finite, whatever it formatted before', () => {
    iso(1000);
    expect(() => iso(Number.NaN)).toThrow(RangeError);
    expect(() => iso(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(iso(1000)).toBe('1970-01-01T00:00:01Z');
  });
});

describe('parseIso', () => {
  it('reads whole seconds, milliseconds and longer fractions (truncated to ms)', () => {
    expect(parseIso('2026-01-01T08:00:00Z')).toBe(Date.UTC(2026, 0, 1, 8));
    expect(parseIso('2026-01-01T08:00:00.5Z')).toBe(Date.UTC(2026, 0, 1, 8, 0, 0, 500));
    expect(parseIso('2026-01-01T08:00:00.123456789Z')).toBe(Date.UTC(2026, 0, 1, 8, 0, 0, 123));
    expect(parseIso('2028-02-29T23:59:59Z')).toBe(Date.UTC(2028, 1, 29, 23, 59, 59));
    // a year below 100 stays as written (Date.UTC alone would read 0099 as 1999)
    expect(parseIso('0099-12-31T00:00:00Z')).toBe(Date.parse('0099-12-31T00:00:00Z'));
  });

  it.each([
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-32T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-06-30T23:59:60Z',
    '2026-01-01T25:61:00Z',
    '2026-01-01T08:00:00+08:00',
    '2026-01-01 08:00:00Z',
    '2026-01-01T08:00:00.Z',
    '2026-01-01T08:00:00.1234567890Z',
    'not a time',
    '',
  ])('refuses %j with a 400 ERR_VALIDATION naming the field, never rolling over', (text) => {
    let error: unknown;
    try {
      parseIso(text, '/items/3/captured_at');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('ERR_VALIDATION');
    expect(e.errors?.[0]?.path).toBe('/items/3/captured_at');
  });

  it('reads back every instant iso formats (property, pinned seed)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
        (t) => {
          expect(parseIso(iso(t))).toBe(t);
        },
      ),
      { seed: 20261129, numRuns: 2000 },
    );
  });

  it('accepts exactly the strings the contract pattern accepts that name a real instant', () => {
    const pattern = new RegExp(Timestamp.pattern as string);
    // each field ranges a little past its limits, so both sides of every bound are drawn
    const field = (max: number, width: number) =>
      fc.integer({ min: 0, max }).map((v) => String(v).padStart(width, '0'));
    fc.assert(
      fc.property(
        fc.tuple(field(9999, 4), field(13, 2), field(32, 2), field(25, 2), field(61, 2), field(61, 2)),
        ([y, mo, d, h, mi, s]) => {
          const text = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
          let parsed: number | undefined;
          try {
            parsed = parseIso(text);
          } catch {
            parsed = undefined;
          }
          // whatever parses matches the contract's pattern, and round-trips to the same fields
          if (parsed !== undefined) {
            expect(pattern.test(text)).toBe(true);
            expect(iso(parsed)).toBe(text);
          }
          // the pattern lets through only calendar days up to 31: a refused string that matches it
          // names a day its month does not have
          if (parsed === undefined && pattern.test(text)) expect(Number(d)).toBeGreaterThanOrEqual(29);
        },
      ),
      { seed: 20261129, numRuns: 5000 },
    );
  });
});

describe('parseIsoBound', () => {
  it('rounds a fraction below the millisecond up, and leaves whole milliseconds alone', () => {
    const s = Date.UTC(2026, 0, 1, 8, 0, 1);
    expect(parseIsoBound('2026-01-01T08:00:01Z', 'q')).toBe(s);
    expect(parseIsoBound('2026-01-01T08:00:01.5Z', 'q')).toBe(s + 500);
    expect(parseIsoBound('2026-01-01T08:00:01.000Z', 'q')).toBe(s);
    expect(parseIsoBound('2026-01-01T08:00:01.0000000Z', 'q')).toBe(s);
    expect(parseIsoBound('2026-01-01T08:00:01.1230Z', 'q')).toBe(s + 123);
    expect(parseIsoBound('2026-01-01T08:00:01.0001Z', 'q')).toBe(s + 1);
    expect(parseIsoBound('2026-01-01T08:00:00.999999999Z', 'q')).toBe(s);
    expect(parseIsoBound('2026-01-01T08:00:01.000000001Z', 'q')).toBe(s + 1);
    expect(() => parseIsoBound('2026-02-30T08:00:00Z', 'querystring/from')).toThrow(/querystring\/from/);
  });
});
