/**
 * A synthetic server for calibrating the server bench on a given machine (`BENCH_CONTROL_US`).
 *
 * It answers what the load generator sends, with none of the platform's work: each payment
 * (`POST /v1/payments…`) costs a busy loop of `burnUs` µs on the event loop, then a 201 of about
 * 560 bytes whose JSON says `"status":"success"`; any other POST (the top-ups) a 201 at once; a
 * GET a 200. With `hogUs`, each payment also hands a worker thread `hogUs` µs of busy work,
 * without waiting for it (one message a turn): CPU used off the event loop, as the platform's
 * verify worker uses it for the two P-256 checks of a payment.
 *
 * Run against it, the bench measures the machine rather than the platform: how long the tail of
 * an open loop is for a server whose event loop is as busy as the platform's, with the second
 * core free or not. See docs/guides/benchmarks-log.md (seventeenth session).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';

/** Options of {@link startControlServer}. */
export interface ControlServerOptions {
  /** Busy time on the event loop per payment, µs. */
  readonly burnUs: number;
  /** Busy time handed to a worker thread per payment, µs (not waited for). Default 0: no worker. */
  readonly hogUs?: number;
}

/** A running control server. */
export interface ControlServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
}

const PAYMENT_BODY = JSON.stringify({
  order_id: 'ord_control',
  status: 'success',
  amount: 1,
  padding: 'x'.repeat(480),
});

function burn(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // busy: the point is to use the CPU
  }
}

const HOG_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ n, us }) => {
  const until = performance.now() + (n * us) / 1000;
  while (performance.now() < until) {}
});
`;

/** Starts the control server on 127.0.0.1, on a free port. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { burnUs, hogUs = 0 } = options;
  const hog = hogUs > 0 ? new Worker(HOG_SOURCE, { eval: true }) : undefined;
  hog?.unref();
  let queued = 0;
  const handOff = (): void => {
    if (hog === undefined) return;
    if (queued++ === 0)
      setImmediate(() => {
        hog.postMessage({ n: queued, us: hogUs });
        queued = 0;
      });
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
        return;
      }
      if (req.url?.startsWith('/v1/payments') === true) {
        handOff();
        burn(burnUs);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(PAYMENT_BODY);
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"status":"success"}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await hog?.terminate();
    },
  };
}
