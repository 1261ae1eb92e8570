/**
 * The wallets resource: balance and per-person totals over a period.
 *
 * @module
 */
import { Wallet, WalletSummary } from '@campus-card/core/api';
import type { Transport } from '@campus-card/core/transport';
import { passOptions, type RequestOptions } from './request-options.js';

/** A point in time: a `Date`, epoch ms, or an RFC 3339 UTC string (`…Z`). */
export type TimeInput = Date | number | string;

/** `pos.wallets`: the wallet shared by a person's e-card and physical card. */
export interface WalletsResource {
  /** `GET /v1/wallets/{person_id}`: the balance, integer fen (negative only after offline sales). */
  balance(personId: string, options?: RequestOptions): Promise<Wallet>;
  /**
   * `GET /v1/wallets/{person_id}/summary`: totals over `[from, to)` without line items: spent,
   * refunded, topped up, fees paid (all integer fen), payment count and net.
   */
  summary(personId: string, from: TimeInput, to: TimeInput, options?: RequestOptions): Promise<WalletSummary>;
}

function toIso(name: string, t: TimeInput): string {
  if (typeof t === 'string') return t;
  const d = typeof t === 'number' ? new Date(t) : t;
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError(`${name} is not a valid time`);
  return d.toISOString();
}

function assertId(v: unknown): asserts v is string {
  // "." and ".." would be dot segments: the URL parser would send the request to another path
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(v) || v === '.' || v === '..')
    throw new TypeError('personId must be 1-64 characters of [A-Za-z0-9_.:-], not "." or ".."');
}

/** Creates the wallets resource over a transport. */
export function createWalletsResource(transport: Transport): WalletsResource {
  return {
    async balance(personId, options) {
      assertId(personId);
      const res = await transport.request<Wallet>({
        method: 'GET',
        path: `/v1/wallets/${encodeURIComponent(personId)}`,
        schema: Wallet,
        ...passOptions(options),
      });
      return res.body;
    },
    async summary(personId, from, to, options) {
      assertId(personId);
      const res = await transport.request<WalletSummary>({
        method: 'GET',
        path: `/v1/wallets/${encodeURIComponent(personId)}/summary`,
        schema: WalletSummary,
        query: { from: toIso('from', from), to: toIso('to', to) },
        ...passOptions(options),
      });
      return res.body;
    },
  };
}
