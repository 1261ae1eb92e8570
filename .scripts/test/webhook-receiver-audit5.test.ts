// The reference webhook receiver (examples/reference-pos/webhook-receiver.ts) checks that a push
// was signed for its own URL (`@authority`, covered since pushes sign it): a push signed for
// another receiver is refused. Behind a proxy that rewrites `Host`, `PUBLIC_URL` (its subscribed
// URL) gives the authority and path pushes are signed for, so the platform's pushes are taken and
// pushes signed for the local URL are not. The platform is a stub that publishes one push key.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { importSigningKey, signPush } from '@campus-card/core/http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoRoot } from '../lib/packages.mjs';

const platformKey = generateKeyPair('EdDSA');
const kid = 'platform-test-1';
const signing = importSigningKey(exportJwk(platformKey.privateKey, { includePrivate: true }));
let platform: Server;
let platformUrl: string;
const receivers: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() =>
        typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts the receiver on a free port with `env`; resolves with its port once it listens. */
async function startReceiver(env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, ['examples/reference-pos/run.mjs', 'webhook-receiver.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PLATFORM_URL: platformUrl, PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  receivers.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('webhook receiver on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`receiver exited (${code}): ${err}`)));
  });
  return port;
}

/** Sends to `sendTo` a push signed for `signedFor`; the receiver's status. */
async function push(sendTo: string, signedFor: string): Promise<number> {
  const body = new TextEncoder().encode(JSON.stringify({ type: 'payment.succeeded', order_id: 'ord_1' }));
  const headers = signPush({
    url: signedFor,
    body,
    pushId: `push_${randomBytes(6).toString('hex')}`,
    keyId: kid,
    key: signing,
    created: Math.floor(Date.now() / 1000),
    nonce: randomBytes(12).toString('base64url'),
  });
  const res = await fetch(sendTo, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  platform = createServer((req, res) => {
    if (req.url !== '/v1/platform/keys') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        webhook_signing: [{ ...exportJwk(platformKey.publicKey), kid, use: 'sig' }],
        retry_schedule_s: [5, 30, 120, 600, 3600],
        tolerance_s: 300,
      }),
    );
  });
  await new Promise<void>((resolve) => platform.listen(0, '127.0.0.1', resolve));
  const addr = platform.address();
  platformUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
}, 60_000);

afterAll(async () => {
  for (const r of receivers) {
    if (r.exitCode !== null || r.signalCode !== null) continue;
    const exited = new Promise((resolve) => r.once('exit', resolve));
    r.kill('SIGTERM');
    await exited;
  }
  await new Promise((resolve) => platform?.close(resolve));
});

it('takes a push signed for its own URL, and refuses one signed for another receiver', async () => {
  const port = await startReceiver();
  const own = `http://127.0.0.1:${port}/webhook`;
  expect(await push(own, own)).toBe(204);
  // another receiver's push (same path, another authority) replayed here
  expect(await push(own, `http://127.0.0.1:${port + 1}/webhook`)).toBe(401);
  expect(await push(own, `http://localhost:${port}/webhook`)).toBe(401);
}, 60_000);

it('behind a proxy that rewrites Host, verifies against PUBLIC_URL, its subscribed URL', async () => {
  const publicUrl = 'https://hooks.school.example/campus/webhook?tenant=7';
  const port = await startReceiver({ PUBLIC_URL: publicUrl });
  // the proxy forwards the path and query unchanged, with Host 127.0.0.1:<port>
  const local = `http://127.0.0.1:${port}/campus/webhook?tenant=7`;
  expect(await push(local, publicUrl)).toBe(204);
  // a push signed for the address the proxy forwards to is not one the platform sent
  expect(await push(local, local)).toBe(401);
  // the subscribed path only
  expect(await push(`http://127.0.0.1:${port}/webhook`, publicUrl)).toBe(404);
}, 60_000);
