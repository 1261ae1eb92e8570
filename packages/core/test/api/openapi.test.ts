import { Validator } from '@seriousme/openapi-schema-validator';
import type { TObject, TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  BusinessKey,
  buildOpenApiDocument,
  CreatePaymentBody,
  compileValidator,
  ERROR_CODES,
  fillPath,
  getRoute,
  Id,
  ListEventsQuery,
  MAX_AMOUNT_FEN,
  routes,
  StatementInfo,
  TOKEN_FORMAT_PROBLEM_CODES,
  WalletSummary,
  WEBHOOK_EVENT_TYPES,
} from '../../src/api.js';
import { CAMPUS_CARD_ERROR_CODES } from '../../src/errors.js';

describe('route table', () => {
  it('has unique operation ids and unique method+path pairs', () => {
    const ids = new Set(routes.map((r) => r.operationId));
    expect(ids.size).toBe(routes.length);
    const keys = new Set(routes.map((r) => `${r.method} ${r.path}`));
    expect(keys.size).toBe(routes.length);
  });

  it('every route declares the refusals the platform gives any request of its kind', () => {
    const missing: string[] = [];
    for (const r of routes) {
      const statuses = Object.keys(r.responses).map(Number);
      const want = [400]; // an unknown query parameter, a malformed path
      if (r.method !== 'GET') want.push(413, 415); // a body too large, or not JSON (any body, even unasked)
      if (r.auth !== 'admin') want.push(429); // an injected rate limit (faults skip admin routes)
      if (r.auth !== 'admin' && r.auth !== 'none') want.push(401, 403);
      if (r.method === 'POST' && r.auth !== 'admin') want.push(409, 422); // idempotency
      for (const s of want) if (!statuses.includes(s)) missing.push(`${r.operationId} ${s}`);
    }
    expect(missing).toEqual([]);
  });

  it('every object schema in bodies rejects unknown fields', () => {
    for (const r of routes) {
      if ('body' in r && r.body !== undefined) {
        expect((r.body as { additionalProperties?: boolean }).additionalProperties, r.operationId).toBe(
          false,
        );
      }
    }
  });

  it('fills path templates with escaping', () => {
    expect(fillPath(getRoute('getPayment').path, { out_trade_no: 'A 1/2' })).toBe('/v1/payments/A%201%2F2');
    expect(() => fillPath('/v1/x/{id}', {})).toThrow(TypeError);
  });
});

describe('validators', () => {
  it('rejects wrong types, unknown fields and non-integer money', () => {
    const check = compileValidator(CreatePaymentBody);
    expect(check({ out_trade_no: 'T1', amount: 100 }).ok).toBe(true);
    expect(check({ out_trade_no: 'T1', amount: '100' }).ok).toBe(false);
    expect(check({ out_trade_no: 'T1', amount: 1.5 }).ok).toBe(false);
    expect(check({ out_trade_no: 'T1', amount: 100, extra: 1 }).ok).toBe(false);
    expect(check({ out_trade_no: 'T1', amount: 0 }).ok).toBe(false);
  });

  it('coerces query strings only when asked, and requires UTC RFC 3339', () => {
    const q = compileValidator(ListEventsQuery, { coerce: true });
    const ok = q({ limit: '5', from: '2026-01-01T00:00:00Z' });
    expect(ok).toEqual({ ok: true, value: { limit: 5, from: '2026-01-01T00:00:00Z' } });
    expect(q({ from: '2026-01-01T08:00:00+08:00' }).ok).toBe(false);
  });

  it('refuses "." and ".." as a key or an id: a URL parser collapses such a path segment', () => {
    for (const schema of [BusinessKey, Id]) {
      const check = compileValidator(schema);
      for (const bad of ['.', '..']) expect(check(bad).ok, bad).toBe(false);
      for (const ok of ['...', '.a', 'a.', 'a..b', 'T-1:2_3', '0']) expect(check(ok).ok, ok).toBe(true);
    }
    // every string path parameter of every route, so no resource is created that cannot be addressed
    const open: string[] = [];
    for (const r of routes) {
      const params = ('params' in r ? r.params : undefined) as TObject | undefined;
      for (const [name, schema] of Object.entries(params?.properties ?? {}) as [string, TSchema][]) {
        const check = compileValidator(schema);
        for (const seg of ['.', '..']) if (check(seg).ok) open.push(`${r.operationId} ${name} ${seg}`);
      }
    }
    expect(open).toEqual([]);
  });

  it('totals are sums, not one order: beyond MAX_AMOUNT_FEN they are valid', () => {
    const twice = 2 * MAX_AMOUNT_FEN;
    const summary = {
      person_id: 's-003',
      from: '2026-01-05T00:00:00Z',
      to: '2026-01-06T00:00:00Z',
      spent: twice,
      refunded: twice,
      topped_up: twice,
      fees_paid: twice,
      payment_count: 2,
      net: 0,
    };
    expect(compileValidator(WalletSummary)(summary).ok).toBe(true);
    expect(compileValidator(WalletSummary)({ ...summary, spent: -1 }).ok).toBe(false);
    expect(compileValidator(WalletSummary)({ ...summary, spent: 1.5 }).ok).toBe(false);
    const statement = {
      merchant_id: 'm-shop',
      date: '2026-01-05',
      hash_type: 'sha-256',
      hash_value: '0'.repeat(64),
      size_bytes: 100,
      line_count: 4,
      credits: twice,
      debits: twice,
      net: 0,
      generated_at: '2026-01-06T00:00:00Z',
      from: '2026-01-04T16:00:00Z',
      to: '2026-01-05T16:00:00Z',
      day_utc_offset: '+08:00',
    };
    expect(compileValidator(StatementInfo)(statement).ok).toBe(true);
    // the business day's bounds are real times, its offset ±HH:MM within ±14:00
    for (const bad of [
      { from: '2026-02-30T16:00:00Z' },
      { to: '2026-01-05 16:00' },
      { day_utc_offset: '+8' },
      { day_utc_offset: '+14:30' },
      { day_utc_offset: '+08:60' },
    ])
      expect(compileValidator(StatementInfo)({ ...statement, ...bad }).ok, JSON.stringify(bad)).toBe(false);
    for (const ok of ['-14:00', '+14:00', '-05:30', '+00:00'])
      expect(compileValidator(StatementInfo)({ ...statement, day_utc_offset: ok }).ok, ok).toBe(true);
    expect(compileValidator(StatementInfo)({ ...statement, debits: -1 }).ok).toBe(false);
  });
});

describe('buildOpenApiDocument', () => {
  const doc = buildOpenApiDocument({ servers: ['http://localhost:8080'] });

  it('is OpenAPI 3.1 with every route and every push event', () => {
    expect(doc.openapi).toBe('3.1.0');
    const paths = doc.paths as Record<string, Record<string, { operationId: string }>>;
    const ops = Object.values(paths).flatMap((m) => Object.values(m).map((o) => o.operationId));
    expect(ops.sort()).toEqual(routes.map((r) => r.operationId).sort());
    expect(Object.keys(doc.webhooks as object).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
  });

  it("validates against the OpenAPI Initiative's own 3.1 schema (what code generators read)", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(doc)));
    expect({ version: validator.version, valid: result.valid, errors: result.errors }).toEqual({
      version: '3.1',
      valid: true,
      errors: undefined,
    });
    // and a broken document is not valid: the check checks
    const broken = await new Validator().validate({ ...JSON.parse(JSON.stringify(doc)), info: { title: 1 } });
    expect(broken.valid).toBe(false);
  });

  it('documents Idempotency-Key on POSTs and problem+json errors', () => {
    const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
    const pay = paths['/v1/payments']?.post as {
      parameters: { name: string }[];
      responses: Record<string, { content?: object }>;
    };
    expect(pay.parameters.map((p) => p.name)).toContain('Idempotency-Key');
    expect(Object.keys(pay.responses['422']?.content ?? {})).toEqual(['application/problem+json']);
  });

  type Response = { description: string; headers?: Record<string, { $ref: string }>; content?: object };
  type Op = { operationId: string; responses: Record<string, Response> };
  const ops = (): { method: string; path: string; op: Op }[] =>
    Object.entries(doc.paths as Record<string, Record<string, Op>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ method, path, op })),
    );
  const headerNames = (r: Response | undefined) => Object.keys(r?.headers ?? {});

  it('serves a non-JSON body as its own media type (CSV statement, NDJSON recording)', () => {
    const paths = doc.paths as Record<string, Record<string, Op>>;
    expect(paths['/v1/statements/{date}/file']?.get?.responses['200']?.content).toEqual({
      'text/csv': { schema: { type: 'string' } },
    });
    expect(paths['/admin/recording']?.get?.responses['200']?.content).toEqual({
      'application/x-ndjson': { schema: { type: 'string' } },
    });
  });

  it('declares a 5XX problem and the headers the platform sends, on every operation', () => {
    const headers = (doc.components as { headers: Record<string, { schema: object }> }).headers;
    const wrong: string[] = [];
    for (const { method, path, op } of ops()) {
      const at = `${method} ${path}`;
      const server = op.responses['5XX'];
      if (server === undefined) wrong.push(`${at}: no 5XX`);
      expect(Object.keys(server?.content ?? {}), at).toEqual(['application/problem+json']);
      expect(headerNames(server), at).toEqual(['X-Request-Id', 'Retry-After']);
      for (const [status, r] of Object.entries(op.responses)) {
        const names = headerNames(r);
        if (!names.includes('X-Request-Id')) wrong.push(`${at} ${status}: no X-Request-Id`);
        if (status === '401' && !(names.includes('WWW-Authenticate') && names.includes('Accept-Signature')))
          wrong.push(`${at} 401: no challenge`);
        if (status === '429' && !names.includes('Retry-After')) wrong.push(`${at} 429: no Retry-After`);
        const replayable = method === 'post' && !path.startsWith('/admin') && /^[234]/.test(status);
        if (replayable !== names.includes('Idempotent-Replayed'))
          wrong.push(`${at} ${status}: Idempotent-Replayed ${!replayable}`);
        for (const h of Object.values(r.headers ?? {})) {
          const name = h.$ref.replace('#/components/headers/', '');
          if (headers[name]?.schema === undefined) wrong.push(`${at} ${status}: ${h.$ref} unresolved`);
        }
      }
      if (op.responses['405'] !== undefined) wrong.push(`${at}: 405 on an operation`);
    }
    expect(wrong).toEqual([]);
    // 405 comes from no operation: declared once, with Allow
    const m = (doc.components as { responses: Record<string, Response> }).responses.MethodNotAllowed;
    expect(headerNames(m)).toEqual(['Allow', 'X-Request-Id']);
    expect(Object.keys(m?.content ?? {})).toEqual(['application/problem+json']);
  });

  it('lists the problem codes the platform answers, the token format ones included', () => {
    const codes = doc['x-problem-codes'] as { code: string; status: number[]; description: string }[];
    const byCode = new Map(codes.map((c) => [c.code, c]));
    expect(byCode.size).toBe(codes.length);
    expect(codes.map((c) => c.code)).toEqual([...ERROR_CODES]);
    expect(byCode.get('ERR_OCCURRED_AT')?.status).toEqual([422]);
    expect(byCode.get('ERR_METHOD_NOT_ALLOWED')?.status).toEqual([405]);
    // every token-format code a scanned code's verification can stop at, with 422
    const notFromVerification = ['ERR_INPUT_TYPE', 'ERR_ROLLBACK', 'ERR_UNKNOWN_CARD'];
    expect([...TOKEN_FORMAT_PROBLEM_CODES]).toEqual(
      CAMPUS_CARD_ERROR_CODES.filter((c) => !notFromVerification.includes(c)),
    );
    for (const c of ['ERR_PRESENTATION_TOO_OLD', 'ERR_SIGNATURE_INVALID', 'ERR_REVOKED', 'ERR_QR_PREFIX'])
      expect(TOKEN_FORMAT_PROBLEM_CODES).toContain(c);
    for (const c of TOKEN_FORMAT_PROBLEM_CODES) {
      expect(byCode.get(c)?.status, c).toEqual([422]);
      expect(byCode.get(c)?.description, c).toContain("token format's own verification code");
    }
    // ERR_UNKNOWN_CARD keeps the platform's meaning (no card matches)
    expect(byCode.get('ERR_UNKNOWN_CARD')?.description).toMatch(/^No card matches/);
    expect(byCode.get('ERR_CODE_INVALID')?.description).toContain('no more precise token-format code');
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});
