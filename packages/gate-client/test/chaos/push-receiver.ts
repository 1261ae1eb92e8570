/**
 * A vendor's push endpoint for the chaos test: a node:http server that verifies every push
 * (RFC 9421, the platform's published key) and processes each push id once, however many times
 * it is delivered (duplicate and out-of-order deliveries are injected by the platform).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PlatformKeys } from '@campus-card/core/api';
import { verifyPushFromNodeRequest } from '@campus-card/core/transport';
import type { RunningMockPlatform } from '@campus-card/mock-server';

/** A received push, processed once. */
export interface ProcessedPush {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** The running receiver. */
export interface PushReceiver {
  /** The URL to subscribe. */
  readonly url: string;
  /** Pushes processed, by push id (each once). */
  readonly processed: ReadonlyMap<string, ProcessedPush>;
  /** Deliveries received per push id (more than 1: a duplicate delivery, ignored). */
  readonly deliveries: ReadonlyMap<string, number>;
  /** Deliveries refused: bad signature, digest or time. */
  readonly refused: number;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1, port 0, trusting the platform's push-signing keys. */
export async function startPushReceiver(server: RunningMockPlatform): Promise<PushReceiver> {
  const keys = (await server.platform.invoke('getPlatformKeys', {})).body as PlatformKeys;
  const platformKeys = Object.fromEntries(keys.webhook_signing.map((k) => [k.kid ?? '', k]));
  const processed = new Map<string, ProcessedPush>();
  const deliveries = new Map<string, number>();
  let refused = 0;
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      verifyPushFromNodeRequest(req, body, {
        platformKeys,
        now: () => server.platform.clock.now(),
        scheme: 'http',
      }).then(
        (v) => {
          if (!v.ok) {
            refused++;
            res.writeHead(401).end();
            return;
          }
          deliveries.set(v.pushId, (deliveries.get(v.pushId) ?? 0) + 1);
          if (!processed.has(v.pushId)) {
            const p = JSON.parse(body.toString('utf8')) as ProcessedPush;
            processed.set(v.pushId, { id: p.id, type: p.type, data: p.data });
          }
          res.writeHead(204).end();
        },
        () => {
          refused++;
          res.writeHead(500).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/campus-card`,
    processed,
    deliveries,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
