/**
 * Reference POS device for the conformance suite's `pos` plan: one sale with
 * `@campus-card/pos-client`'s `scanToPay` (signed requests, one idempotency key per logical
 * request reused on every retry, polling of a lost or pending answer, reversal of what cannot be
 * confirmed), then it prints the outcome as one JSON line and exits 0 once the sale is final.
 * With `SCENARIO=offline-batch`, offline sales and their upload instead (see `runOfflineBatch`).
 *
 * Environment: `PLATFORM_URL`, `DEVICE_ID`, `DEVICE_KEY` (private JWK, JSON), `MERCHANT_ID`,
 * `QR`, `AMOUNT_FEN`, `OUT_TRADE_NO` and `SCENARIO`; for `offline-batch`, `SALES`,
 * `OFFLINE_CAPS` and `DATA_DIR` instead of `QR`, `AMOUNT_FEN` and `OUT_TRADE_NO`.
 *
 * @module
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Jwk } from '@campus-card/core';
import { createFileOutbox, createPosClient, isPosClientError } from '@campus-card/pos-client';
import type { Dispatcher } from 'undici';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

/**
 * The device's private JWK from `DEVICE_KEY`. A parse error is not passed on: its message quotes
 * the text around the error, which is the private key.
 */
function deviceKey(): Jwk {
  try {
    return JSON.parse(env('DEVICE_KEY')) as Jwk;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new Error('DEVICE_KEY is not valid JSON (a private JWK)');
  }
}

/** Runs the scenario of the environment; resolves to the process exit code. */
export async function runPosDevice(options: { dispatcher?: Dispatcher } = {}): Promise<number> {
  if (process.env.SCENARIO === 'offline-batch') return runOfflineBatch(options);
  const pos = createPosClient({
    baseUrl: env('PLATFORM_URL'),
    deviceId: env('DEVICE_ID'),
    merchantId: env('MERCHANT_ID'),
    privateKey: deviceKey(),
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

/**
 * The `offline-batch` scenario: the platform is unreachable when the device starts. It sells each
 * of `SALES` (`[{qr, amount_fen, out_trade_no}]`) offline within `OFFLINE_CAPS`
 * (`{per_transaction_fen, total_fen, max_age_seconds, day_utc_offset}`) into a durable outbox in `DATA_DIR`,
 * printing one line per sale (`{"out_trade_no","status"}`: `offline_accepted`, or `refused` with
 * the error code); then it uploads the outbox (`pos.sync()`: idempotent batches, one key per batch
 * content, reused on retry) until no offline sale is pending, and exits 0.
 */
async function runOfflineBatch(options: { dispatcher?: Dispatcher }): Promise<number> {
  const caps = JSON.parse(env('OFFLINE_CAPS')) as {
    per_transaction_fen: number;
    total_fen: number;
    max_age_seconds: number;
    day_utc_offset?: string;
  };
  const sales = JSON.parse(env('SALES')) as { qr: string; amount_fen: number; out_trade_no: string }[];
  const outbox = await createFileOutbox(join(env('DATA_DIR'), 'outbox.jsonl'));
  const pos = createPosClient({
    baseUrl: env('PLATFORM_URL'),
    deviceId: env('DEVICE_ID'),
    merchantId: env('MERCHANT_ID'),
    privateKey: deviceKey(),
    pollSchedule: [0.2, 0.4, 0.8, 1.6],
    retryBaseMs: 50,
    retryMaxMs: 200,
    offline: {
      outbox,
      caps: {
        perTransactionFen: caps.per_transaction_fen,
        totalFen: caps.total_fen,
        maxAgeSeconds: caps.max_age_seconds,
        ...(caps.day_utc_offset === undefined ? {} : { dayUtcOffset: caps.day_utc_offset }),
      },
    },
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  });
  const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  try {
    for (const sale of sales) {
      try {
        const r = await pos.scanToPay({
          qr: sale.qr,
          amountFen: sale.amount_fen,
          outTradeNo: sale.out_trade_no,
        });
        print({ out_trade_no: sale.out_trade_no, status: r.status });
      } catch (error) {
        print({
          out_trade_no: sale.out_trade_no,
          status: 'refused',
          error: isPosClientError(error) ? error.code : String(error),
        });
      }
    }
    // upload as soon as the platform answers again, as the background sync would
    for (let attempt = 0; attempt < 200; attempt++) {
      const r = await pos.sync();
      for (const item of r.rejected) print({ rejected: item });
      // Done once no offline sale waits. A reversal owed for a sale that never reached the
      // platform (refused offline past a cap) stays queued until the platform could no longer
      // accept its code; a device in service keeps syncing, this one-shot run stops here.
      if ((await outbox.pending()).every((e) => e.kind !== 'payment')) {
        print({ synced: true, remaining: r.remaining });
        return 0;
      }
      await sleep(100);
    }
    return 1;
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
