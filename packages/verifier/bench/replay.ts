/**
 * Replay-window benchmark. Bundled and run by `.scripts/run-bench.mjs`; prints one JSON object per line:
 * `{ name, value, unit }`.
 *
 * Workload: a store of capacity 1,000,000 at a realistic steady state: the simulated clock advances one
 * second every `PER_SECOND` scans with a 91 s window (maxAge 90 + 1), so about 60 % of the capacity is
 * live and the rest of the table turns over as entries expire. Every scan is a distinct random digest,
 * taken from a pool made before timing, so the figure is the store's work and not the random generator's
 * (the verifier's own digest is measured with the rest of `verify` in `bench/verifier.ts`).
 *
 * On Linux it then runs itself again with glibc's malloc asked for transparent huge pages
 * (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, honoured when THP is `madvise` or `always`) and prints
 * that run's figure as `verifier.replay_ops_per_s_huge_pages`, with the bytes that actually sat in
 * huge pages (`verifier.replay_huge_page_bytes`: 0 when the system refused, left out where the
 * kernel does not report it). The table is one 23.5 MB
 * allocation and each scan lands on a random slot of it, so with 4 KiB pages most scans also miss
 * the TLB; this shows what a device gains from the setting.
 *
 * Run alone: `node .scripts/run-bench.mjs verifier replay`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createMemoryReplayStore } from '../src/replay/memory-replay-store.js';

const CAPACITY = 1_000_000;
const WINDOW = 91;
const PER_SECOND = Math.floor((0.6 * CAPACITY) / WINDOW);
const WARMUP_OPS = PER_SECOND * WINDOW * 2;
const TIMED_OPS = 6_000_000;

const store = createMemoryReplayStore({ capacity: CAPACITY });
const digest = new Uint8Array(16);
const words = new Uint32Array(digest.buffer);
let seed = 0x2545f491;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
// Random digests made before timing (1 MiB, so it stays in cache); scan n uses pool entry n mod POOL
// with n xored into its last word, so every scan of the run is a distinct digest.
const POOL = 1 << 16;
const pool = new Uint32Array(POOL * 4);
for (let i = 0; i < pool.length; i++) pool[i] = next();

let now = 1_767_225_600;
let op = 0;
let leftThisSecond = PER_SECOND;
let notFresh = 0;
function run(n: number): void {
  for (let k = 0; k < n; k++, op++) {
    if (--leftThisSecond === 0) {
      now++;
      leftThisSecond = PER_SECOND;
    }
    const p = (op & (POOL - 1)) * 4;
    words[0] = pool[p] as number;
    words[1] = pool[p + 1] as number;
    words[2] = pool[p + 2] as number;
    words[3] = (pool[p + 3] as number) ^ op;
    if (store.checkAndInsert(digest, now + WINDOW, now) !== 'fresh') notFresh++;
  }
}

run(WARMUP_OPS);
let best = 0;
for (let round = 0; round < 3; round++) {
  const t0 = performance.now();
  run(TIMED_OPS / 3);
  const seconds = (performance.now() - t0) / 1000;
  best = Math.max(best, TIMED_OPS / 3 / seconds);
}
if (notFresh !== 0) throw new Error(`bench: ${notFresh} scans were not fresh`);

const HUGE_PAGES_RUN = process.env.REPLAY_BENCH_HUGE_PAGES === '1';
if (HUGE_PAGES_RUN) {
  // the child run: its figure and how much of this process sat in huge pages (when the kernel says)
  let hugeBytes: number | undefined;
  try {
    const kb = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1];
    if (kb !== undefined) hugeBytes = Number(kb) * 1024;
  } catch {
    // no smaps_rollup (a kernel before 4.14): the figure alone
  }
  console.log(JSON.stringify({ ops: Math.round(best), hugeBytes }));
  process.exit(0);
}
console.log(JSON.stringify({ name: 'verifier.replay_ops_per_s', value: Math.round(best), unit: 'ops/s' }));
console.log(
  JSON.stringify({
    name: 'verifier.replay_bytes_per_entry',
    value: Math.round((store.byteLength / store.capacity) * 100) / 100,
    unit: 'bytes',
  }),
);
console.log(
  JSON.stringify({
    name: 'verifier.replay_fill',
    value: Math.round((store.size / CAPACITY) * 1000) / 1000,
    unit: 'ratio',
  }),
);

if (process.platform === 'linux') {
  const child = spawnSync(process.execPath, [process.argv[1] as string], {
    env: { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1', REPLAY_BENCH_HUGE_PAGES: '1' },
    encoding: 'utf8',
  });
  try {
    const r = JSON.parse(child.stdout.trim().split('\n').pop() as string) as {
      ops: number;
      hugeBytes?: number;
    };
    console.log(
      JSON.stringify({ name: 'verifier.replay_ops_per_s_huge_pages', value: r.ops, unit: 'ops/s' }),
    );
    if (r.hugeBytes !== undefined)
      console.log(
        JSON.stringify({ name: 'verifier.replay_huge_page_bytes', value: r.hugeBytes, unit: 'bytes' }),
      );
  } catch {
    console.error(`bench: the huge-pages run failed (exit ${child.status}): ${child.stderr}`);
  }
}
