import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CampusCardApiError,
  createTransport,
  errorFromResponse,
  type TransportOptions,
} from '../../src/transport.js';
import { makeJwk } from './helpers.js';

const ORIGIN = 'https://api.campus.test';
const JSON_HEADERS = { 'content-type': 'application/json' };
const jwk = makeJwk('ed25519');

let agent: MockAgent;
let delays: number[];
let keys: (string | undefined)[];

function transport(overrides: Partial<TransportOptions> = {}) {
  return createTransport({
    baseUrl: ORIGIN,
    keyId: 'pos-1',
    privateKey: jwk,
    dispatcher: agent,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      delays.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
    ...overrides,
  });
}

function keyOf(opts: { headers?: unknown }): string | undefined {
  return (opts.headers as Record<string, string> | undefined)?.['idempotency-key'];
}

const problem = {
  type: 'about:blank',
  title: 'Insufficient funds',
  status: 422,
  code: 'ERR_INSUFFICIENT_FUNDS',
  retryable: false,
  request_id: 'req_p',
};

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  delays = [];
  keys = [];
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});

describe('answers that are not results', () => {
  it('a 2xx carrying problem+json is ERR_RESPONSE_INVALID, not a result (RFC 9457 §3), with or without a schema', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(200, problem, { headers: { 'content-type': 'application/problem+json; charset=utf-8' } });
    pool
      .intercept({ path: '/v1/material', method: 'GET' })
      .reply(200, problem, { headers: { 'content-type': 'application/problem+json' } });
    const t = transport();
    await expect(
      t.request({ method: 'POST', path: '/v1/payments', body: { amount: 1 } }),
    ).rejects.toMatchObject({
      code: 'ERR_RESPONSE_INVALID',
      status: 200,
    });
    await expect(
      t.request({ method: 'GET', path: '/v1/material', responseType: 'bytes' }),
    ).rejects.toMatchObject({ code: 'ERR_RESPONSE_INVALID', status: 200 });
    expect(delays).toEqual([]);
  });

  it("a 3xx redirect with responseType 'bytes' is ERR_RESPONSE_INVALID, not the material; a 304 still resolves", async () => {
    const pool = agent.get(ORIGIN);
    for (const status of [301, 302, 307]) {
      pool
        .intercept({ path: '/v1/tl', method: 'GET' })
        .reply(status, '<html>Log in to the guest Wi-Fi</html>', {
          headers: { location: 'http://portal.example/login', 'content-type': 'text/html' },
        });
    }
    pool.intercept({ path: '/v1/tl', method: 'GET' }).reply(304, '', { headers: { etag: '"v1"' } });
    const t = transport();
    for (const status of [301, 302, 307]) {
      const e = await t
        .request({ method: 'GET', path: '/v1/tl', responseType: 'bytes' })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CampusCardApiError);
      expect(e).toMatchObject({ code: 'ERR_RESPONSE_INVALID', status });
    }
    const ok = await t.request<Uint8Array>({
      method: 'GET',
      path: '/v1/tl',
      responseType: 'bytes',
      headers: { 'if-none-match': '"v1"' },
    });
    expect(ok.status).toBe(304);
    expect(ok.body.length).toBe(0);
  });
});

describe('idempotency keys', () => {
  it('refuses an empty, blank, over-long or non-ASCII key before sending: it would be retried as keyed while the server sees none', async () => {
    const t = transport();
    for (const idempotencyKey of ['', '   ', 'a'.repeat(256), 'pay:\u8ba2\u5355', 'a\r\nb']) {
      await expect(
        t.request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey }),
      ).rejects.toBeInstanceOf(TypeError);
    }
    await expect(
      t.request({ method: 'POST', path: '/v1/payments', body: {}, headers: { 'Idempotency-Key': '' } }),
    ).rejects.toBeInstanceOf(TypeError);
    // nothing was sent (assertNoPendingInterceptors has none to find, and no intercept matched)
    expect(delays).toEqual([]);
  });

  it('accepts a 255-character key and sends it as given', async () => {
    const key = `pay:${'x'.repeat(251)}`;
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply((opts) => {
        keys.push(keyOf(opts));
        return { statusCode: 201, data: { id: 'p1' }, responseOptions: { headers: JSON_HEADERS } };
      });
    await transport().request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey: key });
    expect(keys).toEqual([key]);
  });
});

describe('408 and 425', () => {
  it('retries a keyed POST after 408 and 425 with the same key (the request was not acted on)', async () => {
    const pool = agent.get(ORIGIN);
    for (const status of [408, 425]) {
      pool.intercept({ path: '/v1/payments', method: 'POST' }).reply((opts) => {
        keys.push(keyOf(opts));
        return { statusCode: status, data: '' };
      });
    }
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply((opts) => {
      keys.push(keyOf(opts));
      return { statusCode: 201, data: { id: 'p1' }, responseOptions: { headers: JSON_HEADERS } };
    });
    const res = await transport().request({ method: 'POST', path: '/v1/payments', body: { amount: 1 } });
    expect(res.status).toBe(201);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBeTruthy();
    expect(delays).toHaveLength(2);
  });

  it('never retries a 408 for a POST without a key; the error says retryable', async () => {
    agent.get(ORIGIN).intercept({ path: '/v1/payments', method: 'POST' }).reply(408, '');
    const e = await transport()
      .request({ method: 'POST', path: '/v1/payments', body: {}, idempotencyKey: null })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_HTTP_408', status: 408 });
    expect(delays).toEqual([]);
    expect(errorFromResponse(408, {}, undefined).retryable).toBe(true);
    expect(errorFromResponse(425, {}, undefined).retryable).toBe(true);
    expect(errorFromResponse(404, {}, undefined).retryable).toBe(false);
  });
});

describe('Retry-After', () => {
  it('a Retry-After of 0, a past date, negative or garbage waits the backoff: no burst of immediate retries', async () => {
    const pool = agent.get(ORIGIN);
    for (const ra of ['0', 'Thu, 01 Jan 1970 00:00:00 GMT', '-5', 'soon']) {
      pool.intercept({ path: '/v1/x', method: 'GET' }).reply(503, '', { headers: { 'retry-after': ra } });
    }
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(200, {}, { headers: JSON_HEADERS });
    await transport({ retryBaseMs: 200, retryMaxMs: 5000 }).request({ method: 'GET', path: '/v1/x' });
    // equal jitter with random 0.5: 3/4 of 200·2^(n-1)
    expect(delays).toEqual([150, 300, 600, 1200]);
  });

  it('a Retry-After longer than the backoff is waited in full; one over maxRetryAfterMs ends retrying', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/x', method: 'GET' }).reply(503, '', { headers: { 'retry-after': '2' } });
    pool
      .intercept({ path: '/v1/x', method: 'GET' })
      .reply(503, '', { headers: { 'retry-after': '99999999999999999999' } });
    const e = await transport()
      .request({ method: 'GET', path: '/v1/x' })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_HTTP_503' });
    expect(delays).toEqual([2000]);
  });
});

describe('timer bounds', () => {
  it('refuses timeouts and backoff bounds setTimeout cannot hold (they would fire at once, a hot retry loop)', () => {
    const huge = 2 ** 31;
    expect(() => transport({ requestTimeoutMs: huge })).toThrow(RangeError);
    expect(() => transport({ connectTimeoutMs: huge })).toThrow(RangeError);
    expect(() => transport({ retryMaxMs: huge })).toThrow(RangeError);
    expect(() => transport({ retryBaseMs: huge })).toThrow(RangeError);
    expect(() => transport({ maxRetryAfterMs: huge })).toThrow(RangeError);
    expect(() => transport({ requestTimeoutMs: 2 ** 31 - 1, retryMaxMs: 2 ** 31 - 1 })).not.toThrow();
  });
});
