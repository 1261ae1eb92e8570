/**
 * client.overhead_ratio: the POS client's time per request ÷ the time of a bare undici request to
 * the same endpoint with the same signing (signRequest from @campus-card/core/http), measured
 * interleaved, side by side, in one run against the mock platform on port 0.
 *
 * Endpoint: GET /v1/payments/{out_trade_no} (signed, cheap). One keep-alive connection each, one
 * request at a time (closed loop), the two sides alternating in blocks whose order flips every
 * round. Prints JSON lines {"name","value","unit"}; target client.overhead_ratio ≤ 1.10.
 */
import { randomBytes } from 'node:crypto';
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk } from '@campus-card/core';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import { startMockPlatform } from '@campus-card/mock-server';
import { Agent, request } from 'undici';
import { createPosClient } from '../src/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const BLOCK = Number(process.env.BLOCK ?? 100);
const WARMUP = 300;

function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 1000) / 1000, unit }));
}

const server = await startMockPlatform({ port: 0, demo: true });
const demo = server.platform.demo;
const device = demo?.devices.find((d) => d.id === 'pos-01');
const card = demo?.cards.find((c) => c.personId === 's-001');
if (device === undefined || card === undefined) throw new Error('demo data missing');

const clientAgent = new Agent({ connections: 1 });
const bareAgent = new Agent({ connections: 1 });
const pos = createPosClient({
  baseUrl: server.url,
  deviceId: device.id,
  privateKey: device.privateJwk,
  dispatcher: clientAgent,
});

// one payment to query
const credential = fromBase64Url(card.credential);
if (credential === undefined) throw new Error('bad credential');
const qr = encodeQr(
  await createPresentation(
    { credential, t: Math.floor(Date.now() / 1000) },
    importPrivateJwk(card.holderPrivateJwk),
  ),
);
const paid = await pos.scanToPay({ qr, amountFen: 100, outTradeNo: 'BENCH-1' });
if (paid.status !== 'success') throw new Error(`setup payment: ${paid.status}`);

const key = importSigningKey(device.privateJwk);
const url = `${server.url}/v1/payments/BENCH-1`;

async function bare(): Promise<void> {
  const headers = { accept: 'application/json, application/problem+json' };
  const sig = signRequest(
    { method: 'GET', url, headers },
    {
      keyId: device?.id ?? '',
      key,
      created: Math.floor(Date.now() / 1000),
      nonce: randomBytes(16).toString('base64url'),
    },
  );
  const res = await request(url, { method: 'GET', headers: { ...headers, ...sig }, dispatcher: bareAgent });
  const body = (await res.body.json()) as { out_trade_no?: string };
  if (res.statusCode !== 200 || body.out_trade_no !== 'BENCH-1') throw new Error(`bare: ${res.statusCode}`);
}

async function viaClient(): Promise<void> {
  const o = await pos.payments.query('BENCH-1');
  if (o.out_trade_no !== 'BENCH-1') throw new Error('client: wrong order');
}

async function block(fn: () => Promise<void>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return performance.now() - t0;
}

await block(bare, WARMUP);
await block(viaClient, WARMUP);

let clientMs = 0;
let bareMs = 0;
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let c: number;
  let b: number;
  if (r % 2 === 0) {
    c = await block(viaClient, BLOCK);
    b = await block(bare, BLOCK);
  } else {
    b = await block(bare, BLOCK);
    c = await block(viaClient, BLOCK);
  }
  clientMs += c;
  bareMs += b;
  ratios.push(c / b);
}
ratios.sort((x, y) => x - y);
const n = ROUNDS * BLOCK;
emit('client.request_us', (clientMs / n) * 1000, 'us');
emit('client.bare_request_us', (bareMs / n) * 1000, 'us');
emit('client.overhead_ratio_median_round', ratios[Math.floor(ratios.length / 2)] ?? Number.NaN, 'ratio');
emit('client.overhead_ratio', clientMs / bareMs, 'ratio');

await pos.close();
await clientAgent.close();
await bareAgent.close();
await server.close();
