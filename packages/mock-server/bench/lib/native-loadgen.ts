/**
 * The server benchmark's native load generator (bench/loadgen/loadgen.c): built with the system's
 * C compiler and OpenSSL, and run once per phase.
 *
 * It exists because the load generator shares the machine's two cores with the server it
 * measures: the node generator (lean-http.ts) costs 27 – 40 % of a core at 2 000 payments/s, most
 * of it node's own machinery around each request, and a node generator made 75 µs a request
 * dearer raised the server's p99 by 30 – 90 % (three pairs). The native one does the same work
 * (keep-alive connections, every payment signed live with ES256 and its own nonce, key and code)
 * for 11 – 19 % of a core. See loadgen.c for what it prints.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

/** One measured request. */
export interface NativeResult {
  /** Scheduled send time, ms from the measured start (0 in a closed loop). */
  readonly at: number;
  /** From the scheduled send time to the complete response, ms. */
  readonly latency: number;
  /** How late it was sent, ms (0 in a closed loop). */
  readonly late: number;
  readonly ok: boolean;
  readonly status: number;
  /** The problem's `code`, `not_success`, `connection_lost`, or `-`. */
  readonly code: string;
}

/** What one run of the native load generator measured. */
export interface NativeRun {
  readonly results: NativeResult[];
  /** Its own CPU over the measured part, µs (as `process.cpuUsage`). */
  readonly cpu: { readonly user: number; readonly system: number };
  /** The measured part's wall time, ms (open loop: until the last answer). */
  readonly wallMs: number;
  /** Requests answered ok and not, lead-in included; requests never answered count as failed. */
  readonly ok: number;
  readonly failed: number;
  /** Codes not used. */
  readonly codesLeft: number;
}

/** Options of one run; see loadgen.c. */
export interface NativeRunOptions {
  readonly mode: 'open' | 'closed' | 'health';
  readonly port: number;
  readonly connections: number;
  readonly seconds: number;
  readonly rate?: number;
  readonly lead?: number;
  /** Open loop: wake every `tick` ms and send what is due (default 1); 0 wakes for each request. */
  readonly tick?: number;
  /** PKCS#8 PEM file of the device's P-256 key, its key id, and a file of codes (one a line). */
  readonly key?: string;
  readonly keyId?: string;
  readonly codes?: string;
  /** Prefix of each `out_trade_no` / `Idempotency-Key`, and of each nonce. */
  readonly prefix?: string;
  readonly nonce?: string;
  /** Called when the measured part of an open loop begins. */
  readonly onMeasure?: () => void;
}

/**
 * `relative` in `from` or the nearest folder above that has it (the bench runs from a bundle in
 * `.tmp/bench/` of the package, or elsewhere under it); `relative` in `from` when none has it.
 */
export function findUp(from: string, relative: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(from, relative);
  }
}

/**
 * Builds `source` into `out` unless `out` is newer; returns `out`, or the compiler's complaint
 * (no compiler, no OpenSSL headers) as an Error.
 */
export function buildNativeLoadgen(source: string, out: string): string | Error {
  if (!existsSync(source)) return new Error(`no source at ${source}`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return out;
  const cc = process.env.CC ?? 'cc';
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', out, source, '-lcrypto'], { encoding: 'utf8' });
  if (r.error !== undefined) return r.error;
  if (r.status !== 0)
    return new Error(`${cc} failed: ${r.stderr.trim().split('\n').slice(0, 5).join(' / ')}`);
  return out;
}

/** Runs the built load generator once and collects what it printed. */
export function runNativeLoadgen(binary: string, options: NativeRunOptions): Promise<NativeRun> {
  const args = [
    `mode=${options.mode}`,
    `port=${options.port}`,
    `connections=${options.connections}`,
    `seconds=${options.seconds}`,
  ];
  if (options.rate !== undefined) args.push(`rate=${options.rate}`);
  if (options.lead !== undefined) args.push(`lead=${options.lead}`);
  if (options.tick !== undefined) args.push(`tick=${options.tick}`);
  if (options.key !== undefined) args.push(`key=${options.key}`);
  if (options.keyId !== undefined) args.push(`keyid=${options.keyId}`);
  if (options.codes !== undefined) args.push(`codes=${options.codes}`);
  if (options.prefix !== undefined) args.push(`prefix=${options.prefix}`);
  if (options.nonce !== undefined) args.push(`nonce=${options.nonce}`);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const results: NativeResult[] = [];
  let cpu = { user: 0, system: 0 };
  let wallMs = 0;
  let done: { ok: number; failed: number; codesLeft: number } | undefined;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr += s;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const f = line.split(' ');
    if (f[0] === 'R' && f.length >= 7) {
      results.push({
        at: Number(f[1]),
        latency: Number(f[2]),
        late: Number(f[3]),
        ok: f[4] === '1',
        status: Number(f[5]),
        code: f.slice(6).join(' '),
      });
    } else if (f[0] === 'MEASURE') options.onMeasure?.();
    else if (f[0] === 'CPU') {
      cpu = { user: Number(f[1]) * 1000, system: Number(f[2]) * 1000 };
      wallMs = Number(f[3]);
    } else if (f[0] === 'DONE') done = { ok: Number(f[1]), failed: Number(f[2]), codesLeft: Number(f[3]) };
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0 || done === undefined) {
        reject(new Error(`the native load generator failed (exit ${code}): ${stderr.trim()}`));
        return;
      }
      if (stderr !== '') process.stderr.write(stderr);
      resolve({ results, cpu, wallMs, ...done });
    });
  });
}
