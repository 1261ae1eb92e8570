/**
 * Reference webhook receiver (a merchant's or POS back office's push endpoint): takes a push only
 * when the platform signed it (RFC 9421 via `@campus-card/core/http` `verifyPush`), and
 * acknowledges a redelivery of a push it already has without processing it twice.
 *
 * Environment (as the conformance suite's webhook plan sets it): `PLATFORM_URL` (the platform;
 * its push keys are at `GET /v1/platform/keys`), `PORT` (listen on 127.0.0.1:PORT, `POST /webhook`).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { PlatformKeys } from '@campus-card/core/api';
import { importVerifyKey, type VerifyKey, verifyPush } from '@campus-card/core/http';

const platformUrl = process.env.PLATFORM_URL ?? 'http://127.0.0.1:4010';
const port = Number(process.env.PORT ?? 7001);

let keys = new Map<string, VerifyKey>();

/** Fetches the platform's push-signing keys (again when an unknown key id shows up: rotation). */
async function refreshKeys(): Promise<void> {
  const res = await fetch(`${platformUrl}/v1/platform/keys`);
  if (!res.ok) throw new Error(`GET /v1/platform/keys: HTTP ${res.status}`);
  const body = (await res.json()) as PlatformKeys;
  keys = new Map(body.webhook_signing.map((jwk) => [jwk.kid ?? '', importVerifyKey(jwk)]));
}

const seen = new Set<string>(); // push ids already processed (a real receiver keeps them in its database)

await refreshKeys();
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    if (req.method !== 'POST' || req.url !== '/webhook') {
      res.writeHead(req.method === 'GET' ? 200 : 404).end();
      return;
    }
    const body = new Uint8Array(Buffer.concat(chunks));
    const result = await verifyPush(
      {
        method: 'POST',
        url: req.url, // the target as received; the authority is the Host header (RFC 9421 §2.2)
        headers: req.headers as Record<string, string>,
        body,
      },
      {
        now: Date.now(),
        keyLookup: async (kid) => {
          if (!keys.has(kid)) await refreshKeys().catch(() => undefined);
          return keys.get(kid);
        },
      },
    );
    if (!result.ok) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: result.code }));
      return;
    }
    if (!seen.has(result.pushId)) {
      seen.add(result.pushId);
      // process the event here (mark the order paid, notify the cashier, …)
    }
    res.writeHead(204).end();
  });
}).listen(port, '127.0.0.1', () =>
  process.stderr.write(`webhook receiver on http://127.0.0.1:${port}/webhook\n`),
);
