/**
 * Reference POS device for the conformance suite's `pos` plan: one sale with
 * `@campus-card/pos-client`'s `scanToPay` (signed requests, one idempotency key per logical
 * request reused on every retry, polling of a lost or pending answer, reversal of what cannot be
 * confirmed), then it prints the outcome as one JSON line and exits 0 once the sale is final.
 *
 * Environment: `PLATFORM_URL`, `DEVICE_ID`, `DEVICE_KEY` (private JWK, JSON), `MERCHANT_ID`,
 * `QR`, `AMOUNT_FEN`, `OUT_TRADE_NO` (and `SCENARIO`, informational).
 *
 * @module
 */
import type { Jwk } from '@campus-card/core';
import { createPosClient } from '@campus-card/pos-client';
import type { Dispatcher } from 'undici';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

/** Runs one sale from the environment; resolves to the process exit code. */
export async function runPosDevice(options: { dispatcher?: Dispatcher } = {}): Promise<number> {
  const pos = createPosClient({
    baseUrl: env('PLATFORM_URL'),
    deviceId: env('DEVICE_ID'),
    merchantId: env('MERCHANT_ID'),
    privateKey: JSON.parse(env('DEVICE_KEY')) as Jwk,
    pollSchedule: [0.2, 0.4, 0.8, 1.6],
    retryBaseMs: 50,
    retryMaxMs: 200,
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  });
  try {
    const r = await pos.scanToPay({
      qr: env('QR'),
      amountFen: Number(env('AMOUNT_FEN')),
      outTradeNo: env('OUT_TRADE_NO'),
    });
    process.stdout.write(`${JSON.stringify({ status: r.status, out_trade_no: r.outTradeNo })}\n`);
    return r.status === 'offline_accepted' ? 1 : 0;
  } finally {
    await pos.close();
  }
}

if (process.env.CAMPUS_CARD_POS_DEVICE_LIBRARY !== '1') {
  runPosDevice().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
