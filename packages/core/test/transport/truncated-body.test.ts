import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { ConnectionError, createTransport } from '../../src/transport.js';
import { makeJwk } from './helpers.js';

const jwk = makeJwk('ed25519');

describe('a body that stops half-way, against a real server', () => {
  it('is no result: a keyed POST is retried with the same key, an unkeyed one fails with ConnectionError', async () => {
    const keys: (string | undefined)[] = [];
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        keys.push(req.headers['idempotency-key'] as string | undefined);
        const full = JSON.stringify({ id: 'pay_1', status: 'success', amount: 250 });
        if (n++ % 2 === 0) {
          // Content-Length promises the whole body; half of it comes, then the connection drops
          res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(full.length) });
          res.write(full.slice(0, 10));
          setTimeout(() => res.socket?.destroy(), 20);
        } else {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(full);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
    const delays: number[] = [];
    const t = createTransport({
      baseUrl: url,
      keyId: 'pos-1',
      privateKey: jwk,
      dispatcher,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    try {
      const ok = await t.request({ method: 'POST', path: '/v1/payments', body: { amount: 250 } });
      expect(ok.body).toEqual({ id: 'pay_1', status: 'success', amount: 250 });
      expect(keys).toHaveLength(2);
      expect(keys[0]).toBeTruthy();
      expect(keys[1]).toBe(keys[0]);
      expect(delays).toHaveLength(1);

      const e = await t
        .request({ method: 'POST', path: '/v1/payments', body: { amount: 250 }, idempotencyKey: null })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e).toMatchObject({ code: 'ERR_CONNECTION' });
      expect(keys).toHaveLength(3);
      expect(delays).toHaveLength(1);
    } finally {
      await dispatcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a request undici refuses to send', () => {
  it('a header value with CR/LF is a TypeError at once, not a retried ERR_CONNECTION', async () => {
    const dispatcher = new Agent();
    const delays: number[] = [];
    const t = createTransport({
      baseUrl: 'http://127.0.0.1:9',
      keyId: 'pos-1',
      privateKey: jwk,
      dispatcher,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    try {
      const e = await t
        .request({ method: 'GET', path: '/v1/x', headers: { 'x-note': 'a\r\nx-injected: 1' } })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TypeError);
      expect(delays).toEqual([]);
    } finally {
      await dispatcher.close();
    }
  });
});
