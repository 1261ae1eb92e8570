import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  importPrivateJwk,
  type Jwk,
} from '@campus-card/core';
import type { Incident, OfflineBatchResult } from '@campus-card/core/api';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import Database from 'better-sqlite3';
import type { InjectOptions } from 'fastify';
import { expect, onTestFinished, vi } from 'vitest';
import { createClock, createMockPlatform, type MockPlatform } from '../src/index.js';

/** A fresh directory in the system's temporary directory, removed when the running test finishes. */
export function testDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Makes the next COMMIT of a group-commit batch fail, once, as a full disk does: the batch is
 * rolled back. (Its error is logged: the log is silenced.)
 */
export function failNextCommit(p: MockPlatform): void {
  const { db } = p.state;
  const exec = db.exec;
  db.exec = ((sql: string) => {
    if (sql === 'COMMIT') {
      db.exec = exec;
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    }
    return exec.call(db, sql);
  }) as typeof db.exec;
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
}

export const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

export async function demoPlatform(
  extra: Parameters<typeof createMockPlatform>[0] = {},
): Promise<MockPlatform> {
  return createMockPlatform({
    dbPath: ':memory:',
    demo: true,
    clock: createClock({ start: T0, frozen: true }),
    pushIntervalMs: 50,
    ...extra,
  });
}

export interface Signer {
  readonly id: string;
  readonly jwk: Jwk;
}

export function deviceSigner(p: MockPlatform, id: string): Signer {
  const d = p.demo?.devices.find((x) => x.id === id) ?? p.demo?.merchants.find((x) => x.id === id);
  if (d !== undefined) return { id, jwk: d.privateJwk };
  if (id === p.demo?.operator.id) return { id, jwk: p.demo.operator.privateJwk };
  throw new Error(`no demo principal ${id}`);
}
export const operator = (p: MockPlatform): Signer => ({
  id: p.demo!.operator.id,
  jwk: p.demo!.operator.privateJwk,
});

/** Signs a request (RFC 9421) and returns inject options. */
export function signed(
  p: MockPlatform,
  signer: Signer | undefined,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  body?: unknown,
  opts: {
    idempotencyKey?: string | null;
    rawBody?: string;
    headers?: Record<string, string>;
    created?: number;
    nonce?: string;
  } = {},
): InjectOptions {
  const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
  const headers: Record<string, string> = {
    ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    ...opts.headers,
  };
  if (method === 'POST' && opts.idempotencyKey !== null)
    headers['idempotency-key'] = opts.idempotencyKey ?? randomUUID();
  if (signer !== undefined) {
    const sig = signRequest(
      { method, url: `http://localhost${url}`, headers, body: bytes },
      {
        keyId: signer.id,
        key: importSigningKey(signer.jwk as never),
        created: opts.created ?? p.clock.nowSeconds(),
        nonce: opts.nonce ?? randomBytes(12).toString('base64url'),
        // what the platform requires: `@query` with a query, `content-digest` with a body
        components: [
          '@method',
          '@path',
          ...(url.includes('?') ? ['@query'] : []),
          ...(bytes !== undefined && bytes.length > 0 ? ['content-digest'] : []),
        ],
      },
    );
    Object.assign(headers, sig);
  }
  return { method, url, headers, ...(payload === undefined ? {} : { payload }) };
}

/** A fresh QR code of a demo card. */
export async function qrOf(p: MockPlatform, personId: string, scene?: number, t?: number): Promise<string> {
  const c = p.demo?.cards.find((x) => x.personId === personId);
  if (c === undefined) throw new Error(`no card for ${personId}`);
  const credential = fromBase64Url(c.credential);
  if (credential === undefined) throw new Error('bad credential');
  const bytes = await createPresentation(
    { credential, t: t ?? p.clock.nowSeconds(), ...(scene === undefined ? {} : { scene }) },
    importPrivateJwk(c.holderPrivateJwk),
  );
  return encodeQr(bytes);
}

export function json<T = Record<string, unknown>>(res: { body: string }): T {
  return JSON.parse(res.body) as T;
}

/**
 * A digest of every table's content (every row, in rowid order, rowid included) and one of the
 * schema under `(schema)`, by table name: two calls differ where any row was inserted, updated or
 * deleted. `skip` leaves tables out (e.g. `nonces`, which every genuine signature adds to).
 */
export function tableDigests(p: MockPlatform, skip: ReadonlySet<string> = new Set()): Map<string, string> {
  const { db } = p.state;
  const master = db
    .prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name')
    .all() as {
    type: string;
    name: string;
    sql: string | null;
  }[];
  const out = new Map<string, string>();
  out.set('(schema)', createHash('sha256').update(JSON.stringify(master)).digest('hex'));
  for (const t of master) {
    if (t.type !== 'table' || skip.has(t.name)) continue;
    const name = `"${t.name.replaceAll('"', '""')}"`;
    const withRowid = !/without\s+rowid/i.test(t.sql ?? '');
    const columns = db.prepare(`SELECT * FROM ${name}`).columns().length;
    const order = withRowid ? 'rowid' : Array.from({ length: columns }, (_, i) => i + 1).join(', ');
    const h = createHash('sha256');
    const rows = db.prepare(`SELECT ${withRowid ? 'rowid, ' : ''}* FROM ${name} ORDER BY ${order}`).raw();
    for (const row of rows.iterate()) h.update(JSON.stringify(row));
    out.set(t.name, h.digest('hex'));
  }
  return out;
}

/** The tables whose digests differ between two {@link tableDigests}. */
export function changedTables(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((t) => a.get(t) !== b.get(t)).sort();
}

/** One request a {@link startReceiver} got. */
export interface Received {
  /** Path and query of the request (the subscription URL's). */
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Time of receipt by the given clock, epoch ms. */
  readonly at: number;
}

/** A push receiver: an HTTP server on 127.0.0.1, port 0, that keeps every request. */
export interface Receiver {
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  readonly received: Received[];
  /** Requests received on one path. */
  on(path: string): Received[];
  close(): Promise<void>;
}

/** Starts a {@link Receiver}; `answer` picks the status of each request (default 200). */
export async function startReceiver(
  clock: () => number = Date.now,
  answer: (r: Received, countOnPath: number) => number = () => 200,
): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '',
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: clock(),
      };
      received.push(r);
      res.statusCode = answer(r, received.filter((x) => x.path === r.path).length);
      res.end(res.statusCode < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    base,
    received,
    on: (path) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Adds a second school, `sch-b`, with a gate of its own, `gate-b`; returns the gate's signer. */
export async function schoolB(p: MockPlatform): Promise<Signer> {
  const op = operator(p);
  const k = generateKeyPair('ES256').privateKey;
  const s = await p.app.inject(signed(p, op, 'POST', '/v1/schools', { school_id: 'sch-b', name: 'B' }));
  expect(s.statusCode, s.body).toBe(201);
  const d = await p.app.inject(
    signed(p, op, 'POST', '/v1/devices', {
      school_id: 'sch-b',
      device_id: 'gate-b',
      type: 'gate',
      zone: 'gate:main',
      public_jwk: exportJwk(k.publicKey),
    }),
  );
  expect(d.statusCode, d.body).toBe(201);
  return { id: 'gate-b', jwk: exportJwk(k, { includePrivate: true }) };
}

/**
 * Resolves once a `delay` fault of `p` fires: the request it holds has reserved its idempotency
 * key and sleeps in the injected delay.
 */
export function whenDelayed(p: MockPlatform): Promise<void> {
  const fire = p.state.faults.fire.bind(p.state.faults);
  let delayed!: () => void;
  const sleeping = new Promise<void>((resolve) => {
    delayed = resolve;
  });
  p.state.faults.fire = (kind, site) => {
    const rule = fire(kind, site);
    if (kind === 'delay' && rule !== undefined) delayed();
    return rule;
  };
  return sleeping;
}

/**
 * Registers another POS of the student canteen (`m-canteen-s`, pos-01's merchant) with its own
 * ES256 key and offline caps (fen); returns its signer.
 */
export async function registerPos(
  p: MockPlatform,
  id: string,
  txCap = 5_000,
  deviceCap = 50_000,
): Promise<Signer> {
  const key = generateKeyPair('ES256').privateKey;
  const res = await p.app.inject(
    signed(p, operator(p), 'POST', '/v1/devices', {
      device_id: id,
      school_id: 'sch-demo',
      type: 'pos',
      zone: 'canteen:student',
      merchant_id: 'm-canteen-s',
      public_jwk: exportJwk(key.publicKey),
      offline_tx_cap: txCap,
      offline_device_cap: deviceCap,
    }),
  );
  expect(res.statusCode, res.body).toBe(201);
  expect(json(res)).toMatchObject({ offline_tx_cap: txCap, offline_device_cap: deviceCap });
  return { id, jwk: exportJwk(key, { includePrivate: true }) };
}

/** A person's wallet balance (fen), read from the ledger's accounts. */
export const walletBalance = (p: MockPlatform, person: string): number =>
  (
    p.state.db.prepare('SELECT balance FROM accounts WHERE account = ?').get(`wallet:${person}`) as {
      balance: number;
    }
  ).balance;

/** The demo's rows in a database file, by table (0 for a table not made yet). */
export function demoRows(path: string): Record<string, number> {
  const db = new Database(path);
  try {
    const count = (table: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) === undefined
        ? 0
        : (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return Object.fromEntries(
      ['schools', 'people', 'merchants', 'devices', 'cards', 'accounts', 'orders'].map((t) => [t, count(t)]),
    );
  } finally {
    db.close();
  }
}

/** {@link demoRows} of the whole demo: 5 wallets and the top-up channel's account, 5 top-ups. */
export const FULL_DEMO = {
  schools: 1,
  people: 7,
  merchants: 5,
  devices: 7,
  cards: 7,
  accounts: 6,
  orders: 5,
};
/** {@link demoRows} of a database without the demo. */
export const NO_DEMO = { schools: 0, people: 0, merchants: 0, devices: 0, cards: 0, accounts: 0, orders: 0 };

/** An ISO time of unix seconds `t` (an offline item's `captured_at`, an event's `occurred_at`). */
export const isoAt = (t: number): string => new Date(t * 1000).toISOString();

/** The demo card of `person`. */
export function cardOf(p: MockPlatform, person: string): string {
  const card = p.demo?.cards.find((c) => c.personId === person);
  if (card === undefined) throw new Error(`no demo card for ${person}`);
  return card.cardId;
}

/** The operator's view of the incidents. */
export const incidentsOf = async (p: MockPlatform): Promise<Incident[]> =>
  json<{ data: Incident[] }>(await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents'))).data;

/** Uploads a batch of offline payments as `dev`, expecting a 200. */
export async function uploadOffline(
  p: MockPlatform,
  dev: Signer,
  items: object[],
): Promise<OfflineBatchResult> {
  const res = await p.app.inject(signed(p, dev, 'POST', '/v1/payments/offline-batches', { items }));
  if (res.statusCode !== 200) throw new Error(`offline batch: ${res.statusCode} ${res.body}`);
  return json<OfflineBatchResult>(res);
}

/** An online payment of a scanned code, as `dev`. */
export const payWithCode = (p: MockPlatform, dev: Signer, no: string, amount: number, qr: string) =>
  p.app.inject(signed(p, dev, 'POST', '/v1/payments', { out_trade_no: no, amount, qr_text: qr }));
