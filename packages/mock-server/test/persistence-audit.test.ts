/**
 * Persistence and restarts: a platform killed (SIGKILL) under load and started again on the same
 * file, database files it must refuse or migrate, two processes on one file, the recording file
 * across restarts, and closing twice or with work in flight.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk, type Jwk } from '@campus-card/core';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../.scripts/lib/bundle.mjs';
import { parseCliArgs, startupFailure } from '../src/cli.js';
import { MIGRATIONS, NotAPlatformDatabaseError, openDatabase } from '../src/lib/db.js';
import { createMockPlatform } from '../src/platform.js';
import { freePort, type Run, startRun } from './child-run.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
const bundleDir = mkdtempSync(join(repoRoot, '.tmp', 'persistence-audit-'));
const cli = join(bundleDir, 'cli.mjs');
const work = mkdtempSync(join(tmpdir(), 'cc-persist-'));

beforeAll(async () => {
  await bundleForNode(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), cli);
}, 60_000);
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) c.kill('SIGKILL');
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

// ---- processes -------------------------------------------------------------------------------

function start(args: string[]): Run {
  const { PORT: _port, npm_lifecycle_event: _e, npm_command: _c, ...env } = process.env;
  return startRun(process.execPath, [cli, ...args], { cwd: work, env }, running);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Printed {
  operator: { id: string; privateJwk: Jwk };
  devices: { id: string; privateJwk: Jwk }[];
  cards: {
    card_id: string;
    person_id: string;
    holder_private_jwk: Jwk;
    credential: string;
    physical_uid_hex: string | null;
  }[];
}

/** Waits for the demo credentials and /health; returns what was printed. */
async function ready(run: Run, port: number): Promise<Printed> {
  const end = Date.now() + 30_000;
  let gone = false;
  void run.exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`exited early:\n${run.out()}\n${run.err()}`);
    if (Date.now() > end) throw new Error(`not ready:\n${run.out()}\n${run.err()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok && run.out().includes('Demo cards')) break;
    await sleep(50);
  }
  let last = '';
  while (last !== run.out()) {
    last = run.out();
    await sleep(50);
  }
  const credsStart = last.indexOf('{', last.indexOf('Demo credentials'));
  const cardsHeader = last.indexOf('Demo cards');
  const creds = JSON.parse(last.slice(credsStart, cardsHeader)) as Omit<Printed, 'cards'>;
  const cards = last
    .slice(last.indexOf('\n', cardsHeader) + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Printed['cards'][number]);
  return { ...creds, cards };
}

// ---- signed requests that can be sent again byte for byte ------------------------------------

interface Req {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

function sign(
  base: string,
  signer: { id: string; privateJwk: Jwk },
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  idempotencyKey: string = randomUUID(),
): Req {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
  const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json' };
  if (method === 'POST') headers['idempotency-key'] = idempotencyKey;
  Object.assign(
    headers,
    signRequest(
      { method, url: `${base}${path}`, headers, body: bytes },
      {
        keyId: signer.id,
        key: importSigningKey(signer.privateJwk as never),
        created: Math.floor(Date.now() / 1000),
        nonce: randomBytes(12).toString('base64url'),
        components:
          bytes === undefined
            ? ['@method', '@path', '@query']
            : ['@method', '@path', '@query', 'content-digest'],
      },
    ),
  );
  return { method, path, headers, body: payload };
}

async function send(base: string, req: Req): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${req.path}`, {
    method: req.method,
    headers: req.headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function qrOf(card: Printed['cards'][number], scene: number): Promise<string> {
  return encodeQr(
    await createPresentation(
      { credential: fromBase64Url(card.credential)!, t: Math.floor(Date.now() / 1000), scene },
      importPrivateJwk(card.holder_private_jwk),
    ),
  );
}

// ---- the tests -------------------------------------------------------------------------------

describe('a platform killed (SIGKILL) under load, started again on the same file', () => {
  it('keeps every acknowledged top-up, payment, refund and event batch once; replays answers, refuses used nonces, dedupes seqs; the ledger balances', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const db = join(work, 'killed', 'platform.db');
    const first = start(['--port', String(port), '--db', db]);
    const printed = await ready(first, port);
    const op = printed.operator;
    const pos = printed.devices.find((d) => d.id === 'pos-01')!;
    const gate = printed.devices.find((d) => d.id === 'gate-01')!;
    const students = printed.cards.filter((c) => c.person_id.startsWith('s-'));

    // before the load: a payment, its refund, an event batch: all acknowledged
    const card = students[0]!;
    const topUp0 = sign(base, op, 'POST', `/v1/wallets/${card.person_id}/top-ups`, {
      out_trade_no: 'K-TOPUP-0',
      amount: 100_000,
      channel: 'bank',
    });
    expect((await send(base, topUp0)).status).toBe(201);
    const pay = sign(base, pos, 'POST', '/v1/payments', {
      out_trade_no: 'K-PAY-0',
      amount: 500,
      qr_text: await qrOf(card, 2),
    });
    const paid = await send(base, pay);
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    const refund = sign(base, pos, 'POST', '/v1/payments/K-PAY-0/refunds', {
      out_refund_no: 'K-REF-0',
      amount: 200,
    });
    const refunded = await send(base, refund);
    expect(refunded.status, JSON.stringify(refunded.body)).toBeLessThan(300);
    const at = new Date(Date.now() - 5000).toISOString();
    const events = sign(base, gate, 'POST', '/v1/events/batches', {
      events: [
        { seq: 1, kind: 'access', occurred_at: at, uid_hex: card.physical_uid_hex, decision: 'allowed' },
      ],
    });
    const evAnswer = await send(base, events);
    expect(evAnswer.status, JSON.stringify(evAnswer.body)).toBeLessThan(300);

    // the load: top-ups on 40 connections, killed while requests are in flight
    const acked = new Map<string, { req: Req; status: number; body: Record<string, unknown> }>();
    const sent = new Map<string, Req>();
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const no = `K-TOPUP-L${n++}`;
        const person = students[n % (students.length - 1)]!.person_id;
        const req = sign(base, op, 'POST', `/v1/wallets/${person}/top-ups`, {
          out_trade_no: no,
          amount: 1 + (n % 97),
          channel: 'bank',
        });
        sent.set(no, req);
        try {
          const res = await send(base, req);
          if (res.status === 201) acked.set(no, { req, ...res });
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const workers = Array.from({ length: 40 }, worker);
    while (acked.size < 300) await sleep(10);
    // and a few that are surely in flight at the kill: held back by an injected delay
    const held = students.at(-1)!.person_id;
    const fault = await fetch(`${base}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ kind: 'delay', delay_ms: 60_000, route: `/v1/wallets/${held}` }] }),
    });
    expect(fault.status).toBe(200);
    const heldBack = Array.from({ length: 5 }, (_, i) => {
      const no = `K-TOPUP-HELD${i}`;
      const req = sign(base, op, 'POST', `/v1/wallets/${held}/top-ups`, {
        out_trade_no: no,
        amount: 7,
        channel: 'bank',
      });
      sent.set(no, req);
      return send(base, req).catch(() => undefined);
    });
    await sleep(300);
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all([...workers, ...heldBack]);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const second = start(['--port', String(port), '--db', db]);
    await ready(second, port);
    try {
      // every acknowledged top-up is there, once, as answered
      for (const [no, a] of acked) {
        const got = await send(base, sign(base, op, 'GET', `/v1/payments/${no}`));
        expect(got.status, no).toBe(200);
        expect(got.body).toMatchObject({ status: 'success', amount: a.body.amount });
      }
      // the same key, signed again: the same answer, nothing booked twice
      for (const [no, a] of [...acked].slice(0, 20)) {
        const again = sign(
          base,
          op,
          'POST',
          a.req.path,
          JSON.parse(a.req.body!),
          a.req.headers['idempotency-key'],
        );
        const res = await send(base, again);
        expect([res.status, res.body], no).toEqual([a.status, a.body]);
      }
      // the very same bytes again: the nonce was used
      for (const req of [topUp0, pay, refund, events, ...[...acked.values()].slice(0, 5).map((a) => a.req)]) {
        const res = await send(base, req);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('ERR_SIG_NONCE_REPLAYED');
      }
      // the payment and refund with their keys answer as before
      const payAgain = await send(
        base,
        sign(base, pos, 'POST', '/v1/payments', JSON.parse(pay.body!), pay.headers['idempotency-key']),
      );
      expect([payAgain.status, payAgain.body]).toEqual([paid.status, paid.body]);
      const refundAgain = await send(
        base,
        sign(base, pos, 'POST', refund.path, JSON.parse(refund.body!), refund.headers['idempotency-key']),
      );
      expect([refundAgain.status, refundAgain.body]).toEqual([refunded.status, refunded.body]);
      // the event seq is deduplicated (a new key: not an idempotent replay)
      const evAgain = await send(
        base,
        sign(base, gate, 'POST', '/v1/events/batches', JSON.parse(events.body!)),
      );
      expect(evAgain.status, JSON.stringify(evAgain.body)).toBeLessThan(300);
      expect(evAgain.body).toMatchObject({ accepted: 0, duplicates: 1 });
      // a request sent but never answered was booked or not: a retry with its key books it once
      const unanswered = [...sent].filter(([no]) => !acked.has(no));
      expect(unanswered.length).toBeGreaterThanOrEqual(5);
      for (const [no, req] of unanswered) {
        const retry = sign(base, op, 'POST', req.path, JSON.parse(req.body!), req.headers['idempotency-key']);
        const res = await send(base, retry);
        expect(res.status, `${no} ${JSON.stringify(res.body)}`).toBe(201);
        const again = await send(
          base,
          sign(base, op, 'POST', req.path, JSON.parse(req.body!), req.headers['idempotency-key']),
        );
        expect(again.body, no).toEqual(res.body);
      }
      const check = await send(base, sign(base, op, 'GET', '/v1/ledger/check'));
      expect(check.status).toBe(200);
      expect(check.body, JSON.stringify(check.body)).toMatchObject({ balanced: true });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 120_000);
});

// ---- database files it must not take -----------------------------------------------------------

/** Every table of a SQLite file, and its journal mode, as another program sees it. */
function shapeOf(path: string): { tables: string[]; journal: unknown } {
  const raw = new Database(path, { readonly: true });
  try {
    const tables = (
      raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    return { tables, journal: raw.pragma('journal_mode', { simple: true }) };
  } finally {
    raw.close();
  }
}

describe("another program's SQLite database", () => {
  const foreignDb = (name: string): string => {
    const path = join(work, name);
    const raw = new Database(path);
    raw.exec(
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine')",
    );
    raw.close();
    return path;
  };

  it('is refused with a typed error, and left as it was (no tables added, not switched to WAL)', async () => {
    const path = foreignDb('foreign-app.db');
    const before = shapeOf(path);
    expect(before).toEqual({ tables: ['notes'], journal: 'delete' });
    let error: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NotAPlatformDatabaseError);
    expect(error).toMatchObject({ code: 'ERR_NOT_A_PLATFORM_DATABASE' });
    await expect(createMockPlatform({ dbPath: path, demo: true })).rejects.toBeInstanceOf(
      NotAPlatformDatabaseError,
    );
    expect(shapeOf(path)).toEqual(before);
    // the CLI: one line, exit 1
    expect(startupFailure(error, parseCliArgs(['--db', path], {}))).toEqual({
      exitCode: 1,
      message: `cannot open database ${path}: ${(error as Error).message}`,
    });
  });

  it('the CLI exits 1 with one line naming it, and leaves the file as it was', async () => {
    const path = foreignDb('foreign-cli.db');
    const run = start(['--port', '0', '--db', path]);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 10_000); // it must not start
    expect(await run.exited, run.out()).toEqual({ code: 1, signal: null });
    clearTimeout(timer);
    expect(run.err()).toMatch(new RegExp(`^campus-card-mock: cannot open database ${path}: [^\n]+\n$`));
    expect(shapeOf(path)).toEqual({ tables: ['notes'], journal: 'delete' });
  });

  it('an empty file, and a database of this platform at any earlier migration, still open', async () => {
    const empty = join(work, 'empty.db');
    writeFileSync(empty, '');
    openDatabase(empty).close();
    const p = await createMockPlatform({ dbPath: empty, demo: true });
    expect(p.demo?.cards.length).toBeGreaterThan(0);
    await p.close();
    for (const upTo of [1, 2, 5, 10, 13]) {
      const path = join(work, `at-migration-${upTo}.db`);
      const raw = new Database(path);
      raw.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      for (const m of MIGRATIONS.filter((x) => x.version <= upTo)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
      }
      raw.close();
      const q = await createMockPlatform({ dbPath: path, demo: true });
      expect(q.state.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get(), path).toBe(
        MIGRATIONS.at(-1)?.version,
      );
      await q.close();
    }
  });
});

// ---- the recording file across restarts --------------------------------------------------------

describe('the recording file across restarts', () => {
  it('a file whose last line was cut short (a crash, a full disk) gets whole lines after it, never glued to it', async () => {
    const file = join(work, 'rec', 'cut.jsonl');
    mkdirSync(join(work, 'rec'), { recursive: true });
    writeFileSync(
      file,
      '{"kind":"request","at":"2026-01-05T08:00:00.000Z"}\n{"kind":"request","at":"2026-01',
    );
    const p = await createMockPlatform({ recordFile: file });
    await p.app.inject({ method: 'GET', url: '/health' });
    await p.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.at(-1)).toBe(''); // ends with a newline
    expect(lines[1]).toBe('{"kind":"request","at":"2026-01'); // the cut line stays, alone
    const appended = lines.slice(2, -1);
    expect(appended.length).toBeGreaterThan(0);
    for (const l of appended) expect(() => JSON.parse(l), l).not.toThrow();
  });

  it('two starts on one file append; nothing is truncated', async () => {
    const file = join(work, 'rec', 'twice.jsonl');
    for (let i = 0; i < 2; i++) {
      const p = await createMockPlatform({ recordFile: file });
      await p.app.inject({ method: 'GET', url: '/health' });
      await p.close();
    }
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.filter((l) => JSON.parse(l).url === '/health')).toHaveLength(2);
    appendFileSync(file, ''); // (still a regular file)
    expect(statSync(file).isFile()).toBe(true);
  });

  it('a folder the system refuses to create (under /proc) is an error, not a process spinning for ever', async () => {
    const bundle = join(bundleDir, 'recorder.mjs');
    await bundleForNode(fileURLToPath(new URL('../src/lib/recorder.ts', import.meta.url)), bundle);
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createRecorder } = await import(${JSON.stringify(bundle)});
         try { createRecorder({ file: '/proc/campus-card-audit/rec.jsonl' }); console.log('opened'); }
         catch (e) { console.log('error', e.code); }`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const exited = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    clearTimeout(timer);
    running.delete(child);
    expect(exited, out).toEqual({ code: 0, signal: null });
    expect(out).toMatch(/^error E[A-Z]+\n$/);
  }, 20_000);
});

// ---- close ---------------------------------------------------------------------------------------

describe('close()', () => {
  it('a second call while the first is under way resolves only once everything is closed', async () => {
    const file = join(work, 'close-twice', 'rec.jsonl');
    const p = await createMockPlatform({
      dbPath: join(work, 'close-twice', 'platform.db'),
      recordFile: file,
    });
    await p.app.inject({ method: 'GET', url: '/health' });
    const first = p.close();
    await p.close();
    expect(p.state.db.open).toBe(false);
    expect(readFileSync(file, 'utf8')).toMatch(/"\/health"/);
    await first;
    await p.close(); // and again, after
  });
});
