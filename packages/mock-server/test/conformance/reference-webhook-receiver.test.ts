/**
 * The reference webhook receiver (examples/reference-pos/webhook-receiver.ts) is code vendors
 * copy, and its endpoint is open to anyone: what an unauthenticated sender can make it do is
 * bounded. Pushes under unknown key ids do not make it fetch the platform's keys each time (one
 * fetch per cooldown), and a body larger than any push is refused (413) without being held in
 * memory; a good push is still taken afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { importSigningKey, signPush } from '@campus-card/core/http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { platformKey } from '../../src/domains/webhooks.js';
import { type RunningMockPlatform, startMockPlatform } from '../../src/index.js';

const root = join(import.meta.dirname, '../../../..');
let server: RunningMockPlatform;
let receiver: ChildProcess;
let url: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() =>
        typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

beforeAll(async () => {
  server = await startMockPlatform({});
  const port = await freePort();
  url = `http://127.0.0.1:${port}/webhook`;
  receiver = spawn(process.execPath, ['examples/reference-pos/run.mjs', 'webhook-receiver.ts'], {
    cwd: root,
    env: { ...process.env, PLATFORM_URL: server.url, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    receiver.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('webhook receiver on')) resolve();
    });
    receiver.once('exit', (code) => reject(new Error(`receiver exited (${code}): ${err}`)));
  });
}, 60_000);

afterAll(async () => {
  if (receiver.exitCode === null) {
    const exited = new Promise((resolve) => receiver.once('exit', resolve));
    receiver.kill('SIGTERM');
    await exited;
  }
  await server?.close();
});

const keyFetches = () =>
  server.platform.recorder.entries.filter((e) => e.kind === 'request' && e.operation_id === 'getPlatformKeys')
    .length;

async function push(keyId?: string): Promise<number> {
  const platform = platformKey(server.platform.state);
  const body = new TextEncoder().encode(JSON.stringify({ type: 'payment.succeeded', order_id: 'ord_1' }));
  const headers = signPush({
    url,
    body,
    pushId: `push_${randomBytes(6).toString('hex')}`,
    keyId: keyId ?? platform.kid,
    key:
      keyId === undefined
        ? platform.signing
        : importSigningKey(exportJwk(generateKeyPair('EdDSA').privateKey, { includePrivate: true })),
    created: Math.floor(Date.now() / 1000),
    nonce: randomBytes(12).toString('base64url'),
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

it('pushes under unknown key ids are refused with one key fetch, not one each', async () => {
  const before = keyFetches(); // the fetch at startup
  expect(before).toBe(1);
  for (let i = 0; i < 10; i++) expect(await push(`unknown-${i}`)).toBe(401);
  expect(keyFetches() - before).toBeLessThanOrEqual(1);
  expect(await push()).toBe(204);
}, 30_000);

it('a body larger than any push is refused with 413, and the receiver goes on', async () => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array(8 * 1024 * 1024).fill(0x20),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(413);
  expect(await push()).toBe(204);
}, 30_000);
