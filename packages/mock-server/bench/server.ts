/**
 * Mock-platform server benchmark (issue 4 §4). Bundled and run by `.scripts/run-bench.mjs`
 * (`npm run bench -w @campus-card/mock-server`); prints one JSON object per line:
 * `{ name, value, unit }`.
 *
 * The server runs in a child process (this same bundle started with `--server`), so the load
 * generator never shares its event loop: `startMockPlatform` on port 0, a fresh SQLite file (WAL)
 * with the demo data. The load generator keeps 50 keep-alive connections. By default it is the
 * native one (bench/loadgen/loadgen.c, built here with `cc` and OpenSSL, run once per phase,
 * bench/lib/native-loadgen.ts): the load generator shares the two cores with the server, and the
 * native one costs them half what node does. It signs every payment live (RFC 9421, ES256 with the
 * demo POS `pos-01` key, `Content-Digest`). Where it does not build, or with `BENCH_CLIENT=lean`,
 * this process does the load itself with a lean HTTP/1.1 client (bench/lib/lean-http.ts) and
 * core's `signRequest` (node:crypto for the ECDSA and the digest, through the `signer` and
 * `digest` hooks); `BENCH_CLIENT=undici` uses an undici `Pool` instead, which costs the shared
 * cores more per request. Each payment is distinct: its own `out_trade_no`, `Idempotency-Key`,
 * signature nonce and QR code. Codes are made before each timed phase (one use per code), from
 * every demo card, 1 fen each, after a top-up of every wallet.
 *
 * - `server.signed_payments_per_s` (target ≥ 2 000): closed loop, 50 in flight, 10 s.
 * - `server.health_per_s`: unsigned `GET /health`, closed loop, same pool, same run.
 * - `server.payments_vs_health_ratio`: the two above divided.
 * - `server.p50_ms` / `server.p99_ms` (target p99 ≤ 50): open loop at 2 000 payments/s for 10 s,
 *   after a 1-s lead-in at the same rate that is not measured; latency runs from each request's
 *   scheduled send time (no coordinated omission) to its answer (the native generator: the
 *   kernel's receive timestamp of the answer's last bytes).
 * - `server.open_loop_send_late_p99_ms`: how late the load generator sent the open loop's requests
 *   (p99, ms), which is part of their latency: the instrument's own share of the tail.
 * - Diagnostics, per loop: the server's and the load generator's CPU, event-loop use and time a
 *   payment, signature checks, group-commit batches, COMMIT and lock-wait time, and V8's GC pauses
 *   on the server's main thread (scavenges, the rest, the longest pause).
 *
 * Environment: `BENCH_CLIENT` (`native` default, `lean` or `undici`), `BENCH_SECONDS` (default 10),
 * `BENCH_RATE` (default 2000), `BENCH_SYNCHRONOUS` (`NORMAL` default, or `FULL`),
 * `BENCH_LEAD_SECONDS` (default 1; 0 measures from the first request), `BENCH_SERVER_ARGS` (extra
 * node flags for the server, e.g. `--cpu-prof`), `BENCH_GROUP_COMMIT=0` (one transaction per
 * request, for comparison), `BENCH_DUMP`
 * (a file: each open-loop request's scheduled time, latency and how late it was sent, ms, one
 * line each), `BENCH_CONTROL_US` (calibration: the same load against a synthetic server that
 * spends this many µs of its event loop a payment and does nothing else, bench/lib/control-server.ts;
 * its lines are named `server_control.…`, and the platform's own diagnostics read zero) with
 * `BENCH_CONTROL_HOG_US` (µs a payment that it also hands a worker thread, not waited for).
 *
 * Run alone: `node .scripts/run-bench.mjs mock-server server`
 *
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createPrivateKey, type KeyObject, sign as nodeSign, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PerformanceObserver, constants as perfConstants, performance as perfHooks } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  createPresentation,
  encodeQr,
  fromBase64Url,
  importPrivateJwk,
  type Jwk,
  type Signer,
} from '@campus-card/core';
import { importSigningKey, type SigningKey, signRequest } from '@campus-card/core/http';
import { Pool } from 'undici';
import type { DemoCredentials } from '../src/demo.js';
import type { CheckpointerStats } from '../src/lib/checkpointer.js';
import { nodeDigest } from '../src/lib/node-verify.js';
import { verifyPool } from '../src/lib/verify-worker.js';
import { startMockPlatform } from '../src/server.js';
import { startControlServer } from './lib/control-server.js';
import { createLeanPool } from './lib/lean-http.js';
import { buildNativeLoadgen, findUp, type NativeRun, runNativeLoadgen } from './lib/native-loadgen.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const CONNECTIONS = 50;
const WARMUP_S = 3;
const LEAD_S = Number(process.env.BENCH_LEAD_SECONDS ?? 1);
const CLIENT_ASKED = process.env.BENCH_CLIENT ?? 'native';
if (!['native', 'lean', 'undici'].includes(CLIENT_ASKED)) throw new Error(`BENCH_CLIENT: ${CLIENT_ASKED}?`);
/** Calibration: drive a synthetic server instead of the platform (bench/lib/control-server.ts). */
const CONTROL_US = Number(process.env.BENCH_CONTROL_US ?? 0);
const CONTROL_HOG_US = Number(process.env.BENCH_CONTROL_HOG_US ?? 0);

function emit(name: string, value: number, unit: string): void {
  // a calibration run must not pass for the platform's figures
  const shown = CONTROL_US > 0 ? name.replace(/^server\./, 'server_control.') : name;
  console.log(JSON.stringify({ name: shown, value: Math.round(value * 100) / 100, unit }));
}

// ---- server role ---------------------------------------------------------------------------

async function serve(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'campus-card-bench-'));
  const dbPath = join(dir, 'platform.db');
  const synchronous = process.env.BENCH_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL';
  const server = await startMockPlatform({
    dbPath,
    demo: true,
    port: 0,
    synchronous,
    groupCommit: process.env.BENCH_GROUP_COMMIT !== '0',
  });
  const send = (m: unknown) => process.send?.(m);
  // V8's GC pauses on this process's main thread: scavenges (minor) and the rest (mark-compact and
  // its finalisation); the longest is the longest since the previous stats message
  const v8gc = { minorN: 0, minorMs: 0, majorN: 0, majorMs: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const minor =
        (e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR;
      if (minor) {
        v8gc.minorN++;
        v8gc.minorMs += e.duration;
      } else {
        v8gc.majorN++;
        v8gc.majorMs += e.duration;
      }
      if (e.duration > v8gc.maxMs) v8gc.maxMs = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // the platform still runs (the demo credentials, the stats messages), idle, beside the control
  const control =
    CONTROL_US > 0 ? await startControlServer({ burnUs: CONTROL_US, hogUs: CONTROL_HOG_US }) : undefined;
  send({ type: 'ready', url: control?.url ?? server.url, demo: server.platform.demo });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const size = (f: string) => {
        try {
          return statSync(f).size;
        } catch {
          return 0;
        }
      };
      const gc = server.platform.state.groupCommit.stats();
      const elu = perfHooks.eventLoopUtilization();
      const checks = verifyPool().stats();
      send({
        type: 'stats',
        checkpoints: server.platform.checkpointStats(),
        wal: size(`${dbPath}-wal`),
        db: size(dbPath),
        cpu: process.cpuUsage(),
        gc,
        elu,
        checks,
        v8gc: { ...v8gc },
      });
      v8gc.maxMs = 0;
    } else if (m.type === 'stop') {
      void Promise.all([server.close(), control?.close()]).then(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
}

// ---- load generator ------------------------------------------------------------------------

/** node:crypto ECDSA P-256 (raw r ‖ s), for codes and request signatures. */
function nodeKey(jwk: Jwk): KeyObject {
  return createPrivateKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
}
const signP256 = (key: KeyObject, data: Uint8Array): Uint8Array =>
  new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));

interface Principal {
  readonly id: string;
  readonly key: SigningKey;
  readonly nodeKey: KeyObject;
}

let nonceCounter = 0;
const nonceBase = randomBytes(6).toString('hex');

function signedRequest(
  p: Principal,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  idempotencyKey?: string,
): { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: Uint8Array } {
  const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (bytes !== undefined) headers['content-type'] = 'application/json';
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
  const sig = signRequest(
    { method, url: `http://127.0.0.1${path}`, headers, body: bytes },
    {
      keyId: p.id,
      key: p.key,
      created: Math.floor(Date.now() / 1000),
      nonce: `${nonceBase}${(nonceCounter++).toString(36)}`,
      components: bytes === undefined ? ['@method', '@path'] : ['@method', '@path', 'content-digest'],
      signer: (base) => signP256(p.nodeKey, base),
      digest: nodeDigest,
    },
  );
  Object.assign(headers, sig);
  return bytes === undefined ? { method, path, headers } : { method, path, headers, body: bytes };
}

interface Outcome {
  readonly ok: boolean;
  readonly status: number;
  readonly code?: string;
}

/**
 * Sends one request through `pool.dispatch` with a bare handler (status and body chunks only):
 * the load generator shares the two cores with the server, so it skips `pool.request`'s
 * response stream.
 */
function sendUndici(pool: Pool, req: ReturnType<typeof signedRequest>): Promise<Outcome> {
  return new Promise((resolve) => {
    let status = 0;
    const chunks: Buffer[] = [];
    pool.dispatch(
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        ...(req.body === undefined ? {} : { body: req.body }),
      },
      {
        // undici 7's Pool takes the classic handler callbacks
        onConnect() {},
        onHeaders(statusCode) {
          status = statusCode;
          return true;
        },
        onData(chunk) {
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          resolve(outcome(status, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
        },
        onError(error) {
          resolve({ ok: false, status: 0, code: error.message });
        },
      },
    );
  });
}

/** A payment is ok when it is created in state success; otherwise the problem's `code`. */
function outcome(status: number, body: Buffer): Outcome {
  const text = body.toString();
  if (status === 201) {
    return text.includes('"status":"success"')
      ? { ok: true, status }
      : { ok: false, status, code: 'not success' };
  }
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return code === undefined ? { ok: false, status } : { ok: false, status, code };
}

/** The node load generator's HTTP client: `lean` (bench/lib/lean-http.ts) or `undici`. */
interface LoadClient {
  send(req: ReturnType<typeof signedRequest>): Promise<Outcome>;
  close(): Promise<void>;
}

function loadClient(url: string, kind: 'lean' | 'undici'): LoadClient {
  if (kind === 'undici') {
    const pool = new Pool(url, {
      connections: CONNECTIONS,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
    });
    return { send: (req) => sendUndici(pool, req), close: () => pool.close() };
  }
  const pool = createLeanPool(url, CONNECTIONS);
  return {
    send: (req) =>
      pool.request(req).then(
        (r) => outcome(r.status, r.body),
        (error: Error) => ({ ok: false, status: 0, code: error.message }),
      ),
    close: () => pool.close(),
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function load(): Promise<void> {
  const execArgv = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child: ChildProcess = fork(process.argv[1] as string, ['--server'], {
    execArgv: ['--enable-source-maps', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const reply = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', on);
        child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`the server exited (${code})`));
      child.on('message', on);
      child.once('exit', onExit);
    });
  const { url, demo } = await reply<{ url: string; demo: DemoCredentials }>('ready');

  const principal = (id: string, jwk: Jwk): Principal => ({
    id,
    key: importSigningKey(jwk as never),
    nodeKey: nodeKey(jwk),
  });
  const pos = demo.devices.find((d) => d.id === 'pos-01');
  if (pos === undefined) throw new Error('no demo pos-01');
  const device = principal(pos.id, pos.privateJwk);
  const operator = principal(demo.operator.id, demo.operator.privateJwk);

  // the native load generator, when it builds; top-ups and the node loops use a node client
  let native: string | undefined;
  if (CLIENT_ASKED === 'native') {
    const built = buildNativeLoadgen(
      findUp(dirname(fileURLToPath(import.meta.url)), join('bench', 'loadgen', 'loadgen.c')),
      fileURLToPath(new URL('./loadgen', import.meta.url)),
    );
    if (built instanceof Error)
      console.error(`bench: the native load generator did not build (${built.message}); using the node one`);
    else native = built;
  }
  const pool = loadClient(url, CLIENT_ASKED === 'undici' ? 'undici' : 'lean');
  const nativeDir = native === undefined ? undefined : mkdtempSync(join(tmpdir(), 'campus-card-loadgen-'));

  // Top up every demo wallet, so 1-fen payments never run dry.
  for (const c of demo.cards) {
    const r = await pool.send(
      signedRequest(
        operator,
        'POST',
        `/v1/wallets/${c.personId}/top-ups`,
        { out_trade_no: `bench-topup-${nonceBase}-${c.personId}`, amount: 10_000_000, channel: 'simulated' },
        `bench-topup-${nonceBase}-${c.personId}`,
      ),
    );
    if (r.status !== 201) throw new Error(`top-up failed: ${r.status} ${r.code}`);
  }

  // Phone signers (node:crypto) of every demo card.
  const cards = demo.cards.map((c) => {
    const holder = importPrivateJwk(c.holderPrivateJwk);
    const key = nodeKey(c.holderPrivateJwk as Jwk);
    const signer: Signer = {
      alg: 'ES256',
      kid: holder.kid,
      publicKey: holder.publicKey,
      sign: (data) => signP256(key, data),
    };
    const credential = fromBase64Url(c.credential);
    if (credential === undefined) throw new Error('bad demo credential');
    return { credential, signer };
  });
  let codeCounter = 0;
  /** Distinct, fresh codes (distinct nonces), made before a timed phase. */
  async function makeCodes(n: number): Promise<string[]> {
    const t = Math.floor(Date.now() / 1000);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const card = cards[i % cards.length] as (typeof cards)[number];
      const k = codeCounter++;
      const nonce = new Uint8Array([k >>> 24, (k >>> 16) & 255, (k >>> 8) & 255, k & 255]);
      out.push(encodeQr(await createPresentation({ credential: card.credential, t, nonce }, card.signer)));
    }
    return out;
  }

  let tradeCounter = 0;
  const errors = new Map<string, number>();
  function payment(codes: string[]): ReturnType<typeof signedRequest> | undefined {
    const qr = codes.pop();
    if (qr === undefined) return undefined;
    const no = `bench-${nonceBase}-${(tradeCounter++).toString(36)}`;
    return signedRequest(device, 'POST', '/v1/payments', { out_trade_no: no, amount: 1, qr_text: qr }, no);
  }
  function count(o: Outcome): void {
    if (o.ok) return;
    const k = `${o.status} ${o.code ?? ''}`.trim();
    errors.set(k, (errors.get(k) ?? 0) + 1);
  }

  /** One phase on the native load generator: its codes go to a file (and leave `codes`). */
  let nativeRuns = 0;
  const keyFile = nativeDir === undefined ? '' : join(nativeDir, 'device.pem');
  if (nativeDir !== undefined)
    writeFileSync(keyFile, device.nodeKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
    });
  async function nativePhase(
    mode: 'open' | 'closed' | 'health',
    seconds: number,
    codes: string[] | undefined,
    extra: { rate?: number; lead?: number; onMeasure?: () => void } = {},
  ): Promise<NativeRun> {
    if (native === undefined || nativeDir === undefined) throw new Error('no native load generator');
    const run = nativeRuns++;
    let codesFile: string | undefined;
    if (codes !== undefined) {
      codesFile = join(nativeDir, `codes-${run}.txt`);
      writeFileSync(codesFile, codes.join('\n'));
      codes.length = 0;
    }
    const r = await runNativeLoadgen(native, {
      mode,
      port: Number(new URL(url).port),
      connections: CONNECTIONS,
      seconds,
      ...(codesFile === undefined
        ? {}
        : {
            key: keyFile,
            keyId: device.id,
            codes: codesFile,
            prefix: `bench-${nonceBase}-n${run}-`,
            nonce: `${nonceBase}-n${run}-`,
          }),
      ...extra,
    });
    for (const x of r.results) if (!x.ok) count({ ok: false, status: x.status, code: x.code });
    return r;
  }
  /** A closed loop's figures from a native run. */
  const closedOf = (r: NativeRun) => {
    const ok = r.results.filter((x) => x.ok).length;
    return {
      ok,
      failed: r.results.length - ok,
      perS: ok / (r.wallMs / 1000),
      lat: r.results.map((x) => x.latency).sort((a, b) => a - b),
    };
  };

  /** Closed loop: `CONNECTIONS` workers, each sending the next request when the last answers. */
  async function closedLoop(
    seconds: number,
    next: () => ReturnType<typeof signedRequest> | undefined,
  ): Promise<{ ok: number; failed: number; perS: number; lat: number[] }> {
    let ok = 0;
    let failed = 0;
    const lat: number[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const req = next();
          if (req === undefined) return;
          const t0 = performance.now();
          const o = await pool.send(req);
          lat.push(performance.now() - t0);
          if (o.ok || o.status === 200) ok++;
          else {
            failed++;
            count(o);
          }
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    return { ok, failed, perS: ok / elapsed, lat: lat.sort((a, b) => a - b) };
  }

  // Warm-up (JIT, caches, SQLite pages).
  {
    const codes = await makeCodes(WARMUP_S * 3000);
    if (native !== undefined) await nativePhase('closed', WARMUP_S, codes);
    else await closedLoop(WARMUP_S, () => payment(codes));
    errors.clear();
  }

  type Stats = {
    wal: number;
    db: number;
    cpu: NodeJS.CpuUsage;
    elu: { idle: number; active: number };
    checks: { batches: number; worker: number; lent: number; fallback: number };
    v8gc: { minorN: number; minorMs: number; majorN: number; majorMs: number; maxMs: number };
    checkpoints: CheckpointerStats | undefined;
    gc: {
      batches: number;
      joins: number;
      maxJoins: number;
      commitMs: number;
      maxCommitMs: number;
      beginMs: number;
      maxBeginMs: number;
    };
  };
  const stats = async (): Promise<Stats> => {
    const r = reply<Stats>('stats');
    child.send({ type: 'stats' });
    return r;
  };
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

  // 1. Closed loop: payments/s.
  const codes1 = await makeCodes(SECONDS * 5000);
  const before = await stats();
  const loadCpu0 = process.cpuUsage();
  const t1 = performance.now();
  let pay: { ok: number; failed: number; perS: number; lat: number[] };
  let wall1: number;
  let loadCpu1: NodeJS.CpuUsage;
  let codesLeft: number;
  if (native !== undefined) {
    const r = await nativePhase('closed', SECONDS, codes1);
    pay = closedOf(r);
    wall1 = r.wallMs;
    loadCpu1 = r.cpu;
    codesLeft = r.codesLeft;
  } else {
    pay = await closedLoop(SECONDS, () => payment(codes1));
    wall1 = performance.now() - t1;
    loadCpu1 = process.cpuUsage(loadCpu0);
    codesLeft = codes1.length;
  }
  const after = await stats();
  if (codesLeft === 0) console.error('bench: ran out of pre-made codes; raise the count');

  // 2. Same run, same client: unsigned health/s.
  const healthReq = { method: 'GET' as const, path: '/health', headers: {} };
  const healthSeconds = Math.max(3, SECONDS / 2);
  const health =
    native !== undefined
      ? closedOf(await nativePhase('health', healthSeconds, undefined))
      : await closedLoop(healthSeconds, () => healthReq);

  // 3. Open loop at RATE payments/s; latency from the scheduled send time. The first
  // LEAD_S seconds run at the same rate but are not measured: the server has just sat idle while
  // the codes were made, and its first requests after a pause run colder code (V8 drops what
  // it has not run for a while) and a shrunken heap. The measured part starts on a server that
  // is already taking 2 000/s, as a server in service does.
  const n = Math.round(RATE * SECONDS);
  const lead = Math.round(RATE * LEAD_S);
  const codes3 = await makeCodes(lead + n);
  const lat: number[] = [];
  /** How late the load generator sent each measured request, ms (part of its latency). */
  const lateness: number[] = [];
  const dump: string[] = [];
  let openFailed = 0;
  let openPerS = 0;
  let openBefore: Promise<Stats> = stats();
  let openCpu0 = process.cpuUsage();
  let openT0 = performance.now();
  let nativeOpen: NativeRun | undefined;
  if (native !== undefined) {
    nativeOpen = await nativePhase('open', SECONDS, codes3, {
      rate: RATE,
      lead: LEAD_S,
      onMeasure: () => {
        openBefore = stats();
      },
    });
    for (const x of nativeOpen.results) {
      lat.push(x.latency);
      lateness.push(x.late);
      if (process.env.BENCH_DUMP)
        dump.push(`${x.at.toFixed(1)} ${x.latency.toFixed(2)} ${x.late.toFixed(2)}`);
    }
    openFailed = nativeOpen.failed;
    openPerS = n / (nativeOpen.wallMs / 1000);
  } else {
    // outstanding requests are counted, not kept: holding 20 000 promises would grow the load
    // generator's heap and its GC pauses would count as server latency
    let outstanding = 0;
    let drained: (() => void) | undefined;
    const total = lead + n;
    const leadStart = performance.now();
    const start = leadStart + (lead * 1000) / RATE;
    let i = 0;
    while (i < total) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - leadStart) / 1000) * RATE) + 1);
      for (; i < due; i++) {
        const scheduled = leadStart + (i * 1000) / RATE;
        const measured = i >= lead;
        if (i === lead) {
          // the measured part begins: the server's and this process's counters from here
          openBefore = stats();
          openCpu0 = process.cpuUsage();
          openT0 = performance.now();
        }
        const req = payment(codes3) as ReturnType<typeof signedRequest>;
        outstanding++;
        const late = performance.now() - scheduled;
        if (measured) lateness.push(late);
        void pool.send(req).then(
          (o) => {
            if (measured) {
              lat.push(performance.now() - scheduled);
              if (process.env.BENCH_DUMP)
                dump.push(
                  `${(scheduled - start).toFixed(1)} ${(performance.now() - scheduled).toFixed(2)} ${late.toFixed(2)}`,
                );
            }
            if (!o.ok) {
              openFailed++;
              count(o);
            }
            if (--outstanding === 0) drained?.();
          },
          (error: unknown) => {
            openFailed++;
            count({ ok: false, status: 0, code: String(error) });
            if (--outstanding === 0) drained?.();
          },
        );
      }
      await sleep(1);
    }
    if (outstanding > 0)
      await new Promise<void>((resolve) => {
        drained = resolve;
      });
    openPerS = n / ((performance.now() - start) / 1000);
  }
  if (process.env.BENCH_DUMP)
    (await import('node:fs')).writeFileSync(process.env.BENCH_DUMP, dump.join('\n'));
  lat.sort((a, b) => a - b);
  lateness.sort((a, b) => a - b);
  const openWall = nativeOpen?.wallMs ?? performance.now() - openT0;
  const openCpu = nativeOpen?.cpu ?? process.cpuUsage(openCpu0);

  const end = await stats();
  emit('server.signed_payments_per_s', pay.perS, 'req/s');
  emit('server.health_per_s', health.perS, 'req/s');
  emit('server.payments_vs_health_ratio', pay.perS / health.perS, 'ratio');
  emit('server.p50_ms', percentile(lat, 0.5), 'ms');
  emit('server.p99_ms', percentile(lat, 0.99), 'ms');
  emit('server.closed_loop_p99_ms', percentile(pay.lat, 0.99), 'ms');
  emit('server.open_loop_completed_per_s', openPerS, 'req/s');
  // the load generator's own share of the open loop's latency: how late it sent (its event loop
  // busy or preempted); a tail here is the instrument's, not the server's
  emit('server.open_loop_send_late_p99_ms', percentile(lateness, 0.99), 'ms');
  emit('server.failed_requests', pay.failed + openFailed, 'count');
  emit('server.wal_bytes_at_end', end.wal, 'bytes');
  // Where the CPU went in each loop (100 = one core), and how big the batches were.
  const phase = (
    name: string,
    from: Stats,
    to: Stats,
    wallMs: number,
    loadgen: NodeJS.CpuUsage,
    ok: number,
  ) => {
    const perS = (x: number) => x / (wallMs / 1000);
    emit(`server.${name}_server_cpu_pct`, ((cpuMs(to.cpu) - cpuMs(from.cpu)) / wallMs) * 100, '%');
    emit(`server.${name}_loadgen_cpu_pct`, (cpuMs(loadgen) / wallMs) * 100, '%');
    const active = to.elu.active - from.elu.active;
    const idle = to.elu.idle - from.elu.idle;
    emit(`server.${name}_event_loop_utilization`, active / (active + idle), 'ratio');
    emit(`server.${name}_event_loop_us_per_payment`, (active * 1000) / ok, 'us');
    // signature checks the event loop took from the worker's batches (lib/verify-worker.ts)
    const lent = to.checks.lent - from.checks.lent;
    const checks = lent + to.checks.worker - from.checks.worker + to.checks.fallback - from.checks.fallback;
    if (checks > 0) emit(`server.${name}_checks_on_event_loop_pct`, (lent / checks) * 100, '%');
    const handed = to.checks.batches - from.checks.batches;
    if (handed > 0) emit(`server.${name}_checks_per_worker_batch`, checks / handed, 'checks');
    emit(`server.${name}_scavenge_ms_per_s`, perS(to.v8gc.minorMs - from.v8gc.minorMs), 'ms');
    emit(`server.${name}_scavenges_per_s`, perS(to.v8gc.minorN - from.v8gc.minorN), 'count');
    emit(`server.${name}_major_gc_ms_per_s`, perS(to.v8gc.majorMs - from.v8gc.majorMs), 'ms');
    // the longest pause since the stats message before `to`, which opened this phase
    emit(`server.${name}_max_gc_pause_ms`, to.v8gc.maxMs, 'ms');
    const batches = to.gc.batches - from.gc.batches;
    if (batches === 0) return;
    emit(`server.${name}_joins_per_batch`, (to.gc.joins - from.gc.joins) / batches, 'joins');
    emit(`server.${name}_commit_ms_per_s`, perS(to.gc.commitMs - from.gc.commitMs), 'ms');
    emit(`server.${name}_begin_wait_ms_per_s`, perS(to.gc.beginMs - from.gc.beginMs), 'ms');
    if (to.checkpoints !== undefined && from.checkpoints !== undefined) {
      // the WAL starting over: tails the event loop checkpointed, RESTARTs that held it back
      emit(`server.${name}_wal_catch_ups`, to.checkpoints.catchUps - from.checkpoints.catchUps, 'count');
      emit(`server.${name}_wal_restarts`, to.checkpoints.restarts - from.checkpoints.restarts, 'count');
    }
  };
  phase('closed_loop', before, after, wall1, loadCpu1, pay.ok);
  phase('open_loop', await openBefore, end, openWall, openCpu, n - openFailed);
  emit('server.max_commit_ms', end.gc.maxCommitMs, 'ms');
  emit('server.max_begin_wait_ms', end.gc.maxBeginMs, 'ms');
  if (end.checkpoints !== undefined) emit('server.max_wal_catch_up_ms', end.checkpoints.maxCatchUpMs, 'ms');
  if (errors.size > 0) console.error('bench: failures by status/code:', Object.fromEntries(errors));

  await pool.close();
  if (nativeDir !== undefined) rmSync(nativeDir, { recursive: true, force: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  await exited;
}

if (process.argv.includes('--server')) {
  await serve();
} else {
  await load();
}
