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

/** A request, or the error reply to a line that is none (echoing its `id` when it has one). */
function parse(line: string): { request: HarnessRequest } | { reply: { id: unknown; error: string } } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { reply: { id: null, error: 'not JSON' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { reply: { id: null, error: 'not a JSON object' } };
  const { id = null, op } = value as { id?: unknown; op?: unknown };
  if (typeof op !== 'string') return { reply: { id, error: 'no "op"' } };
  return { request: value as HarnessRequest };
}

/** The reply to one line. */
async function answer(line: string): Promise<unknown> {
  const parsed = parse(line);
  return 'request' in parsed ? handle(parsed.request) : parsed.reply;
}

/** JSON lines on stdin/stdout, strictly one reply per request, in order. */
async function serveStdio(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    process.stdout.write(`${JSON.stringify(await answer(line))}\n`);
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
        const reply = await answer(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
  }).listen(port, '127.0.0.1', () => process.stderr.write(`verifier harness on http://127.0.0.1:${port}/\n`));
}

const httpFlag = process.argv.indexOf('--http');
if (httpFlag >= 0) serveHttp(Number(process.argv[httpFlag + 1] ?? 7000));
else await serveStdio();
