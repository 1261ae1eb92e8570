import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS } from '../../src/conformance/lines.js';
import { connectHttpHarness } from '../../src/conformance/verifier/connections.js';
import type { HarnessRequest } from '../../src/conformance/verifier/protocol.js';

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/harness`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const verify: HarnessRequest = { id: '1', op: 'verify', qr: 'CC1:X', now: 0, reader: { id: 'r' } };

describe('an HTTP harness', () => {
  it('a reply that is not HTTP 200 (a wrong path answered by the framework) names the status', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Route POST:/harness not found', statusCode: 404 }));
    });
    try {
      await expect(connectHttpHarness(s.url).request(verify)).rejects.toThrow(
        `harness answered HTTP 404 to "verify" at ${s.url}: {"message":"Route POST:/harness not found","statusCode":404}`,
      );
    } finally {
      await s.close();
    }
  });

  it('an error reply is an error reply whatever its status', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: '1', error: 'unknown op' }));
    });
    try {
      await expect(connectHttpHarness(s.url).request(verify)).resolves.toEqual({
        id: '1',
        error: 'unknown op',
      });
    } finally {
      await s.close();
    }
  });

  it('a reply naming another request (a cache or proxy answering an earlier one) is refused, not taken', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: '0', accepted: true, reason: null, warnings: [] }));
    });
    try {
      await expect(connectHttpHarness(s.url).request(verify)).rejects.toThrow(
        'reply id "0" does not match request id "1"',
      );
    } finally {
      await s.close();
    }
    // an error reply to a request the harness could not read names none
    const t = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: null, error: 'not JSON' }));
    });
    try {
      await expect(connectHttpHarness(t.url).request(verify)).resolves.toEqual({
        id: null,
        error: 'not JSON',
      });
    } finally {
      await t.close();
    }
  });

  it('a harness that does not answer in time is named with the request and the limit', async () => {
    const s = await serve(() => {}); // never answers
    try {
      await expect(connectHttpHarness(s.url, { timeoutMs: 200 }).request(verify)).rejects.toThrow(
        `harness did not answer "verify" within 200 ms`,
      );
    } finally {
      s.close();
    }
  });

  it('a harness that is not listening is named with its URL and the cause', async () => {
    const s = await serve(() => {});
    await s.close();
    await expect(connectHttpHarness(s.url).request(verify)).rejects.toThrow(
      new RegExp(`^harness at ${s.url} unreachable: .*ECONNREFUSED`),
    );
  });
});

describe('an HTTP harness that misbehaves', () => {
  it('a body longer than the suite takes fails its request (the suite does not hold it)', async () => {
    const big = Buffer.alloc(MAX_LINE_CHARS + 1024, 0x20); // spaces: JSON whitespace around nothing
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    try {
      await expect(connectHttpHarness(s.url, { timeoutMs: 60_000 }).request(verify)).rejects.toThrow(
        `harness answered "verify" with a body longer than ${MAX_LINE_CHARS} bytes`,
      );
    } finally {
      await s.close();
    }
  }, 90_000);

  it('once a request timed out, later requests fail at once: the harness is given up on, as over stdio', async () => {
    let received = 0;
    const s = await serve(() => {
      received += 1; // never answers
    });
    const conn = connectHttpHarness(s.url, { timeoutMs: 2000 });
    try {
      await expect(conn.request(verify)).rejects.toThrow('harness did not answer "verify" within 2000 ms');
      await expect(conn.request({ ...verify, id: '2' })).rejects.toThrow(
        'harness did not answer "verify" within 2000 ms',
      );
      // the second request was never sent: a hung harness costs the time limit once, not per condition
      expect(received).toBe(1);
    } finally {
      s.close();
    }
  });

  it('a body that stops half-way is a timeout too', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"1",'); // and nothing more
    });
    try {
      await expect(connectHttpHarness(s.url, { timeoutMs: 2000 }).request(verify)).rejects.toThrow(
        'harness did not answer "verify" within 2000 ms',
      );
    } finally {
      s.close();
    }
  });
});
