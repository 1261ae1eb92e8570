import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, json, operator, signed } from './helpers.js';

// Walks every route of /openapi.json with hostile inputs: each must be a 4xx problem+json,
// and the database must not change.
let p: MockPlatform;
beforeAll(async () => {
  p = await demoPlatform({ bodyLimit: 8192 });
});
afterAll(async () => p?.close());

type Op = {
  operationId: string;
  requestBody?: unknown;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
};

function snapshot(p: MockPlatform): string {
  const tables = [
    'schools',
    'people',
    'devices',
    'merchants',
    'cards',
    'orders',
    'refunds',
    'postings',
    'events',
    'subscriptions',
    'used_codes',
  ];
  return tables
    .map((t) => (p.state.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n)
    .join(',');
}

describe('walker over /openapi.json', () => {
  it('answers hostile input with 4xx problem+json and no state change', async () => {
    const doc = json<{ paths: Record<string, Record<string, Op>> }>(
      await p.app.inject({ method: 'GET', url: '/openapi.json' }),
    );
    const before = snapshot(p);
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const url = path.replace(/\{[a-z_]+\}/g, 'x1');
        const M = method.toUpperCase() as 'GET' | 'POST' | 'DELETE';
        const signedRoute = (op.security?.length ?? 0) > 0;
        const cases: { name: string; req: ReturnType<typeof signed> }[] = [];
        if (signedRoute)
          cases.push({
            name: 'missing signature',
            req: signed(p, undefined, M, url, M === 'POST' ? {} : undefined),
          });
        if (signedRoute) {
          const bad = signed(p, operator(p), M, url, M === 'POST' ? {} : undefined);
          (bad.headers as Record<string, string>)['signature-input'] =
            'sig1=("@method");created=1;keyid="op-demo"';
          cases.push({ name: 'bad signature', req: bad });
        }
        if (op.requestBody !== undefined) {
          const s = signedRoute ? operator(p) : undefined;
          cases.push({ name: 'malformed JSON', req: signed(p, s, M, url, undefined, { rawBody: '{"a":' }) });
          cases.push({
            name: 'wrong types',
            req: signed(p, s, M, url, { amount: 'ten', out_trade_no: 5, rules: 'x', url: 7 }),
          });
          cases.push({
            name: 'unknown fields',
            req: signed(p, s, M, url, { __proto_pollution: true, zzz: 1 }),
          });
          cases.push({ name: 'array body', req: signed(p, s, M, url, [1, 2, 3]) });
          cases.push({
            name: 'huge body',
            req: signed(p, s, M, url, undefined, { rawBody: JSON.stringify({ x: 'y'.repeat(20_000) }) }),
          });
          cases.push({
            name: 'wrong content type',
            req: {
              ...signed(p, s, M, url, { a: 1 }),
              headers: { ...signed(p, s, M, url, { a: 1 }).headers, 'content-type': 'text/plain' },
            },
          });
        }
        for (const c of cases) {
          const r = await p.app.inject(c.req);
          expect(r.statusCode, `${M} ${path} ${c.name}: ${r.body}`).toBeGreaterThanOrEqual(400);
          expect(r.statusCode, `${M} ${path} ${c.name}`).toBeLessThan(500);
          expect(r.headers['content-type'], `${M} ${path} ${c.name}`).toContain('application/problem+json');
          const body = json<{ code: string; retryable: boolean; request_id: string }>(r);
          expect(body.code, `${M} ${path} ${c.name}`).toMatch(/^ERR_/);
          expect(typeof body.retryable).toBe('boolean');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(snapshot(p)).toBe(before);
  });
});
