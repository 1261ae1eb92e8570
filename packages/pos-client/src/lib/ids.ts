/**
 * Internal: identifiers and idempotency keys.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { compileValidator, QrText } from '@campus-card/core/api';

const BUSINESS_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Throws a TypeError unless `v` is a platform business key (1–64 of `[A-Za-z0-9_.:-]`) that can
 * be a path segment: `.` and `..` are refused, since the URL parser resolves them as dot segments
 * (`/v1/payments/..` would become `/v1`), escaped or not.
 */
export function assertBusinessKey(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || !BUSINESS_KEY.test(v) || v === '.' || v === '..') {
    throw new TypeError(`${name} must be 1-64 characters of [A-Za-z0-9_.:-], not "." or ".."`);
  }
}

const checkQrText = compileValidator(QrText);

/**
 * Throws a TypeError unless `v` is QR text the platform accepts (the contract's `QrText`: `CC1:`
 * then Base45 characters `0-9 A-Z space $ % * + - . / :`, 4 to 1024 characters in all).
 */
export function assertQrText(name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || !checkQrText(v).ok) {
    throw new TypeError(`${name} must be campus card QR text: "CC1:" then Base45, 4-1024 characters`);
  }
}

/** Throws a RangeError unless `v` is a positive integer amount in fen (≤ 1e9). */
export function assertFen(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > 1_000_000_000) {
    throw new RangeError(`${name} must be a positive integer number of fen (≤ 1 000 000 000)`);
  }
}

/** A fresh merchant order number: `<device prefix>-<time base36>-<random hex>`, ≤ 64 characters. */
export function newOutTradeNo(deviceId: string, nowMs: number): string {
  const prefix = deviceId.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 32);
  return `${prefix}-${Math.floor(nowMs).toString(36)}-${randomBytes(6).toString('hex')}`;
}

/** The create-payment idempotency key of an order: stable for its out_trade_no. */
export const paymentKey = (outTradeNo: string): string => `pay:${outTradeNo}`;

/** The refund idempotency key: stable for (out_trade_no, out_refund_no). */
export const refundKey = (outTradeNo: string, outRefundNo: string): string =>
  `refund:${outTradeNo}:${outRefundNo}`;

/** The idempotency key of an offline batch: a hash of its items, so a resent batch reuses it. */
export function batchKey(deviceId: string, body: unknown): string {
  return `offline:${createHash('sha256').update(deviceId).update('\n').update(JSON.stringify(body)).digest('hex')}`;
}

/** Formats epoch ms as RFC 3339 UTC. */
export const iso = (ms: number): string => new Date(ms).toISOString();
