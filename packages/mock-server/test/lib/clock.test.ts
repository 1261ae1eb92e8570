import { describe, expect, it } from 'vitest';
import { iso, parseIso } from '../../src/lib/clock.js';

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
