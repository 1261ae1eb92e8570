/**
 * `createPosClient`: the POS terminal's client of the campus card platform.
 *
 * @module
 */

import { DEFAULT_DAY_UTC_OFFSET, parseUtcOffset } from '@campus-card/core';
import type { Device } from '@campus-card/core/api';
import type { Jwk } from '@campus-card/core/http';
import {
  createSharedRun,
  createTransport,
  sleep as defaultSleep,
  type SleepFn,
} from '@campus-card/core/transport';
import type { ReaderContext } from '@campus-card/verifier';
import type { Dispatcher } from 'undici';
import { fetchDevice } from './device.js';
import type { OfflineVerifier, PosContext } from './lib/context.js';
import { assertCaps, type OfflineCaps } from './offline-caps.js';
import type { OutboxPayment, OutboxStore } from './outbox/outbox-store.js';
import { createPaymentsResource, type PaymentsResource } from './payments.js';
import { assertPollSchedule, DEFAULT_POLL_SCHEDULE } from './poll-schedule.js';
import type { RequestOptions } from './request-options.js';
import { type ScanToPayInput, type ScanToPayResult, scanToPay } from './scan-to-pay.js';
import { createStatementsResource, type StatementsResource } from './statements.js';
import { runSync, type SyncOptions, type SyncResult } from './sync.js';
import { createWalletsResource, type WalletsResource } from './wallets.js';

/** Offline mode settings. */
export interface OfflineOptions {
  /** Where offline sales and owed reversals wait for {@link PosClient.sync}: {@link createFileOutbox} in production. */
  readonly outbox: OutboxStore;
  /** Limits on offline sales. */
  readonly caps: OfflineCaps;
  /** Start with the explicit offline flag set (see {@link PosClient.setOffline}); default false. */
  readonly startOffline?: boolean;
}

/** Options of {@link createPosClient}. */
export interface PosClientOptions {
  /** Platform base URL, e.g. `https://api.campus.example`. */
  readonly baseUrl: string;
  /** This terminal's device id; it is also the key id of its signatures. */
  readonly deviceId: string;
  /** The merchant this terminal sells for (informational; statements are checked against it when set). */
  readonly merchantId?: string;
  /**
   * The UTC offset of the platform's business day, `±HH:MM` from `-14:00` to `+14:00`: the day a
   * `Date` given to `statements.download` falls on. Default: the offline caps'
   * {@link OfflineCaps.dayUtcOffset} when set, else `'+08:00'` (China Standard Time, the
   * platform's default). New in this version.
   */
  readonly dayUtcOffset?: string;
  /** The device's private key as a JWK (EC P-256 or OKP Ed25519). */
  readonly privateKey: Jwk;
  /** undici dispatcher (a `MockAgent` in tests); default an own `Agent`. The global dispatcher is never touched. */
  readonly dispatcher?: Dispatcher;
  /**
   * An offline verifier (`createVerifier` from `@campus-card/verifier`, loaded with the trust list
   * and status list): scan-to-pay checks each code with it first and denies bad codes without a
   * network call. Default none: the platform checks the code.
   */
  readonly verifier?: OfflineVerifier;
  /** The reader context passed to the verifier; default `{ id: deviceId }`. */
  readonly reader?: ReaderContext;
  /** Offline mode: outbox and caps. Without it, an unreachable platform fails the sale. */
  readonly offline?: OfflineOptions;
  /** Delays between status polls of a pending or unknown payment, seconds; default {@link DEFAULT_POLL_SCHEDULE}. */
  readonly pollSchedule?: readonly number[];
  /** Retries of the create call inside scan-to-pay before polling takes over; default 2. */
  readonly createMaxRetries?: number;
  /**
   * How long after a sale an order that the platform does not know can still appear, in seconds:
   * a queued reversal answered 404 is dropped after it. Default 300 (codes expire after 90 s).
   */
  readonly unknownOrderHorizonSeconds?: number;
  /**
   * Most offline sales per upload request, 1–500 (the platform's maximum); default 100. Batches are
   * also cut at {@link PosClientOptions.maxBatchBytes}, and a batch answered 413 is halved.
   */
  readonly batchSize?: number;
  /**
   * Largest upload request body, in bytes; default 196 608 (192 KiB, under the platform's 256 KiB
   * body limit: a sale is about 600 bytes, so 500 of them would not fit). At least 1024. A batch
   * answered 413 anyway (a platform with a lower limit) is halved and sent again.
   */
  readonly maxBatchBytes?: number;
  /** TCP connect timeout of the own Agent, ms; default 5000. */
  readonly connectTimeoutMs?: number;
  /** Timeout per attempt, ms; default 10000. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt for every call; default 4. */
  readonly maxRetries?: number;
  /** Backoff base, ms; default 200. */
  readonly retryBaseMs?: number;
  /** Backoff cap, ms; default 5000. */
  readonly retryMaxMs?: number;
  /** Clock, epoch ms; default `Date.now`. Drives signatures, offline timestamps and caps. */
  readonly now?: () => number;
  /** Random source in [0, 1) for jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Sleep used for backoff and polling (inject a fake in tests); default an abortable `setTimeout`. */
  readonly sleep?: SleepFn;
  /** Extra headers on every request (e.g. `user-agent`). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Largest response body read, in bytes; default 4 MiB (4 194 304). A larger answer rejects with
   * `ERR_RESPONSE_TOO_LARGE` (in scan-to-pay: an unknown outcome, polled and reversed). Statement
   * files have their own limit (`MAX_STATEMENT_BYTES`, 64 MiB).
   */
  readonly maxResponseBytes?: number;
}

/** The client {@link createPosClient} returns. */
export interface PosClient {
  /** This terminal's device id. */
  readonly deviceId: string;
  /**
   * Takes a payment for a scanned code, in one call:
   * 1. verifies the code offline with the configured verifier (a bad code is `denied`, nothing sent);
   * 2. creates the payment with the idempotency key `pay:<outTradeNo>`;
   * 3. if it is `processing` or its outcome is unknown (timeout, lost response), polls its status
   *    on the poll schedule (re-sending the create, same key, if the platform does not know it);
   * 4. if it is still not final, reverses it.
   *
   * When the platform cannot be reached at all and offline mode is on, the sale goes to the outbox
   * within the caps (`offline_accepted`), under the same out_trade_no, which the platform dedupes.
   * Every order ends final and no one is charged twice.
   *
   * Answers that say nothing about the payment (a success that is not the expected JSON, such as
   * a captive portal's page or an empty body; 401, 403, 413, 415, 429; a 4xx without a problem
   * body) never end the sale as a refusal: the payment is polled, then reversed, else it ends as
   * `ERR_POS_PAYMENT_UNKNOWN` with a reversal queued.
   *
   * A caller's `outTradeNo` may resume an earlier sale of that number: a `success` answer that is
   * the platform's replay of an earlier create (`Idempotent-Replayed: true`) is confirmed by a
   * query first, since that order may have been reversed since, and a final outcome drops the
   * reversals earlier attempts of the number left owed (`sync()` does not reverse an order whose
   * sale is running, and such a sale waits for a reversal `sync()` is sending for its number).
   *
   * With an outbox, a reversal is queued before the create is sent (write-ahead) and acknowledged
   * once the sale has an outcome. So a device that dies mid-sale (power, crash) reverses it at the
   * first `sync()` after the restart, and an outcome is returned only once the outbox has recorded
   * it: if that write fails, the sale rejects with the outbox's error and is reversed at the next
   * `sync()`. An outbox that cannot take the write refuses the sale before anything is sent. A
   * `sync()` of this client while the sale runs leaves its reversal alone (so give each outbox to
   * one client only).
   *
   * @throws `TypeError`/`RangeError` for malformed input, checked like the platform does before
   *   anything is sent or queued: `qr` not campus card QR text (`CC1:` + Base45, 4–1024
   *   characters), `outTradeNo` not 1–64 of `[A-Za-z0-9_.:-]` or `.`/`..`, `amountFen` not a
   *   positive integer, `description` over 128 characters.
   * @throws `CampusCardApiError` subclasses when the platform refuses the payment for good (a 4xx
   *   problem given after its idempotency check, e.g. `ERR_CODE_INVALID`, `ERR_CODE_ALREADY_USED`);
   *   {@link PosClientError} `ERR_POS_OFFLINE_CAP`, `ERR_POS_OFFLINE_DISABLED` or
   *   `ERR_POS_PAYMENT_UNKNOWN` (a reversal is then queued); the outbox's own error when it cannot
   *   record the sale (see above).
   *
   * @example
   * ```ts
   * const r = await pos.scanToPay({ qr: scanned, amountFen: 1250 });
   * if (r.status === 'success' || r.status === 'offline_accepted') printReceipt(r.outTradeNo);
   * ```
   */
  scanToPay(input: ScanToPayInput): Promise<ScanToPayResult>;
  /** Payments: create, query, reverse, close, refund. */
  readonly payments: PaymentsResource;
  /** Wallets: balance and totals over a period. */
  readonly wallets: WalletsResource;
  /** Daily statements, hash-checked. */
  readonly statements: StatementsResource;
  /**
   * `GET /v1/devices/{device_id}` of this terminal, checked against the contract: its
   * `merchant_id` and the platform's offline caps of it, `offline_tx_cap` and `offline_device_cap`
   * (integer fen) and `offline_day_utc_offset` (`±HH:MM`), which are {@link OfflineCaps}'
   * `perTransactionFen`, `totalFen` and `dayUtcOffset`. Read them when the terminal is set up, or
   * at each start, and keep them with its configuration: a POS that starts without network must
   * already know its caps. New in this version.
   *
   * @throws `CampusCardApiError` subclasses from the transport (e.g. 401 `ERR_SIG_UNKNOWN_KEY`
   *   for a key the platform does not know).
   * @example
   * ```ts
   * const d = await pos.device();
   * const caps = { perTransactionFen: d.offline_tx_cap, totalFen: d.offline_device_cap, dayUtcOffset: d.offline_day_utc_offset, maxAgeSeconds: 86_400 };
   * ```
   */
  device(options?: RequestOptions): Promise<Device>;
  /**
   * Uploads the outbox: offline sales in idempotent batches (at most `batchSize` sales and
   * `maxBatchBytes` bytes, halved after a 413), then owed reversals (also when the platform refused
   * the upload: only an unreachable platform leaves them to the next sync); acknowledges what the
   * platform answered, and books the sales it accepted to the outbox's day totals in the same
   * write (see {@link OutboxStore.bookedTotals}; the offline caps count them). A sale the platform refuses as malformed (400/422 when sent alone) is quarantined
   * (see {@link SyncResult.quarantined}) so that it does not block the others. Safe to call at any
   * time, also concurrently: calls share one run. When `options.signal` aborts, this call rejects
   * with its reason at once; the run goes on for the other callers, and stops only when every
   * caller waiting for it has aborted.
   */
  sync(options?: SyncOptions): Promise<SyncResult>;
  /** Sets the explicit offline flag: while set, scan-to-pay sells offline without trying the network. */
  setOffline(offline: boolean): void;
  /** Whether the explicit offline flag is set. */
  readonly isOffline: boolean;
  /** Closes the own HTTP agent (not the outbox, not a caller's dispatcher). */
  close(): Promise<void>;
}

/**
 * Creates a POS client.
 *
 * @example
 * ```ts
 * const pos = createPosClient({
 *   baseUrl: 'https://api.campus.example',
 *   deviceId: 'pos-01',
 *   privateKey: deviceJwk,
 *   offline: { outbox: await createFileOutbox('/data/outbox.jsonl'), caps: { perTransactionFen: 5_000, totalFen: 200_000, maxAgeSeconds: 86_400 } },
 * });
 * const r = await pos.scanToPay({ qr, amountFen: 1250 });
 * ```
 */
export function createPosClient(options: PosClientOptions): PosClient {
  if (typeof options.deviceId !== 'string' || options.deviceId === '')
    throw new TypeError('deviceId must be a non-empty string');
  const pollSchedule = options.pollSchedule ?? DEFAULT_POLL_SCHEDULE;
  assertPollSchedule(pollSchedule);
  if (options.offline !== undefined) assertCaps(options.offline.caps);
  const dayUtcOffset = options.dayUtcOffset ?? options.offline?.caps.dayUtcOffset ?? DEFAULT_DAY_UTC_OFFSET;
  parseUtcOffset(dayUtcOffset, 'dayUtcOffset');
  const createMaxRetries = options.createMaxRetries ?? 2;
  if (!Number.isInteger(createMaxRetries) || createMaxRetries < 0)
    throw new RangeError('createMaxRetries must be an integer ≥ 0');
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 500)
    throw new RangeError('batchSize must be an integer in 1..500');
  const maxBatchBytes = options.maxBatchBytes ?? 196_608;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1024)
    throw new RangeError('maxBatchBytes must be an integer ≥ 1024');
  const horizonS = options.unknownOrderHorizonSeconds ?? 300;
  if (!Number.isFinite(horizonS) || horizonS < 0)
    throw new RangeError('unknownOrderHorizonSeconds must be ≥ 0');

  const now = options.now ?? Date.now;
  const transport = createTransport({
    baseUrl: options.baseUrl,
    keyId: options.deviceId,
    privateKey: options.privateKey,
    ...pick(options, [
      'dispatcher',
      'connectTimeoutMs',
      'requestTimeoutMs',
      'maxRetries',
      'retryBaseMs',
      'retryMaxMs',
      'now',
      'random',
      'sleep',
      'headers',
      'maxResponseBytes',
    ]),
  });
  const payments = createPaymentsResource(transport);
  let offline = options.offline?.startOffline === true;
  let queue: Promise<unknown> = Promise.resolve();
  const ctx: PosContext = {
    deviceId: options.deviceId,
    transport,
    payments,
    verifier: options.verifier,
    reader: options.reader ?? { id: options.deviceId },
    outbox: options.offline?.outbox,
    caps: options.offline?.caps,
    pollSchedule,
    createMaxRetries,
    unknownOrderHorizonMs: horizonS * 1000,
    batchSize,
    maxBatchBytes,
    now,
    sleep: options.sleep ?? defaultSleep,
    salesInProgress: new Set<number>(),
    tradesInProgress: new Map<string, number>(),
    reversing: new Map<string, Promise<unknown>>(),
    bookedInMemory: new Map<number, OutboxPayment>(),
    offline: () => offline,
    exclusive<T>(fn: () => Promise<T>): Promise<T> {
      const run = queue.then(fn);
      queue = run.catch(() => undefined);
      return run;
    },
  };
  // One sync at a time, joined by every caller; a caller's abort stops only its own wait (the
  // sync stops once no caller waits for it).
  const syncing = createSharedRun((signal) => runSync(ctx, { signal }));

  return {
    deviceId: options.deviceId,
    scanToPay: (input) => scanToPay(ctx, input),
    payments,
    wallets: createWalletsResource(transport),
    statements: createStatementsResource(transport, options.merchantId, dayUtcOffset),
    device: (requestOptions) => fetchDevice(transport, options.deviceId, requestOptions),
    sync(syncOptions) {
      return syncing.run(syncOptions?.signal);
    },
    setOffline(value) {
      offline = value;
    },
    get isOffline() {
      return offline;
    },
    close: () => transport.close(),
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
