/**
 * `campus-card-mock` (src/cli.ts) and the root `npm start` (.scripts/start.mjs), as child
 * processes: the port (`--port`, `PORT`, default 8080), the printed URLs and demo credentials
 * (which must work), /health, persistence across a restart, and a clean stop on SIGTERM (also
 * while it loads the demo, which it loads whole or not at all, as do two starts on one new file).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk, type Jwk } from '@campus-card/core';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../.scripts/lib/bundle.mjs';
import { CliUsageError, parseCliArgs, startupFailure } from '../src/cli.js';
import { DemoIncompleteError, DemoSeedMismatchError } from '../src/demo.js';
import { SchemaTooNewError } from '../src/lib/db.js';
import { freePort, type Run, startRun } from './child-run.js';
import { demoRows, FULL_DEMO, NO_DEMO } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
// The bundle lives under the repository's (ignored) .tmp so that it resolves better-sqlite3 from
// the repository's node_modules, as `npm start`'s bundle does (the checkpointer of a file
// database resolves it at run time).
mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
const bundleDir = mkdtempSync(join(repoRoot, '.tmp', 'cli-test-'));
const cli = join(bundleDir, 'cli.mjs');
const work = mkdtempSync(join(tmpdir(), 'cc-mock-cli-'));

beforeAll(async () => {
  await bundleForNode(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), cli);
}, 60_000);
afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

// ---- processes and ports -----------------------------------------------------------------

/** Environment without PORT (the tests decide it). */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { PORT: _port, ...rest } = process.env;
  return { ...rest, ...extra };
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) c.kill('SIGKILL');
});

function start(args: string[], environment: NodeJS.ProcessEnv, script: string | null = cli): Run {
  // script null: `args` are a shell's (sh -c '…'), as npm runs a script
  return script === null
    ? startRun('sh', args, { cwd: work, env: environment }, running)
    : startRun(process.execPath, [script, ...args], { cwd: work, env: environment }, running);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the process answers /health on `port` and its output has settled; resolves
 * with the output, or throws with what it printed if it exits first.
 */
async function ready(run: Run, port: number, ms = 30_000): Promise<string> {
  let gone = false;
  void run.exited.then(() => {
    gone = true;
  });
  const end = Date.now() + ms;
  for (;;) {
    if (gone) throw new Error(`exited early:\n${run.out()}\n${run.err()}`);
    if (Date.now() > end) throw new Error(`not ready on ${port}:\n${run.out()}\n${run.err()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok && run.out().includes('Demo cards')) break;
    await sleep(50);
  }
  // everything is printed before the first request is answered; let the pipe drain
  let last = '';
  while (last !== run.out()) {
    last = run.out();
    await sleep(50);
  }
  return last;
}

async function canBind(port: number): Promise<boolean> {
  const s = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

/** SIGTERM: the process closes and exits 0, with nothing on stderr, and frees its port. */
async function stopsCleanly(run: Run, port: number): Promise<void> {
  run.child.kill('SIGTERM');
  expect(await run.exited).toEqual({ code: 0, signal: null });
  expect(run.err()).toBe('');
  expect(await canBind(port)).toBe(true);
}

// ---- what it prints ----------------------------------------------------------------------

interface Printed {
  url: string;
  lines: string[];
  credentials: {
    school_id: string;
    root_public_jwk: Jwk;
    operator: { id: string; privateJwk: Jwk };
    devices: {
      id: string;
      type: string;
      zone: string;
      privateJwk: Jwk;
      merchantId: string | null;
      offlineTxCap: number;
      offlineDeviceCap: number;
      offlineDayUtcOffset: string;
    }[];
    merchants: { id: string; privateJwk: Jwk }[];
  };
  cards: { card_id: string; person_id: string; role: string; holder_private_jwk: Jwk; credential: string }[];
}

function parse(out: string): Printed {
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
  if (url === undefined) throw new Error(`no URL printed:\n${out}`);
  const credsStart = out.indexOf('{', out.indexOf('Demo credentials'));
  const cardsHeader = out.indexOf('Demo cards');
  const credentials = JSON.parse(out.slice(credsStart, cardsHeader)) as Printed['credentials'];
  const cards = out
    .slice(out.indexOf('\n', cardsHeader) + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Printed['cards'][number]);
  return { url, lines: out.split('\n'), credentials, cards };
}

/** A signed request (RFC 9421) to a running server, on the real clock. */
async function call(
  base: string,
  signer: { id: string; privateJwk: Jwk },
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
  const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json' };
  if (method === 'POST') headers['idempotency-key'] = randomUUID();
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
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The printed URLs and credentials are those of the running server, and they work. */
async function checkPrinted(out: string, port: number): Promise<Printed> {
  const printed = parse(out);
  const base = `http://127.0.0.1:${port}`;
  expect(printed.url).toBe(base);
  expect(printed.lines).toContain(`  OpenAPI:  ${base}/openapi.json`);
  expect(printed.lines).toContain(`  health:   ${base}/health`);
  const health = await fetch(`${base}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok' });
  const openapi = await fetch(`${base}/openapi.json`);
  expect(openapi.status).toBe(200);
  expect(await openapi.json()).toMatchObject({ openapi: expect.stringMatching(/^3\.1/) });

  const { credentials, cards } = printed;
  expect(credentials.operator.id).toBe('op-demo');
  expect(credentials.devices.map((d) => d.id)).toEqual(expect.arrayContaining(['gate-01', 'pos-01']));
  expect(credentials.merchants.map((m) => m.id)).toContain('m-canteen-s');
  for (const p of [credentials.operator, ...credentials.devices, ...credentials.merchants]) {
    expect(p.privateJwk.d, `${p.id} has a private key`).toEqual(expect.any(String));
  }
  // a reader's trust anchor, printed: the school root key the signed route serves, public only
  const root = await call(base, credentials.operator, 'GET', `/v1/schools/${credentials.school_id}/root-key`);
  expect(root.status, JSON.stringify(root.body)).toBe(200);
  expect(credentials.root_public_jwk).toEqual(root.body.jwk);
  expect(credentials.root_public_jwk).not.toHaveProperty('d');
  // each device's merchant and offline caps, as its own device route answers them
  for (const d of credentials.devices) {
    const got = await call(base, d, 'GET', `/v1/devices/${d.id}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect([d.merchantId, d.offlineTxCap, d.offlineDeviceCap, d.offlineDayUtcOffset], d.id).toEqual([
      got.body.merchant_id,
      got.body.offline_tx_cap,
      got.body.offline_device_cap,
      got.body.offline_day_utc_offset,
    ]);
  }
  // a vendor needs nothing but the printed text to pay: the printed phone key presents the
  // printed credential (the card's current one), the POS key signs the payment
  const card = cards.find((c) => c.person_id === 's-001');
  expect(card?.holder_private_jwk.d).toEqual(expect.any(String));
  const got = await call(base, credentials.operator, 'GET', `/v1/cards/${card!.card_id}`);
  expect(got.status, JSON.stringify(got.body)).toBe(200);
  expect(card!.credential).toBe(got.body.credential);
  for (const c of cards) expect(fromBase64Url(c.credential), c.card_id).toBeDefined();
  const qr = encodeQr(
    await createPresentation(
      {
        credential: fromBase64Url(card!.credential)!,
        t: Math.floor(Date.now() / 1000),
        scene: 2,
      },
      importPrivateJwk(card!.holder_private_jwk),
    ),
  );
  const pos = credentials.devices.find((d) => d.id === 'pos-01')!;
  const paid = await call(base, pos, 'POST', '/v1/payments', {
    out_trade_no: `CLI-${randomUUID().slice(0, 8)}`,
    amount: 150,
    qr_text: qr,
  });
  expect(paid.status, JSON.stringify(paid.body)).toBe(201);
  expect(paid.body).toMatchObject({
    status: 'success',
    amount: 150,
    person_id: 's-001',
    device_id: 'pos-01',
  });
  return printed;
}

// ---- the tests ---------------------------------------------------------------------------

describe('campus-card-mock', () => {
  it('--port wins over PORT; prints the URLs and working demo credentials; /health answers; SIGTERM stops it cleanly', async () => {
    const [port, other] = [await freePort(), await freePort()];
    const run = start(['--port', String(port), '--db', ':memory:'], env({ PORT: String(other) }));
    const out = await ready(run, port);
    expect(out).toContain('  database: :memory:');
    await checkPrinted(out, port);
    expect(await canBind(other)).toBe(true); // PORT was not used
    await stopsCleanly(run, port);
  });

  it('honours PORT; a file database survives a SIGTERM and a restart', async () => {
    const port = await freePort();
    const db = join(work, 'data', 'platform.db');
    const first = start(['--db', db], env({ PORT: String(port) }));
    const printed = parse(await ready(first, port));
    expect(printed.url).toBe(`http://127.0.0.1:${port}`);
    expect(printed.lines).toContain(`  database: ${db}`);
    const base = printed.url;
    const op = printed.credentials.operator;
    const topUp = await call(base, op, 'POST', '/v1/wallets/s-002/top-ups', {
      out_trade_no: 'CLI-TOPUP-1',
      amount: 1234,
      channel: 'bank',
    });
    expect(topUp.status, JSON.stringify(topUp.body)).toBe(201);
    const before = (await call(base, op, 'GET', '/v1/wallets/s-002')).body.balance as number;
    await stopsCleanly(first, port);

    const second = start(['--db', db], env({ PORT: String(port) }));
    const again = parse(await ready(second, port));
    // the same seed: the same credentials; the same file: the same data
    expect(again.credentials).toEqual(printed.credentials);
    expect((await call(base, op, 'GET', '/v1/wallets/s-002')).body.balance).toBe(before);
    const order = await call(base, op, 'GET', '/v1/payments/CLI-TOPUP-1');
    expect(order.body).toMatchObject({ status: 'success', amount: 1234 });
    await stopsCleanly(second, port);
  });

  it('refuses a bad --port, PORT, --day-utc-offset or an unknown option with exit code 2, prefixed as every failure is', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['--port', '70000'], {}, 'invalid port 70000'],
      [['--port', 'http'], { PORT: '9' }, 'invalid port http'],
      [[], { PORT: '-1' }, 'invalid port -1'],
      [['--port', '0x1F90'], {}, 'invalid port 0x1F90 (--port): a whole number from 0 to 65535'],
      [[], { PORT: '9000abc' }, 'invalid port 9000abc (PORT)'],
      [['--day-utc-offset', '+15:00'], {}, '--day-utc-offset must be a UTC offset ±HH:MM'],
      [['--seed', '1.5'], {}, 'invalid seed 1.5: a decimal integer'],
      [['--bogus'], {}, "Unknown option '--bogus'"],
    ];
    await Promise.all(
      cases.map(async ([args, extra, message]) => {
        const run = start([...args, '--db', ':memory:'], env(extra));
        expect(await run.exited).toEqual({ code: 2, signal: null });
        // the message on the first line, after the command's name; then the usage
        expect(run.err().startsWith(`campus-card-mock: ${message}`), run.err()).toBe(true);
        expect(run.err()).toContain('usage: campus-card-mock');
        expect(run.out()).toBe('');
      }),
    );
  });
});

describe('startup failures: one line on stderr, no stack trace', () => {
  it('a port in use (from --port or PORT) exits 1 saying so', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      for (const [args, extra] of [
        [['--port', String(port)], {}],
        [[], { PORT: String(port) }],
      ] as const) {
        const run = start([...args, '--db', ':memory:'], env(extra));
        expect(await run.exited).toEqual({ code: 1, signal: null });
        expect(run.err()).toBe(
          `campus-card-mock: port ${port} is in use on 127.0.0.1 (set PORT or --port)\n`,
        );
        expect(run.out()).toBe('');
      }
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  it('a database that cannot be opened exits 1 naming the file and why', async () => {
    const notADb = join(work, 'not-a-database.db');
    writeFileSync(notADb, 'hello, this is text\n'.repeat(20));
    const cases: [string, string][] = [
      [notADb, 'file is not a database'],
      [work, 'unable to open database file'], // a folder
      [join(notADb, 'platform.db'), ''], // its folder would be a file
      // a folder the system refuses to create under a parent that exists (recursive mkdirSync
      // loops for ever there)
      ['/proc/campus-card-test/platform.db', ''],
    ];
    await Promise.all(
      cases.map(async ([db, why]) => {
        const run = start(['--port', '0', '--db', db], env());
        expect(await run.exited, db).toEqual({ code: 1, signal: null });
        const err = run.err();
        expect(err.startsWith(`campus-card-mock: cannot open database ${db}: ${why}`), err).toBe(true);
        expect(err.split('\n'), err).toHaveLength(2); // one line
      }),
    );
  });

  it('a recording file that cannot be written exits 1 naming it', async () => {
    const file = join(work, 'not-a-database.db', 'record.jsonl');
    writeFileSync(join(work, 'not-a-database.db'), 'text\n');
    const run = start(['--port', '0', '--db', ':memory:', '--record', file], env());
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.err()).toMatch(new RegExp(`^campus-card-mock: cannot write the recording ${file}: [^\n]+\n$`));
  });

  it('startupFailure: the line and exit code of each failure', () => {
    const options = parseCliArgs(['--port', '9000', '--db', 'data/p.db'], {});
    const failure = (error: unknown) => startupFailure(error, options);
    const sys = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });
    expect(failure(sys('EADDRINUSE', { syscall: 'listen' }))).toEqual({
      exitCode: 1,
      message: 'port 9000 is in use on 127.0.0.1 (set PORT or --port)',
    });
    expect(failure(sys('EACCES', { syscall: 'listen' })).message).toBe(
      'no permission to listen on port 9000 of 127.0.0.1 (set PORT or --port)',
    );
    expect(failure(sys('EADDRNOTAVAIL')).message).toContain('not an address of this machine (--host)');
    expect(failure(sys('ENOTFOUND')).message).toContain('unknown host (--host)');
    expect(failure(new SchemaTooNewError(99, 12))).toEqual({
      exitCode: 1,
      message:
        'cannot open database data/p.db: the database schema is at version 99, newer than this version of the mock platform knows (12): use the newer version, or a fresh database',
    });
    const sqlite = Object.assign(new Error('file is not a database'), {
      name: 'SqliteError',
      code: 'SQLITE_NOTADB',
    });
    expect(failure(sqlite).message).toBe('cannot open database data/p.db: file is not a database');
    expect(failure(sys('EACCES', { syscall: 'mkdir', path: 'data' })).message).toBe(
      'cannot open database data/p.db: EACCES',
    );
    expect(failure(sys('EACCES', { syscall: 'open', path: 'elsewhere' })).message).toBe(
      'cannot start: EACCES',
    );
    expect(failure(new DemoSeedMismatchError(3, 5))).toEqual({
      exitCode: 2,
      message:
        'the demo data in data/p.db was made with --seed 5, not 3: start with --seed 5, or use a fresh --db (another file, or :memory:)',
    });
    expect(failure(new DemoIncompleteError(new Error('demo setup failed: {}')))).toEqual({
      exitCode: 1,
      message:
        'the demo data in data/p.db is incomplete (an earlier start was stopped while loading it) and could not be completed (demo setup failed: {}): delete data/p.db, or use another --db',
    });
    expect(failure(new DemoSeedMismatchError(3, undefined)).message).toBe(
      'the demo data in data/p.db was made with another seed than 3 (its keys do not match): start with the --seed it was made with, or use a fresh --db (another file, or :memory:)',
    );
  });
});

describe('a database made with another --seed', () => {
  it('is refused with exit 2 naming the seed its demo data needs; with that seed it starts', async () => {
    const port = await freePort();
    const db = join(work, 'seeded', 'platform.db');
    const first = start(['--db', db, '--seed', '5', '--port', String(port)], env());
    const printed = parse(await ready(first, port));
    await stopsCleanly(first, port);

    for (const args of [['--seed', '7'], []]) {
      const given = args[1] ?? '1';
      const wrong = start(['--db', db, '--port', String(port), ...args], env());
      expect(await wrong.exited).toEqual({ code: 2, signal: null });
      expect(wrong.err()).toBe(
        `campus-card-mock: the demo data in ${db} was made with --seed 5, not ${given}: start with --seed 5, or use a fresh --db (another file, or :memory:)\n`,
      );
      expect(wrong.out()).toBe('');
    }

    const again = start(['--db', db, '--seed', '5', '--port', String(port)], env());
    const out = await ready(again, port);
    expect(parse(out).credentials).toEqual(printed.credentials);
    await checkPrinted(out, port); // the printed credentials work
    await stopsCleanly(again, port);
  }, 60_000);
});

describe('the demo data of a new database file', () => {
  it('stopped while it starts (SIGTERM: exit 0; SIGKILL: a crash) it leaves all of the demo or none; the next start has all of it', async () => {
    // A SIGTERM is handled once the start gives the event loop a turn, and exits 0 at once; a
    // SIGKILL stops it anywhere, in the middle of the demo load too (a version that committed each
    // step on its own left half a demo there). Timed from when the database file appears (the
    // signal handlers are set by then), the signals land in the migrations, the demo load, or later.
    const stops: [NodeJS.Signals, number][] = [
      ['SIGTERM', 0],
      ['SIGKILL', 100],
      ['SIGKILL', 250],
    ];
    // at once, each on its own file
    const dbs = await Promise.all(
      stops.map(async ([signal, delay]) => {
        const db = join(work, `stopped-${signal}-${delay}`, 'platform.db');
        const first = start(['--db', db, '--port', '0'], env());
        let gone = false;
        void first.exited.then(() => {
          gone = true;
        });
        const end = Date.now() + 30_000;
        while (!existsSync(db)) {
          if (gone || Date.now() > end) throw new Error(`no database file:\n${first.out()}\n${first.err()}`);
          await sleep(2);
        }
        await sleep(delay);
        first.child.kill(signal);
        expect(await first.exited).toEqual(
          signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' },
        );
        expect(first.err()).toBe('');
        expect([NO_DEMO, FULL_DEMO], `${signal} ${delay} ms after the file appeared`).toContainEqual(
          demoRows(db),
        );
        return db;
      }),
    );

    // the next starts, at once (each on its own file)
    const printed = await Promise.all(
      dbs.map(async (db) => {
        const port = await freePort();
        const again = start(['--db', db, '--port', String(port)], env());
        const out = await ready(again, port);
        const p = await checkPrinted(out, port); // s-001's printed phone key and credential pay
        expect(p.cards.map((c) => c.person_id).sort(), db).toEqual([
          'p-001',
          'p-002',
          's-001',
          's-002',
          's-003',
          't-001',
          't-002',
        ]);
        await stopsCleanly(again, port);
        // the whole demo, and checkPrinted's payment (its order, the merchant's account)
        expect(demoRows(db), db).toEqual({ ...FULL_DEMO, orders: 6, accounts: 7 });
        return p;
      }),
    );
    for (const p of printed) expect(p.credentials).toEqual(printed[0]?.credentials);
  }, 120_000);

  it('two starts at once on a new file both print the whole demo, the same', async () => {
    const db = join(work, 'shared', 'platform.db');
    const ports = [await freePort(), await freePort()];
    const runs = ports.map((port) => start(['--db', db, '--port', String(port)], env()));
    const outs = await Promise.all(runs.map((run, i) => ready(run, ports[i] as number)));
    const [a, b] = outs.map(parse) as [Printed, Printed];
    expect(a.cards).toHaveLength(7);
    expect(b.credentials).toEqual(a.credentials);
    expect(b.cards).toEqual(a.cards);
    for (const [i, run] of runs.entries()) await stopsCleanly(run, ports[i] as number);
    expect(demoRows(db)).toEqual(FULL_DEMO);
  }, 60_000);
});

describe('npm start', () => {
  it('runs .scripts/start.mjs, which honours PORT and passes arguments; SIGTERM stops both cleanly', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).toBe('node .scripts/start.mjs');
    const port = await freePort();
    const run = start(
      ['--db', ':memory:'],
      env({ PORT: String(port) }),
      join(repoRoot, '.scripts', 'start.mjs'),
    );
    const out = await ready(run, port, 60_000);
    await checkPrinted(out, port);
    await stopsCleanly(run, port);
  }, 60_000);
});

describe('launched by npm', () => {
  /** The platform started in the background of `sh -c`, as `npm start` runs it; its pid is printed. */
  function throughShell(port: number, environment: NodeJS.ProcessEnv): Run {
    const line = `"${process.execPath}" "${cli}" --db :memory: --port ${port} & echo "platform pid $!"; wait`;
    return start(['-c', line], environment, null);
  }
  const pidOf = (run: Run) => Number(/platform pid (\d+)/.exec(run.out())?.[1]);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('stops, freeing its port, once the shell npm ran it through is gone (npm signals only that shell)', async () => {
    const port = await freePort();
    const run = throughShell(port, env({ npm_lifecycle_event: 'start', npm_command: 'run-script' }));
    await ready(run, port, 60_000);
    const pid = pidOf(run);
    expect(alive(pid)).toBe(true);
    run.child.kill('SIGKILL'); // the shell dies; the platform is orphaned
    await run.exited;
    const end = Date.now() + 10_000;
    while (alive(pid) && Date.now() < end) await sleep(100);
    expect(alive(pid)).toBe(false);
    expect(await canBind(port)).toBe(true);
  }, 60_000);

  it('without npm in the environment, it outlives the shell that started it', async () => {
    const port = await freePort();
    const { npm_lifecycle_event: _e, npm_command: _c, ...rest } = env();
    const run = throughShell(port, rest);
    await ready(run, port, 60_000);
    const pid = pidOf(run);
    run.child.kill('SIGKILL');
    await run.exited;
    await sleep(1500);
    expect(alive(pid)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).ok).toBe(true);
    process.kill(pid, 'SIGTERM');
    const end = Date.now() + 10_000;
    while (alive(pid) && Date.now() < end) await sleep(100);
    expect(alive(pid)).toBe(false);
  }, 60_000);
});

describe('the default port', () => {
  it('is 8080 when neither --port nor PORT is given (skipped when 8080 is not free)', async (ctx) => {
    // 8080 is a shared port: only when it is free (else skipped, not failed). `npm start` gives
    // the CLI PORT=8080 when PORT is unset, and the CLI honours PORT (tested above).
    if (!(await canBind(8080))) {
      ctx.skip('port 8080 is in use on this machine');
      return;
    }
    const run = start(['--db', ':memory:'], env());
    let out: string;
    try {
      out = await ready(run, 8080);
    } catch (e) {
      if (/EADDRINUSE/.test(run.err())) {
        ctx.skip('port 8080 was taken by another process meanwhile');
        return;
      }
      throw e;
    }
    expect(parse(out).url).toBe('http://127.0.0.1:8080');
    await stopsCleanly(run, 8080);
  });
});

describe('parseCliArgs', () => {
  it('takes a port of 1 to 5 decimal digits up to 65535, from --port (which wins) or PORT, else 8080', () => {
    expect(parseCliArgs([], {}).port).toBe(8080);
    expect(parseCliArgs([], { PORT: '' }).port).toBe(8080); // empty is unset
    expect(parseCliArgs([], { PORT: '9000' }).port).toBe(9000);
    expect(parseCliArgs(['--port', '9001'], { PORT: '9000' }).port).toBe(9001);
    expect(parseCliArgs(['--port', '0'], {}).port).toBe(0); // a free port, on purpose
    expect(parseCliArgs(['--port', '65535'], {}).port).toBe(65_535);
    expect(parseCliArgs(['--port=08080'], {}).port).toBe(8080);
  });

  it('refuses a malformed or out-of-range port from --port or PORT, naming where it came from', () => {
    for (const bad of [
      '0x1F90',
      '0abc',
      '0.5',
      '9000abc',
      '1e3',
      ' 80',
      '80 ',
      '+80',
      '65536',
      '123456',
      '',
      '٣',
    ]) {
      expect(() => parseCliArgs(['--port', bad], {}), bad).toThrow(
        new CliUsageError(`invalid port ${bad} (--port): a whole number from 0 to 65535`),
      );
      if (bad !== '') {
        expect(() => parseCliArgs([], { PORT: bad }), bad).toThrow(
          new CliUsageError(`invalid port ${bad} (PORT): a whole number from 0 to 65535`),
        );
      }
    }
    expect(() => parseCliArgs([], { PORT: '-1' })).toThrow('invalid port -1 (PORT)');
    expect(() => parseCliArgs(['--port', '-1'], {})).toThrow(CliUsageError); // read as an option
    // --port wins: PORT is not read then
    expect(parseCliArgs(['--port', '9000'], { PORT: 'http' }).port).toBe(9000);
  });

  it('takes --day-utc-offset ±HH:MM within ±14:00 (default +08:00), and refuses anything else naming the flag', () => {
    expect(parseCliArgs([], {}).dayUtcOffset).toBe('+08:00');
    expect(parseCliArgs(['--day-utc-offset', '+00:00'], {}).dayUtcOffset).toBe('+00:00');
    expect(parseCliArgs(['--day-utc-offset=-05:00'], {}).dayUtcOffset).toBe('-05:00');
    expect(parseCliArgs(['--day-utc-offset=-00:00'], {}).dayUtcOffset).toBe('+00:00');
    expect(parseCliArgs(['--day-utc-offset', '+14:00'], {}).dayUtcOffset).toBe('+14:00');
    expect(parseCliArgs(['--day-utc-offset=-14:00'], {}).dayUtcOffset).toBe('-14:00');
    expect(parseCliArgs(['--day-utc-offset', '+05:45'], {}).dayUtcOffset).toBe('+05:45');
    for (const bad of ['+8', '08:00', '+0800', '+14:01', '+15:00', '+08:60', 'Z', '', 'UTC+8', '+08:00 ']) {
      expect(() => parseCliArgs([`--day-utc-offset=${bad}`], {}), bad).toThrow(
        new CliUsageError(
          `--day-utc-offset must be a UTC offset ±HH:MM from -14:00 to +14:00 (e.g. +08:00), got ${JSON.stringify(bad)}`,
        ),
      );
    }
    // a value starting with a dash needs the = form (node:util parseArgs)
    expect(() => parseCliArgs(['--day-utc-offset', '-05:00'], {})).toThrow(CliUsageError);
    expect(() => parseCliArgs(['--day-utc-offset'], {})).toThrow(CliUsageError);
  });

  it('takes a decimal integer seed only; unknown options and missing values are usage errors', () => {
    expect(parseCliArgs([], {}).seed).toBe(1);
    expect(parseCliArgs(['--seed', '42'], {}).seed).toBe(42);
    for (const bad of ['7abc', '0x10', '1.5', '', '99999999999999999']) {
      expect(() => parseCliArgs(['--seed', bad], {}), bad).toThrow(CliUsageError);
    }
    expect(() => parseCliArgs(['--prot', '9000'], {})).toThrow(CliUsageError);
    expect(() => parseCliArgs(['--port'], {})).toThrow(CliUsageError);
    expect(parseCliArgs(['--help'], {}).help).toBe(true);
    expect(
      parseCliArgs(['--no-demo', '--no-admin', '--db', ':memory:', '--record', 'r.jsonl'], {}),
    ).toMatchObject({
      demo: false,
      admin: false,
      dbPath: ':memory:',
      recordFile: 'r.jsonl',
      host: '127.0.0.1',
    });
  });
});
