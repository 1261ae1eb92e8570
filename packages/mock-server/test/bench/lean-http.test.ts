import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeanPool } from '../../bench/lib/lean-http.js';

// The server bench's load-generator client, against node's own HTTP server.
let server: Server;
let url: string;
const sockets = new Set<string>();

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(`${req.socket.remotePort}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      switch (req.url) {
        case '/echo':
          res.writeHead(201, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
          return;
        case '/chunked':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('one,');
          setTimeout(() => res.end('two'), 5);
          return;
        case '/close':
          res.writeHead(200, { connection: 'close', 'content-length': 2 });
          res.end('ok');
          return;
        case '/no-content':
          res.writeHead(204);
          res.end();
          return;
        case '/headers':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, headers: req.headers }));
          return;
        default:
          req.socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('createLeanPool', () => {
  it('sends method, path, headers and body, and reads a Content-Length body', async () => {
    const pool = createLeanPool(url, 2);
    const body = new TextEncoder().encode(JSON.stringify({ amount: 1, name: '食堂' }));
    const r = await pool.request({ method: 'POST', path: '/echo', headers: { 'x-a': 'b' }, body });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body.toString())).toEqual({ amount: 1, name: '食堂' });
    const h = await pool.request({ method: 'GET', path: '/headers', headers: { 'idempotency-key': 'k1' } });
    const seen = JSON.parse(h.body.toString()) as { method: string; headers: Record<string, string> };
    expect(seen.method).toBe('GET');
    expect(seen.headers['idempotency-key']).toBe('k1');
    expect(seen.headers.host).toBe(url.slice('http://'.length));
    await pool.close();
  });

  it('reads chunked bodies and bodiless statuses', async () => {
    const pool = createLeanPool(url, 1);
    const r = await pool.request({ method: 'GET', path: '/chunked', headers: {} });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('one,two');
    const n = await pool.request({ method: 'GET', path: '/no-content', headers: {} });
    expect(n.status).toBe(204);
    expect(n.body.length).toBe(0);
    await pool.close();
  });

  it('keeps connections alive, at most the given number, and queues the rest', async () => {
    sockets.clear();
    const pool = createLeanPool(url, 3);
    const rs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        pool.request({ method: 'POST', path: '/echo', headers: {}, body: new TextEncoder().encode(`${i}`) }),
      ),
    );
    expect(rs.map((r) => r.body.toString())).toEqual(Array.from({ length: 30 }, (_, i) => `${i}`));
    expect(sockets.size).toBe(3);
    await pool.close();
  });

  it('opens a new connection after Connection: close, and rejects a request whose socket dies', async () => {
    const pool = createLeanPool(url, 1);
    expect((await pool.request({ method: 'GET', path: '/close', headers: {} })).body.toString()).toBe('ok');
    expect((await pool.request({ method: 'GET', path: '/close', headers: {} })).status).toBe(200);
    await expect(pool.request({ method: 'GET', path: '/hang-up', headers: {} })).rejects.toThrow(
      /closed|reset/,
    );
    // the pool goes on with a fresh connection
    expect((await pool.request({ method: 'GET', path: '/no-content', headers: {} })).status).toBe(204);
    await pool.close();
    await expect(pool.request({ method: 'GET', path: '/no-content', headers: {} })).rejects.toThrow(
      'pool closed',
    );
  });
});
