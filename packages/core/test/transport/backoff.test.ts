import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeBackoff, errorFromResponse, parseRetryAfter } from '../../src/transport.js';

describe('computeBackoff', () => {
  const opts = { baseMs: 200, maxMs: 5000 };
  it('is exponential with equal jitter and a cap', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => computeBackoff(a, opts, () => 0))).toEqual([
      100, 200, 400, 800, 1600, 2500, 2500,
    ]);
    expect([1, 2, 3, 6].map((a) => computeBackoff(a, opts, () => 0.999999))).toEqual([199, 399, 799, 4999]);
    expect(computeBackoff(3, { ...opts, jitter: 'full' }, () => 0)).toBe(0);
    expect(() => computeBackoff(0, opts, Math.random)).toThrow(RangeError);
    expect(computeBackoff(2, opts, () => Number.NaN)).toBe(200);
  });
  it('property: within [d/2, d] ≤ maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (a, r) => {
          const d = Math.min(5000, 200 * 2 ** (a - 1));
          const v = computeBackoff(a, opts, () => r);
          return v >= Math.floor(d / 2) && v <= d && v <= 5000;
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 1, 0, 0, 0);
  it('parses seconds and HTTP-dates, rejects junk', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 12 ', now)).toBe(12_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
  it('accepts the obsolete rfc850 and asctime HTTP-dates too, as GMT (RFC 9110 §5.6.7 "MUST accept all three")', () => {
    expect(parseRetryAfter('Wednesday, 01-Jan-25 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed Jan  1 00:00:05 2025', now)).toBe(5000); // asctime is UTC, not local
    expect(parseRetryAfter('Wed Jan 11 00:00:00 2025', now)).toBe(10 * 86_400_000);
    // a two-digit year more than 50 years ahead is in the past century (§5.6.7): long gone
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0);
  });
  it('refuses an HTTP-date that names no real instant (RFC 9110 §5.6.7)', () => {
    expect(parseRetryAfter('Fri, 31 Feb 2025 00:00:05 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Wed, 01 Jan 2025 24:00:05 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Wed, 01 Foo 2025 00:00:05 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Wed Jan 1 00:00:05 2025', now)).toBeUndefined(); // asctime pads the day with SP
  });
});

describe('errorFromResponse', () => {
  it('maps statuses like stripe', () => {
    const names = [400, 401, 403, 404, 409, 410, 422, 429, 500, 503].map(
      (s) => errorFromResponse(s, {}, '').name,
    );
    expect(names).toEqual([
      'InvalidRequestError',
      'AuthenticationError',
      'PermissionError',
      'InvalidRequestError',
      'ConflictError',
      'InvalidRequestError',
      'InvalidRequestError',
      'RateLimitError',
      'ApiServerError',
      'ApiServerError',
    ]);
    const e = errorFromResponse(
      409,
      { 'request-id': 'h' },
      {
        type: 'about:blank',
        title: 'Busy',
        status: 409,
        code: 'ERR_IDEMPOTENCY_IN_PROGRESS',
        retryable: true,
        request_id: 'p',
      },
    );
    expect(e).toMatchObject({
      name: 'IdempotencyError',
      code: 'ERR_IDEMPOTENCY_IN_PROGRESS',
      requestId: 'h',
      retryable: true,
    });
    expect(e).toBeInstanceOf(Error);
  });
});
