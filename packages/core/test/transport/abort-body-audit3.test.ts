import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createTransport } from '../../src/transport.js';
import { makeJwk } from './helpers.js';

const jwk = makeJwk('ed25519');

describe('abort while the body is read (audit 3)', () => {
  for (const framing of ['content-length', 'chunked'] as const) {
    it(`rejects with the signal's reason at once, ${framing}`, async () => {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, {
            'content-type': 'application/json',
            ...(framing === 'content-length' ? { 'content-length': '1000' } : {}),
          });
          res.write('{"a":'); // and then nothing more
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const dispatcher = new Agent();
      const t = createTransport({
        baseUrl: url,
        keyId: 'pos-1',
        privateKey: jwk,
        dispatcher,
        requestTimeoutMs: 5000,
      });
      try {
        const ac = new AbortController();
        const reason = new Error('cashier cancelled');
        const started = Date.now();
        const p = t.request({ method: 'GET', path: '/x', signal: ac.signal });
        setTimeout(() => ac.abort(reason), 100);
        await expect(p).rejects.toBe(reason);
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        await dispatcher.destroy();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
  }
});
