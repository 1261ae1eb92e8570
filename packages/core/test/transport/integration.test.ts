/**
 * The transport against a real node:http server on port 0 that verifies every signature, and the
 * push receivers fed by a real platform-style push.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importSigningKey, importVerifyKey, signPush, verifyRequest } from '../../src/http.js';
import {
  createTransport,
  verifyPushFromNodeRequest,
  verifyPushFromRawBody,
  verifyPushFromWebRequest,
} from '../../src/transport.js';
import { makeJwk, publicOf } from './helpers.js';

const deviceJwk = makeJwk('ed25519');
const deviceKey = importVerifyKey(publicOf(deviceJwk));
const platformJwk = makeJwk('ecdsa-p256-sha256');
const platformKeys = { 'platform-1': publicOf(platformJwk) };

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

let server: Server;
let baseUrl: string;
const nonces = new Set<string>();
const log: Array<{ path: string; result: string; body: string; idem: string | undefined }> = [];
let pushResults: string[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.url?.startsWith('/hooks')) {
      const r = await verifyPushFromNodeRequest(req, body, { platformKeys });
      pushResults.push(r.ok ? `ok:${r.pushId}` : r.code);
      res.writeHead(r.ok ? 204 : 401).end();
      return;
    }
    const r = await verifyRequest(
      { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body },
      {
        keyLookup: (kid) => (kid === 'gate-7' ? deviceKey : undefined),
        now: Date.now(),
        nonceStore: (nonce) => !nonces.has(nonce) && Boolean(nonces.add(nonce)),
      },
    );
    log.push({
      path: req.url ?? '',
      result: r.ok ? 'ok' : r.code,
      body: new TextDecoder().decode(body),
      idem: req.headers['idempotency-key'] as string | undefined,
    });
    if (!r.ok) {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          code: r.code,
          retryable: false,
          request_id: 'r',
        }),
      );
      return;
    }
    const first =
      log.filter((l) => l.idem !== undefined && l.idem === req.headers['idempotency-key']).length === 1;
    if (req.method === 'POST' && first) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_int' });
    res.end(JSON.stringify({ method: req.method, url: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('transport ↔ node:http server verifying RFC 9421 signatures', () => {
  it('GET and POST (with a 503 retry) verify, with fresh nonces per attempt', async () => {
    const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const t = createTransport({
      baseUrl,
      keyId: 'gate-7',
      privateKey: deviceJwk,
      dispatcher,
      retryBaseMs: 1,
      retryMaxMs: 5,
    });
    try {
      const got = await t.request<{ url: string }>({
        method: 'GET',
        path: '/v1/gates/g%201/state',
        query: { q: 'a b&c' },
      });
      expect(got).toMatchObject({ status: 200, requestId: 'req_int' });
      expect(got.body.url).toBe('/v1/gates/g%201/state?q=a+b%26c');
      const posted = await t.request({ method: 'POST', path: '/v1/entries', body: { card: 'ü-1', n: 1 } });
      expect(posted.status).toBe(200);
    } finally {
      await dispatcher.close();
    }
    expect(log.map((l) => l.result)).toEqual(['ok', 'ok', 'ok']);
    expect(log[1]?.idem).toBeDefined();
    expect(log[2]?.idem).toBe(log[1]?.idem);
    expect(log[2]?.body).toBe('{"card":"ü-1","n":1}');
  });

  it('uses its own Agent when no dispatcher is given, and closes it', async () => {
    const t = createTransport({ baseUrl, keyId: 'gate-7', privateKey: deviceJwk });
    await expect(t.request({ method: 'GET', path: '/v1/ping' })).resolves.toMatchObject({ status: 200 });
    await t.close();
  });

  it('the server rejects an unknown device key with a problem the transport maps', async () => {
    const t = createTransport({ baseUrl, keyId: 'gate-unknown', privateKey: deviceJwk });
    await expect(t.request({ method: 'GET', path: '/v1/ping' })).rejects.toMatchObject({
      name: 'AuthenticationError',
      code: 'ERR_SIG_UNKNOWN_KEY',
    });
    await t.close();
  });
});

describe('response size limit against a real server', () => {
  it('cuts off an endless chunked body at maxResponseBytes with ERR_RESPONSE_TOO_LARGE', async () => {
    let sent = 0;
    let closed: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // no content-length: chunked
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && sent < 1024 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', closed);
      pump();
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const t = createTransport({ baseUrl: url, keyId: 'gate-7', privateKey: deviceJwk, dispatcher });
    try {
      const e = await t.request({ method: 'GET', path: '/v1/huge' }).catch((x: unknown) => x);
      expect(e).toMatchObject({ name: 'CampusCardApiError', code: 'ERR_RESPONSE_TOO_LARGE', status: 200 });
      await gone; // the client hung up: the server stopped writing
      expect(sent).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await dispatcher.close();
      endless.closeAllConnections();
      await new Promise<void>((resolve) => endless.close(() => resolve()));
    }
  });
});

describe('push receivers', () => {
  const body = new TextEncoder().encode('{"event":"card.revoked","card":"c_1"}');
  const sign = (url: string, created = Math.floor(Date.now() / 1000)) =>
    signPush({
      url,
      body,
      pushId: 'push_1',
      keyId: 'platform-1',
      key: importSigningKey(platformJwk),
      created,
      nonce: crypto.randomUUID(),
      headers: { 'content-type': 'application/json' },
    });

  it('verifyPushFromNodeRequest accepts a real push and rejects a tampered one', async () => {
    pushResults = [];
    const url = `${baseUrl}/hooks/campus?v=1`;
    const headers = sign(url);
    const send = (b: Uint8Array) =>
      request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: b });
    expect((await send(body)).statusCode).toBe(204);
    const tampered = body.slice();
    tampered[3] = 0x41;
    expect((await send(tampered)).statusCode).toBe(401);
    expect(pushResults).toEqual(['ok:push_1', 'ERR_DIGEST_MISMATCH']);
  });

  it('verifyPushFromWebRequest and verifyPushFromRawBody', async () => {
    const url = 'https://vendor.example/hooks/campus';
    const headers = sign(url);
    const webReq = new Request(url, { method: 'POST', headers: { ...headers }, body });
    await expect(verifyPushFromWebRequest(webReq, { platformKeys })).resolves.toMatchObject({
      ok: true,
      pushId: 'push_1',
    });
    expect(await webReq.text()).toContain('card.revoked'); // still readable
    const raw = {
      method: 'POST',
      url: '/hooks/campus',
      headers: { ...headers, host: 'vendor.example' },
      rawBody: body,
    };
    await expect(verifyPushFromRawBody(raw, { platformKeys })).resolves.toMatchObject({ ok: true });
    await expect(
      verifyPushFromRawBody({ ...raw, headers: { ...raw.headers, 'push-id': 'push_2' } }, { platformKeys }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    await expect(
      verifyPushFromRawBody(raw, { platformKeys, now: () => Date.now() + 301_000 }),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_EXPIRED' });
    await expect(
      verifyPushFromRawBody(raw, { platformKeys: { other: publicOf(platformJwk) } }),
    ).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_UNKNOWN_KEY',
    });
    const seen = new Set<string>();
    const nonceStore = (n: string) => !seen.has(n) && Boolean(seen.add(n));
    await expect(verifyPushFromRawBody(raw, { platformKeys, nonceStore })).resolves.toMatchObject({
      ok: true,
    });
    await expect(verifyPushFromRawBody(raw, { platformKeys, nonceStore })).resolves.toMatchObject({
      ok: false,
      code: 'ERR_SIG_NONCE_REPLAYED',
    });
  });
});

describe('bodiless answers against a real server', () => {
  it('a HEAD declaring a large Content-Length is not "too large" (RFC 9110 §8.6, §9.3.2)', async () => {
    // the Content-Length of an answer to HEAD is that of the representation a GET would send:
    // no body follows, so there is nothing over maxResponseBytes to refuse
    const head = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
      res.end();
    });
    await new Promise<void>((resolve) => head.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(head.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const t = createTransport({ baseUrl: url, keyId: 'gate-7', privateKey: deviceJwk, dispatcher });
    try {
      await expect(t.request({ method: 'HEAD', path: '/v1/material' })).resolves.toMatchObject({
        status: 200,
        body: undefined,
      });
    } finally {
      await dispatcher.close();
      head.closeAllConnections();
      await new Promise<void>((resolve) => head.close(() => resolve()));
    }
  });
});

describe('caller headers against a real server', () => {
  it('a caller header in any case replaces the transport default, and its Idempotency-Key is the key (RFC 9110 §5.1)', async () => {
    // field names are case-insensitive (RFC 9110 §5.1): `Idempotency-Key` and `idempotency-key`
    // are one field, so the server must not receive the caller's key joined with a random one
    const received: Array<Record<string, string | string[] | undefined>> = [];
    const echo = createServer((req, res) => {
      received.push(req.headers);
      if (received.length === 1) res.writeHead(503, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const t = createTransport({
      baseUrl: url,
      keyId: 'gate-7',
      privateKey: deviceJwk,
      dispatcher,
      retryBaseMs: 1,
      headers: { 'User-Agent': 'campus-gate/1.0', Accept: 'application/json' },
    });
    try {
      await t.request({
        method: 'POST',
        path: '/v1/orders',
        body: { amount: 1 },
        headers: { 'Idempotency-Key': 'order-42', 'Content-Type': 'application/merge-patch+json' },
      });
      expect(received).toHaveLength(2); // the 503 was retried: the request carried a key
      for (const h of received) {
        expect(h['idempotency-key']).toBe('order-42');
        expect(h['user-agent']).toBe('campus-gate/1.0');
        expect(h.accept).toBe('application/json');
        expect(h['content-type']).toBe('application/json'); // the body is JSON
      }
    } finally {
      await dispatcher.close();
      echo.closeAllConnections();
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    }
  });
});

describe('push receiver misuse', () => {
  it('a parsed body or missing keys reject the returned promise instead of throwing synchronously', async () => {
    // express.json() in place of express.raw() hands over an object: a `.catch()` on the promise
    // the helper returns must see that mistake
    const calls = [
      () =>
        verifyPushFromRawBody(
          { method: 'POST', url: '/hooks', headers: {}, rawBody: {} as Uint8Array },
          { platformKeys },
        ),
      () =>
        verifyPushFromRawBody({ method: 'POST', url: '/hooks', headers: {}, rawBody: new Uint8Array(1) }, {}),
    ];
    for (const call of calls) {
      let returned: Promise<unknown> | undefined;
      expect(() => {
        returned = call();
      }).not.toThrow();
      await expect(returned).rejects.toThrow(TypeError);
    }
  });
});
