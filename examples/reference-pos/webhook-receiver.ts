/**
 * Reference webhook receiver (a merchant's or POS back office's push endpoint): takes a push only
 * when the platform signed it (RFC 9421 via `@campus-card/core/http` `verifyPush`), and
 * acknowledges a redelivery of a push it already has without processing it twice.
 *
 * The endpoint is open to anyone, so what an unsigned request can cost is bounded: a body over
 * {@link MAX_BODY_BYTES} is answered 413 without being kept, and an unknown key id fetches the
 * platform's keys again at most once per {@link KEY_REFRESH_COOLDOWN_MS} (a push refused meanwhile
 * is retried by the platform, which redelivers anything not answered 2xx).
 *
 * A push is signed for the URL it was sent to, its authority (`@authority`: host and port) included,
 * so a push another receiver got cannot be replayed here. The receiver checks it against its own
 * authority: the `Host` it sees, or, behind a proxy or load balancer that rewrites `Host` (a TLS
 * terminator forwarding `https://hooks.school.example/webhook` to `http://127.0.0.1:7001/webhook`),
 * the authority of its subscribed URL, `PUBLIC_URL` (`verifyPush`'s `authority` option). The path
 * and query are covered too: a proxy must forward them unchanged.
 *
 * Environment (as the conformance suite's webhook plan sets it): `PLATFORM_URL` (the platform;
 * its push keys are at `GET /v1/platform/keys`), `PORT` (listen on 127.0.0.1:PORT, `POST /webhook`).
 * Optional: `PUBLIC_URL`, the URL the platform pushes to when it is not `http://127.0.0.1:PORT/webhook`
 * (its path replaces `/webhook`).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { PlatformKeys } from '@campus-card/core/api';
import { importVerifyKey, type VerifyKey, verifyPush } from '@campus-card/core/http';

const platformUrl = process.env.PLATFORM_URL ?? 'http://127.0.0.1:4010';
const port = Number(process.env.PORT ?? 7001);
/** The subscribed URL, when the platform reaches this receiver under another authority (a proxy). */
const publicUrl = process.env.PUBLIC_URL ? new URL(process.env.PUBLIC_URL) : undefined;
/** The path pushes arrive at. */
const pushPath = publicUrl?.pathname ?? '/webhook';

/** Largest request body read, in bytes: a push is a small JSON event (the platform's own limit is 256 KiB). */
const MAX_BODY_BYTES = 256 * 1024;
/** Least time between two fetches of the platform's keys, in ms. */
const KEY_REFRESH_COOLDOWN_MS = 30_000;

let keys = new Map<string, VerifyKey>();
let lastKeyFetch = Number.NEGATIVE_INFINITY;
let keyFetch: Promise<void> | undefined;

/** Fetches the platform's push-signing keys (again when an unknown key id shows up: rotation). */
function refreshKeys(): Promise<void> {
  keyFetch ??= (async () => {
    lastKeyFetch = Date.now();
    try {
      const res = await fetch(`${platformUrl}/v1/platform/keys`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`GET /v1/platform/keys: HTTP ${res.status}`);
      const body = (await res.json()) as PlatformKeys;
      keys = new Map(body.webhook_signing.map((jwk) => [jwk.kid ?? '', importVerifyKey(jwk)]));
    } finally {
      keyFetch = undefined;
    }
  })();
  return keyFetch;
}

const seen = new Set<string>(); // push ids already processed (a real receiver keeps them in its database)

await refreshKeys();
createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY_BYTES) chunks.push(c);
    else chunks.length = 0; // read to the end, keep nothing
  });
  req.on('end', async () => {
    const target = req.url ?? '';
    if (req.method !== 'POST' || target.split('?')[0] !== pushPath) {
      res.writeHead(req.method === 'GET' ? 200 : 404).end();
      return;
    }
    if (size > MAX_BODY_BYTES) {
      res.writeHead(413).end();
      return;
    }
    const body = new Uint8Array(Buffer.concat(chunks));
    const result = await verifyPush(
      {
        method: 'POST',
        url: target, // the target as received: `@path` and `@query` are read from it verbatim
        headers: req.headers,
        body,
        // behind a TLS terminator: the subscribed URL's scheme decides its default port
        ...(publicUrl === undefined ? {} : { scheme: publicUrl.protocol.slice(0, -1) }),
      },
      {
        now: Date.now(),
        // `@authority`: the subscribed URL's behind a proxy, else this request's `Host` (RFC 9421 §2.2.3)
        ...(publicUrl === undefined ? {} : { authority: publicUrl.host }),
        keyLookup: async (kid) => {
          if (!keys.has(kid) && (keyFetch || Date.now() - lastKeyFetch >= KEY_REFRESH_COOLDOWN_MS)) {
            await refreshKeys().catch(() => undefined);
          }
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
  process.stderr.write(
    `webhook receiver on http://127.0.0.1:${port}${pushPath}${publicUrl ? ` for ${publicUrl.href}` : ''}\n`,
  ),
);
