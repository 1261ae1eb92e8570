/**
 * The reference verifier harness as a command: it speaks the conformance suite's harness protocol
 * (JSON lines on stdin → one JSON line per request on stdout) and decides with
 * `@campus-card/verifier`. Run it with `node examples/verifier-harness/run.mjs` (which bundles this
 * file for Node 20), or with `--http <port>` to serve the same protocol by `POST /`.
 *
 * The protocol logic is `createReferenceHarness` (packages/mock-server/src/conformance/verifier/
 * reference-harness.ts), which uses only `@campus-card/core` and `@campus-card/verifier`; this file
 * is the transport a vendor writes around their own verifier.
 *
 * @module
 */
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import type { HarnessRequest } from '../../packages/mock-server/src/conformance/verifier/protocol.js';
import { createReferenceHarness } from '../../packages/mock-server/src/conformance/verifier/reference-harness.js';

const handle = createReferenceHarness();

function parse(line: string): HarnessRequest | { error: string } {
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { error: 'not a JSON object' };
    return value as HarnessRequest;
  } catch {
    return { error: 'not JSON' };
  }
}

/** JSON lines on stdin/stdout, strictly one reply per request, in order. */
async function serveStdio(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const request = parse(line);
    const reply = 'op' in request ? await handle(request) : { id: null, error: request.error };
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

/** The same protocol over HTTP: `POST /` with one request as the JSON body. */
function serveHttp(port: number): void {
  // one request at a time, as on stdin: the reader's state is sequential
  let queue: Promise<unknown> = Promise.resolve();
  createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      queue = queue.then(async () => {
        const request = parse(Buffer.concat(chunks).toString('utf8'));
        const reply = 'op' in request ? await handle(request) : { id: null, error: request.error };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
  }).listen(port, '127.0.0.1', () => process.stderr.write(`verifier harness on http://127.0.0.1:${port}/\n`));
}

const httpFlag = process.argv.indexOf('--http');
if (httpFlag >= 0) serveHttp(Number(process.argv[httpFlag + 1] ?? 7000));
else await serveStdio();
