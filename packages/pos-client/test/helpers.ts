import { exportJwk, generateKeyPair, type Jwk } from '@campus-card/core';
import type { Order } from '@campus-card/core/api';
import { MockAgent } from 'undici';
import { afterEach, beforeEach } from 'vitest';
import { createPosClient, type PosClientOptions } from '../src/index.js';

export const ORIGIN = 'https://api.campus.test';
export const JSON_HEADERS = { 'content-type': 'application/json' };
export const PROBLEM_HEADERS = { 'content-type': 'application/problem+json' };
export const NOW = Date.UTC(2026, 0, 5, 8, 0, 0);
export const QR = 'CC1:6BFOXN*TS0BI$ZD-PHQ7P';

export const deviceJwk: Jwk = exportJwk(generateKeyPair('ES256').privateKey, { includePrivate: true });

export function order(overrides: Partial<Order> = {}): Order {
  return {
    order_id: 'ord_1',
    out_trade_no: 'T1',
    kind: 'payment',
    status: 'success',
    amount: 1200,
    refunded_amount: 0,
    person_id: 's-001',
    card_id: 'card-1',
    merchant_id: 'm-canteen-s',
    device_id: 'pos-01',
    via: 'qr',
    fee_type: null,
    student_id: null,
    failure_code: null,
    description: null,
    created_at: '2026-01-05T08:00:00Z',
    updated_at: '2026-01-05T08:00:00Z',
    refunds: [],
    ...overrides,
  };
}

export function problem(status: number, code: string, retryable = false) {
  return { type: 'about:blank', title: 'Problem', status, code, retryable, request_id: 'req_p' };
}

/** A POS client on a MockAgent with a fake clock and an instant sleep that records its delays. */
export function unitClient(agent: MockAgent, overrides: Partial<PosClientOptions> = {}) {
  const sleeps: number[] = [];
  const pos = createPosClient({
    baseUrl: ORIGIN,
    deviceId: 'pos-01',
    privateKey: deviceJwk,
    dispatcher: agent,
    now: () => NOW,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
    ...overrides,
  });
  return { pos, sleeps };
}

/** Every request the agent saw, in order. */
export function calls(agent: MockAgent) {
  return (agent.getCallHistory()?.calls() ?? []).map((c) => ({
    method: c.method,
    path: c.path,
    key: (c.headers as Record<string, string>)['idempotency-key'],
    body: bodyOf(c.body),
  }));
}

export const connectRefused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
export const socketDropped = (): Error =>
  Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

function bodyOf(b: unknown): Record<string, unknown> | undefined {
  if (b === undefined || b === null) return undefined;
  const text = typeof b === 'string' ? b : new TextDecoder().decode(b as Uint8Array);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * A fresh MockAgent for every test of the file (network refused, call history kept), handed to
 * `set`; after each test, every interceptor must have been used, and the agent is closed.
 */
export function useMockAgent(set: (agent: MockAgent) => void): void {
  let current: MockAgent | undefined;
  beforeEach(() => {
    current = new MockAgent({ enableCallHistory: true });
    current.disableNetConnect();
    set(current);
  });
  afterEach(async () => {
    current?.assertNoPendingInterceptors();
    await current?.close();
  });
}
