/**
 * The HTTP edge over a real socket: requests node's parser refuses, requests that arrive while the
 * platform closes, bodies that are not UTF-8, methods a path does not take, bodies a route does not
 * take, and the challenge of a 401. Each is answered as problem+json and recorded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import { describe, expect, it } from 'vitest';
import { REQUEST_TIMEOUT_MS } from '../src/app.js';
import { createClock, type RunningMockPlatform, startMockPlatform } from '../src/index.js';
import { operator, T0 } from './helpers.js';

const start = () => startMockPlatform({ demo: true, clock: createClock({ start: T0, frozen: true }) });

/** Writes `parts` on a fresh connection and resolves with all it got back once the server closed it. */
function raw(port: number, parts: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 5000);
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    s.on('error', () => undefined);
    s.on('connect', () => {
      for (const p of parts) s.write(p);
    });
  });
}

/** Status, lower-cased headers and parsed body of the first response in `text`. */
function parse(text: string): {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
} {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = rest.join('\r\n\r\n');
  return { status: Number(statusLine.split(' ')[1]), headers, body: body === '' ? {} : JSON.parse(body) };
}

function expectProblem(text: string, status: number, code: string): ReturnType<typeof parse> {
  const r = parse(text);
  expect(r.status, text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ status, code, request_id: r.headers['x-request-id'] });
  return r;
}

const lastRecorded = (server: RunningMockPlatform) => server.platform.recorder.entries.at(-1);

describe('requests node refuses to parse', () => {
  it('bad syntax, an unknown method, conflicting lengths, oversized headers: problem+json, recorded, connection closed', async () => {
    await using server = await start();
    const cases: [string, number, string | null][] = [
      ['FOO /health HTTP/1.1\r\nhost: x\r\n\r\n', 400, null],
      [`GET /health HTTP/1.1\r\nhost: x\r\nx-a: ${'a'.repeat(20_000)}\r\n\r\n`, 431, null],
      [
        'POST /admin/clock HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
        400,
        null,
      ],
      ['GET /health HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n', 400, null],
    ];
    for (const [request, status] of cases) {
      const before = server.platform.recorder.entries.length;
      const text = await raw(server.port, [request]);
      const r = expectProblem(text, status, 'ERR_MALFORMED_HTTP');
      expect(r.headers.connection).toBe('close');
      expect(server.platform.recorder.entries.length).toBe(before + 1);
      expect(lastRecorded(server)).toMatchObject({
        kind: 'request',
        status,
        request_id: r.headers['x-request-id'],
        operation_id: null,
      });
    }
    // the server goes on serving
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('a request that does not arrive in time: 408, retryable', async () => {
    await using server = await start();
    // node checks the timeout every 30 s: the handler is driven directly, on a real connection
    expect(server.platform.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    const got = new Promise<string>((resolve) => {
      server.platform.app.server.once('connection', (socket: Socket) => {
        setImmediate(() =>
          server.platform.app.server.emit(
            'clientError',
            Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
            socket,
          ),
        );
      });
      void raw(server.port, [
        'POST /v1/payments HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"a":',
      ]).then(resolve);
    });
    const r = expectProblem(await got, 408, 'ERR_MALFORMED_HTTP');
    expect(r.body.retryable).toBe(true);
    expect(r.headers['retry-after']).toBe('1');
  });
});

describe('closing', () => {
  it('a request that arrives while closing gets a recorded, retryable 503 problem and its connection closed', async () => {
    const server = await start();
    const p = server.platform;
    const b = connect(server.port, '127.0.0.1');
    let got = '';
    b.on('data', (d) => {
      got += d;
    });
    const closed = new Promise((r) => b.on('close', r));
    await new Promise((r) => b.once('connect', r));
    b.write('GET /health HTTP/1.1\r\nhost: x\r\n'); // busy, so not closed as idle
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 20));
    b.write('\r\n');
    await closing;
    await closed;
    const r = expectProblem(got, 503, 'ERR_INTERNAL');
    expect(r.body.retryable).toBe(true);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers.connection).toBe('close');
    expect(p.recorder.entries.at(-1)).toMatchObject({
      status: 503,
      url: '/health',
      request_id: r.body.request_id,
    });
  });
});

describe('bodies', () => {
  /** Signs `body` as the operator and sends it as POST /v1/people. */
  async function createPerson(server: RunningMockPlatform, body: Buffer) {
    const p = server.platform;
    const op = operator(p);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    };
    Object.assign(
      headers,
      signRequest(
        { method: 'POST', url: 'http://localhost/v1/people', headers, body: new Uint8Array(body) },
        {
          keyId: op.id,
          key: importSigningKey(op.jwk as never),
          created: p.clock.nowSeconds(),
          nonce: randomBytes(12).toString('base64url'),
          components: ['@method', '@path', 'content-digest'],
        },
      ),
    );
    return fetch(`${server.url}/v1/people`, { method: 'POST', headers, body: new Uint8Array(body) });
  }
  const person = (id: string, nameJson: Buffer) =>
    Buffer.concat([
      Buffer.from(`{"person_id":"${id}","school_id":"sch-demo","kind":"student","name":`),
      nameJson,
      Buffer.from('}'),
    ]);
  const row = (server: RunningMockPlatform, id: string) =>
    server.platform.state.db.prepare('SELECT name FROM people WHERE person_id = ?').get(id);

  it('bytes that are not UTF-8, and escaped lone surrogates, are 400 ERR_MALFORMED_JSON and store nothing', async () => {
    await using server = await start();
    const bad: [string, Buffer][] = [
      ['s-bad-1', Buffer.concat([Buffer.from('"A'), Buffer.from([0xff, 0xfe]), Buffer.from('"')])],
      ['s-bad-2', Buffer.concat([Buffer.from('"A'), Buffer.from([0xc3]), Buffer.from('"')])], // cut short
      ['s-bad-3', Buffer.from('"A\\ud800"')],
      ['s-bad-4', Buffer.from('"A\\uDFFF\\uD83D"')],
    ];
    for (const [id, name] of bad) {
      const res = await createPerson(server, person(id, name));
      expect(res.status, id).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'ERR_MALFORMED_JSON' });
      expect(row(server, id)).toBeUndefined();
    }
    // a pair, escaped or as bytes, is text: accepted as sent
    for (const [id, name] of [
      ['s-ok-1', Buffer.from('"A\\ud83d\\ude00"')],
      ['s-ok-2', Buffer.from('"A😀"')],
    ] as const) {
      const res = await createPerson(server, person(id, name));
      expect(res.status, id).toBe(201);
      expect(row(server, id)).toEqual({ name: 'A😀' });
    }
  });

  it('a route that takes no body refuses one, and changes nothing', async () => {
    await using server = await start();
    const p = server.platform;
    p.state.faults.set([{ kind: 'delay', route: 'getPerson', delay_ms: 1, count: 5 }], 1);
    const res = await fetch(`${server.url}/admin/faults`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: '{"unknown_field":true}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
    expect(p.state.faults.rules()).toHaveLength(1);
    expect((await fetch(`${server.url}/admin/faults`, { method: 'DELETE' })).status).toBe(200);
    expect(p.state.faults.rules()).toHaveLength(0);
  });

  it("a refusal while reading the body (415, 400) is recorded with the route's operation", async () => {
    await using server = await start();
    const url = `${server.url}/v1/wallets/s-002/top-ups`;
    await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    const entries = server.platform.recorder.entries.filter((e) => e.url === '/v1/wallets/s-002/top-ups');
    expect(entries.map((e) => [e.status, e.operation_id])).toEqual([
      [415, 'topUpWallet'],
      [400, 'topUpWallet'],
    ]);
  });
});

describe('methods and challenges', () => {
  it('a path of the contract with another method: 405 with Allow; an unknown path: 404', async () => {
    await using server = await start();
    for (const [method, path, allow] of [
      ['PUT', '/v1/payments', 'POST'],
      ['DELETE', '/v1/payments', 'POST'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['PATCH', '/v1/payments/OUT-1', 'GET, HEAD'],
      ['PUT', '/admin/faults', 'POST, DELETE'],
    ] as const) {
      const res = await fetch(`${server.url}${path}?x=1`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.json()).toMatchObject({ code: 'ERR_METHOD_NOT_ALLOWED' });
    }
    for (const path of ['/v1/paymentsX', '/v1/payments/a/b/c', '/nowhere']) {
      const res = await fetch(`${server.url}${path}`, { method: 'PUT' });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ code: 'ERR_NOT_FOUND' });
    }
  });

  it('a 401 carries WWW-Authenticate and Accept-Signature naming what to cover', async () => {
    await using server = await start();
    const get = await fetch(`${server.url}/v1/wallets/s-001`);
    expect(get.status).toBe(401);
    expect(get.headers.get('www-authenticate')).toBe('Signature realm="campus-card"');
    expect(get.headers.get('accept-signature')).toBe('sig1=("@method" "@path");created;keyid;nonce');
    const post = await fetch(`${server.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: '{}',
    });
    expect(post.status).toBe(401);
    expect(post.headers.get('accept-signature')).toBe(
      'sig1=("@method" "@path" "content-digest");created;keyid;nonce',
    );
  });
});
