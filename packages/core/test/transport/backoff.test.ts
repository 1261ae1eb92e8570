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
