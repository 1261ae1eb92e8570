/**
 * With admin routes off (`admin: false`, `--no-admin`), every admin route answers 404
 * `ERR_ADMIN_DISABLED` whatever its body (src/app.ts, `onRequest`): a malformed, oversized or
 * mistyped body does not show that the route is there, and nothing changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClock, createMockPlatform, type MockPlatform } from '../src/index.js';
import { json, T0 } from './helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe('admin routes when admin is off', () => {
  it('answer 404 ERR_ADMIN_DISABLED before reading the body, and change nothing', async () => {
    p = await createMockPlatform({
      dbPath: ':memory:',
      admin: false,
      clock: createClock({ start: T0, frozen: true }),
    });
    const before = p.clock.now();
    const cases: { method: 'POST' | 'GET' | 'DELETE'; url: string; body?: string; type?: string }[] = [
      { method: 'POST', url: '/admin/faults', body: '{"rules": [', type: 'application/json' },
      { method: 'POST', url: '/admin/faults', body: 'rules', type: 'text/plain' },
      { method: 'POST', url: '/admin/faults', body: 'x'.repeat(2 * 1024 * 1024), type: 'application/json' },
      {
        method: 'POST',
        url: '/admin/clock',
        body: '{"set":"2030-01-01T00:00:00Z"}',
        type: 'application/json',
      },
      { method: 'GET', url: '/admin/recording' },
      { method: 'DELETE', url: '/admin/faults', body: '{}', type: 'application/json' },
    ];
    for (const c of cases) {
      const r = await p.app.inject({
        method: c.method,
        url: c.url,
        ...(c.body === undefined ? {} : { payload: c.body, headers: { 'content-type': c.type ?? '' } }),
      });
      expect([c.method, c.url, c.type, r.statusCode, json<{ code: string }>(r).code]).toEqual([
        c.method,
        c.url,
        c.type,
        404,
        'ERR_ADMIN_DISABLED',
      ]);
    }
    expect(p.clock.now()).toBe(before);
  });
});
