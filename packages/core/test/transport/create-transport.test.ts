import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Wallet } from '../../src/api.js';
import { importVerifyKey, verifyRequest } from '../../src/http.js';
import {
  ApiServerError,
  AuthenticationError,
  CampusCardApiError,
  ConnectionError,
  createTransport,
  IdempotencyError,
  InvalidRequestError,
  RateLimitError,
  TimeoutError,
  type TransportOptions,
} from '../../src/transport.js';
import { makeJwk, publicOf } from './helpers.js';

const ORIGIN = 'https://api.campus.test';
const JSON_HEADERS = { 'content-type': 'application/json', 'request-id': 'req_1' };
const PROBLEM_HEADERS = { 'content-type': 'application/problem+json' };
const deviceJwk = makeJwk('ecdsa-p256-sha256');
const deviceKey = importVerifyKey(publicOf(deviceJwk));
const NOW = Date.UTC(2025, 0, 1);

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

let agent: MockAgent;
let delays: number[];
let seen: Seen[];

function capture(opts: { method: string; path: string; headers?: unknown; body?: unknown }): void {
  const body = opts.body instanceof Uint8Array ? opts.body : undefined;
  seen.push({ method: opts.method, path: opts.path, headers: opts.headers as Record<string, string>, body });
}

function transport(overrides: Partial<TransportOptions> = {}) {
  return createTransport({
    baseUrl: ORIGIN,
    keyId: 'pos-1',
    privateKey: deviceJwk,
    dispatcher: agent,
    now: () => NOW,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      delays.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
    ...overrides,
  });
}

function problem(status: number, code: string, retryable: boolean) {
  return {
    type: 'about:blank',
    title: 'Problem',
    status,
    code,
    retryable,
    request_id: 'req_p',
    detail: 'details',
  };
}

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  delays = [];
  seen = [];
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});

describe('createTransport', () => {
  it('refuses a path with a dot segment instead of sending it to another endpoint', async () => {
    const t = transport();
    for (const id of ['..', '.', '%2e%2E', '.%2e']) {
      await expect(t.request({ method: 'GET', path: `/v1/payments/${id}` })).rejects.toThrow(/dot segment/);
      await expect(t.request({ method: 'GET', path: `/v1/payments/${id}/refunds` })).rejects.toThrow(
        /dot segment/,
      );
    }
    // three dots, or dots inside a segment, are ordinary characters
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/...', method: 'GET' })
      .reply(200, { ok: 1 }, { headers: JSON_HEADERS });
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/a..b', method: 'GET' })
      .reply(200, { ok: 2 }, { headers: JSON_HEADERS });
    expect((await t.request({ method: 'GET', path: '/v1/payments/...' })).status).toBe(200);
    expect((await t.request({ method: 'GET', path: '/v1/payments/a..b' })).status).toBe(200);
    await t.close();
  });

  it('signs requests verifiably and returns the parsed body and request id', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/cards/a%2Fb?limit=5&tag=x&tag=y', method: 'GET' })
      .reply(
        200,
        (opts) => {
          capture(opts as never);
          return { ok: true };
        },
        { headers: JSON_HEADERS },
      );
    const res = await transport().request<{ ok: boolean }>({
      method: 'GET',
      path: `/v1/cards/${encodeURIComponent('a/b')}`,
      query: { limit: 5, tag: ['x', 'y'], skip: undefined },
    });
    expect(res).toMatchObject({ status: 200, body: { ok: true }, requestId: 'req_1' });
    const req = seen[0]!;
    expect(req.headers['idempotency-key']).toBeUndefined();
    expect(req.headers['signature-input']).toMatch(
      /^sig1=\("@method" "@path" "@query"\);created=1735689600;keyid="pos-1";alg="ecdsa-p256-sha256";nonce="/,
    );
    const verified = await verifyRequest(
      { method: req.method, url: ORIGIN + req.path, headers: req.headers },
      { keyLookup: (kid) => (kid === 'pos-1' ? deviceKey : undefined), now: NOW },
    );
    expect(verified).toMatchObject({ ok: true, keyId: 'pos-1' });
  });

  it('signs POST bodies with content-digest and reuses the idempotency key across a 503 then 200', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(
      503,
      (opts) => {
        capture(opts as never);
        return problem(503, 'ERR_UNAVAILABLE', true);
      },
      { headers: PROBLEM_HEADERS },
    );
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(
      201,
      (opts) => {
        capture(opts as never);
        return { id: 'pay_1' };
      },
      { headers: JSON_HEADERS },
    );
    const res = await transport().request({ method: 'POST', path: '/v1/payments', body: { amount: 250 } });
    expect(res.status).toBe(201);
    expect(seen).toHaveLength(2);
    const [first, second] = seen as [Seen, Seen];
    expect(first.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(second.headers['signature-input']).not.toBe(first.headers['signature-input']); // fresh nonce
    expect(first.headers['content-digest']).toMatch(/^sha-256=:/);
    expect(delays).toEqual([150]); // equal jitter, attempt 1: 100 + 100 * 0.5
    for (const req of seen) {
      const r = await verifyRequest(
        { method: req.method, url: ORIGIN + req.path, headers: req.headers, body: req.body },
        { keyLookup: () => deviceKey, now: NOW },
      );
      expect(r.ok).toBe(true);
    }
  });

  it('honours Retry-After on 429 (seconds and HTTP-date)', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(429, '', { headers: { 'retry-after': '3' } });
    pool
      .intercept({ path: '/v1/x', method: 'GET' })
      .reply(429, '', { headers: { 'retry-after': new Date(NOW + 7000).toUTCString() } });
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(200, {}, { headers: JSON_HEADERS });
    await transport().request({ method: 'GET', path: '/v1/x' });
    expect(delays).toEqual([3000, 7000]);
  });

  it('never replays a POST without an Idempotency-Key, not even on a 429 (RFC 9110 §9.2.2: POST is not idempotent)', async () => {
    // a 429 does not promise the request was not acted on (RFC 6585 §4 leaves that open); only a
    // key lets the platform tell a replay from a second payment
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(429, problem(429, 'ERR_RATE_LIMITED', true), {
        headers: { ...PROBLEM_HEADERS, 'retry-after': '1' },
      });
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: { amount: 250 }, idempotencyKey: null })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 1000 });
    expect(delays).toEqual([]);
  });

  it('gives up with RateLimitError when Retry-After exceeds maxRetryAfterMs', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/x', method: 'GET' })
      .reply(429, problem(429, 'ERR_RATE_LIMITED', true), {
        headers: { ...PROBLEM_HEADERS, 'retry-after': '120' },
      });
    const err = await transport()
      .request({ method: 'GET', path: '/v1/x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, code: 'ERR_RATE_LIMITED', retryAfterMs: 120_000 });
    expect(delays).toEqual([]);
  });

  it('does not retry 400 and maps the problem to typed error fields', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(
        422,
        { ...problem(422, 'ERR_VALIDATION', false), errors: [{ path: '/amount', message: 'must be > 0' }] },
        { headers: { ...PROBLEM_HEADERS, 'x-request-id': 'req_9' } },
      );
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: { amount: -1 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ status: 422, code: 'ERR_VALIDATION', requestId: 'req_9', retryable: false });
    expect((err as InvalidRequestError).problem?.errors).toEqual([
      { path: '/amount', message: 'must be > 0' },
    ]);
    expect(delays).toEqual([]);
  });

  it('maps non-problem error bodies to ERR_HTTP_<status>', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/x', method: 'GET' })
      .reply(401, 'nope', { headers: { 'content-type': 'text/plain' } });
    const err = await transport()
      .request({ method: 'GET', path: '/v1/x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ code: 'ERR_HTTP_401', status: 401, problem: undefined });
  });

  it('retries 409 ERR_IDEMPOTENCY_IN_PROGRESS but not other idempotency conflicts', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(409, problem(409, 'ERR_IDEMPOTENCY_IN_PROGRESS', true), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(409, problem(409, 'ERR_IDEMPOTENCY_KEY_REUSED', false), { headers: PROBLEM_HEADERS });
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey: 'k-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyError);
    expect(err).toMatchObject({ code: 'ERR_IDEMPOTENCY_KEY_REUSED' });
    expect(delays).toHaveLength(1);
  });

  it('retries a keyed request after any 4xx problem that says retryable: true (a 409 ERR_CONFLICT race), with the same key', async () => {
    const pool = agent.get(ORIGIN);
    const answer = (body: object) => (opts: unknown) => {
      capture(opts as never);
      return body;
    };
    pool
      .intercept({ path: '/v1/cards', method: 'POST' })
      .reply(409, answer(problem(409, 'ERR_CONFLICT', true)), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/cards', method: 'POST' })
      .reply(408, answer(problem(408, 'ERR_MALFORMED_HTTP', true)), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/cards', method: 'POST' })
      .reply(201, answer({ id: 'c-1' }), { headers: JSON_HEADERS });
    const res = await transport().request<{ id: string }>({ method: 'POST', path: '/v1/cards', body: {} });
    expect(res).toMatchObject({ status: 201, body: { id: 'c-1' } });
    expect(delays).toHaveLength(2);
    const keys = seen.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });

  it('does not retry a retryable 409 for a POST without a key, nor a 4xx problem without retryable: true', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/cards', method: 'POST' })
      .reply(409, problem(409, 'ERR_CONFLICT', true), { headers: PROBLEM_HEADERS });
    const unkeyed = await transport()
      .request({ method: 'POST', path: '/v1/cards', body: {}, idempotencyKey: null })
      .catch((e: unknown) => e);
    expect(unkeyed).toMatchObject({ status: 409, code: 'ERR_CONFLICT', retryable: true });
    pool
      .intercept({ path: '/v1/cards', method: 'GET' })
      .reply(409, problem(409, 'ERR_CONFLICT', false), { headers: PROBLEM_HEADERS });
    const vetoed = await transport()
      .request({ method: 'GET', path: '/v1/cards' })
      .catch((e: unknown) => e);
    expect(vetoed).toMatchObject({ status: 409, code: 'ERR_CONFLICT', retryable: false });
    pool
      .intercept({ path: '/v1/cards', method: 'GET' })
      .reply(409, { nope: true }, { headers: JSON_HEADERS });
    const bare = await transport()
      .request({ method: 'GET', path: '/v1/cards' })
      .catch((e: unknown) => e);
    expect(bare).toMatchObject({ status: 409 });
    expect(delays).toEqual([]);
  });

  it('never retries a POST without idempotency key after a connection error', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .replyWithError(new Error('ECONNRESET'));
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey: null })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'ERR_CONNECTION', status: undefined });
    expect(delays).toEqual([]);
  });

  it('retries keyed requests after connection errors, up to maxRetries', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .replyWithError(new Error('ECONNRESET'))
      .times(3);
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {}, maxRetries: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(delays).toEqual([150, 300]);
  });

  it('does not retry 5xx for an unkeyed POST, but exhausts retries for GET', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(500, '');
    const e1 = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey: null })
      .catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ApiServerError);
    expect(delays).toEqual([]);
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(502, '').times(5);
    const e2 = await transport()
      .request({ method: 'GET', path: '/v1/x' })
      .catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 'ERR_HTTP_502', retryable: true });
    expect(delays).toEqual([150, 300, 600, 1200]);
  });

  it('times out with TimeoutError', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/x', method: 'GET' }).reply(200, {}).delay(500);
    const err = await transport({ requestTimeoutMs: 20 })
      .request({ method: 'GET', path: '/v1/x', maxRetries: 0 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('rejects with the abort reason, also during the backoff sleep', async () => {
    const controller = new AbortController();
    agent.get(ORIGIN).intercept({ path: '/v1/x', method: 'GET' }).reply(503, '');
    const t = transport({
      sleep: async (_ms, signal) => {
        controller.abort(new Error('user abort'));
        if (signal?.aborted) throw signal.reason;
      },
    });
    await expect(t.request({ method: 'GET', path: '/v1/x', signal: controller.signal })).rejects.toThrow(
      'user abort',
    );
    await expect(t.request({ method: 'GET', path: '/v1/x', signal: controller.signal })).rejects.toThrow(
      'user abort',
    );
  });

  it('aborts an in-flight request', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/x', method: 'GET' }).reply(200, {}).delay(1000);
    const controller = new AbortController();
    const p = transport().request({ method: 'GET', path: '/v1/x', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 10);
    await expect(p).rejects.toThrow('stop');
  });

  it("returns raw bytes with responseType 'bytes', and a 304 with an empty body", async () => {
    const cbor = new Uint8Array([0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xff, 0x00, 0x80]);
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/tl', method: 'GET' })
      .reply(200, Buffer.from(cbor), { headers: { 'content-type': 'application/cbor', etag: '"v1"' } });
    pool.intercept({ path: '/v1/tl', method: 'GET', headers: { 'if-none-match': '"v1"' } }).reply(304, '');
    const t = transport();
    const first = await t.request<Uint8Array>({ method: 'GET', path: '/v1/tl', responseType: 'bytes' });
    expect(first.body).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(first.body).equals(Buffer.from(cbor))).toBe(true);
    expect(first.headers.etag).toBe('"v1"');
    const second = await t.request<Uint8Array>({
      method: 'GET',
      path: '/v1/tl',
      responseType: 'bytes',
      headers: { 'if-none-match': '"v1"' },
    });
    expect(second.status).toBe(304);
    expect(second.body.length).toBe(0);
  });

  it('rejects a 2xx that is not the expected JSON with ERR_RESPONSE_INVALID, carrying the status, not retried', async () => {
    const pool = agent.get(ORIGIN);
    const html = '<html><body>Please log in to the guest Wi-Fi</body></html>';
    pool
      .intercept({ path: '/v1/a', method: 'GET' })
      .reply(200, html, { headers: { 'content-type': 'text/html' } });
    pool.intercept({ path: '/v1/b', method: 'POST' }).reply(201, '', { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/c', method: 'POST' }).reply(201, '');
    pool
      .intercept({ path: '/v1/d', method: 'GET' })
      .reply(302, '', { headers: { location: 'http://portal.example/login' } });
    const t = transport();
    const errs = await Promise.all([
      t.request({ method: 'GET', path: '/v1/a' }).catch((e: unknown) => e),
      t.request({ method: 'POST', path: '/v1/b', body: {} }).catch((e: unknown) => e),
      t.request({ method: 'POST', path: '/v1/c', body: {} }).catch((e: unknown) => e),
      t.request({ method: 'GET', path: '/v1/d' }).catch((e: unknown) => e),
    ]);
    for (const e of errs) expect(e).toBeInstanceOf(CampusCardApiError);
    expect(errs).toMatchObject([
      { code: 'ERR_RESPONSE_INVALID', status: 200, retryable: false, requestId: undefined },
      { code: 'ERR_RESPONSE_INVALID', status: 201, requestId: 'req_1' },
      { code: 'ERR_RESPONSE_INVALID', status: 201 },
      { code: 'ERR_RESPONSE_INVALID', status: 302 },
    ]);
    expect(delays).toEqual([]);
  });

  it('rejects truncated JSON in a 2xx with ERR_RESPONSE_INVALID_JSON and its status', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, '{"order_id":"ord_1","sta', { headers: JSON_HEADERS });
    const err = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {} })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CampusCardApiError);
    expect(err).toMatchObject({ code: 'ERR_RESPONSE_INVALID_JSON', status: 201 });
  });

  it('gives 204 and 304 an undefined body', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/x', method: 'DELETE' }).reply(204, '');
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(304, '');
    const t = transport();
    expect(await t.request({ method: 'DELETE', path: '/v1/x' })).toMatchObject({
      status: 204,
      body: undefined,
    });
    expect(await t.request({ method: 'GET', path: '/v1/x' })).toMatchObject({ status: 304, body: undefined });
  });

  it('checks a body against the request schema, tolerating fields the schema does not name', async () => {
    const wallet = { person_id: 's-1', balance: 100, currency: 'CNY', updated_at: '2026-01-05T08:00:00Z' };
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/w', method: 'GET' })
      .reply(200, { ...wallet, tier: 'gold' }, { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/w', method: 'GET' }).reply(200, 'null', { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/w', method: 'GET' })
      .reply(200, { ...wallet, balance: '100' }, { headers: JSON_HEADERS });
    const t = transport();
    const ok = await t.request({ method: 'GET', path: '/v1/w', schema: Wallet });
    expect(ok.body).toMatchObject(wallet);
    await expect(t.request({ method: 'GET', path: '/v1/w', schema: Wallet })).rejects.toMatchObject({
      code: 'ERR_RESPONSE_INVALID',
      status: 200,
    });
    const e = await t.request({ method: 'GET', path: '/v1/w', schema: Wallet }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_RESPONSE_INVALID', message: expect.stringContaining('/balance') });
  });

  it('a 304 declaring a large Content-Length has no body to refuse (RFC 9110 §8.6, §15.4.5)', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/material', method: 'GET' })
      .reply(304, '', { headers: { etag: '"v1"', 'content-length': String(64 * 1024 * 1024) } });
    await expect(
      transport().request({ method: 'GET', path: '/v1/material', headers: { 'if-none-match': '"v1"' } }),
    ).resolves.toMatchObject({ status: 304, body: undefined });
  });

  it('refuses a 64 MiB body with ERR_RESPONSE_TOO_LARGE, declared or not, unless the request allows it', async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 0x20);
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/big', method: 'GET' })
      .reply(200, big, { headers: { ...JSON_HEADERS, 'content-length': String(big.length) } });
    pool.intercept({ path: '/v1/big', method: 'GET' }).reply(200, big, { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/big', method: 'GET' }).reply(500, big);
    const small = Buffer.from('{"ok":true}');
    pool.intercept({ path: '/v1/small', method: 'GET' }).reply(200, small, { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/small', method: 'GET' }).reply(200, small, { headers: JSON_HEADERS });
    const t = transport();
    for (let i = 0; i < 3; i++) {
      const e = await t.request({ method: 'GET', path: '/v1/big' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CampusCardApiError);
      expect(e).toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE', retryable: false });
    }
    expect(delays).toEqual([]); // not retried, not even the 500
    await expect(
      transport({ maxResponseBytes: 8 }).request({ method: 'GET', path: '/v1/small' }),
    ).rejects.toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE', status: 200 });
    const ok = await transport({ maxResponseBytes: 8 }).request({
      method: 'GET',
      path: '/v1/small',
      maxResponseBytes: 64,
    });
    expect(ok.body).toEqual({ ok: true });
  });

  it('validates options', () => {
    expect(() => transport({ maxResponseBytes: 0 })).toThrow(RangeError);
    expect(() => transport({ keyId: '' })).toThrow(TypeError);
    expect(() => transport({ alg: 'ed25519' })).toThrow(TypeError);
    expect(() => transport({ requestTimeoutMs: 0 })).toThrow(RangeError);
  });
});
