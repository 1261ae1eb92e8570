/**
 * Replay-window benchmark. Bundled and run by `.scripts/run-bench.mjs`; prints one JSON object per line:
 * `{ name, value, unit }`.
 *
 * Workload: a store of capacity 1,000,000 at a realistic steady state: the simulated clock advances one
 * second every `PER_SECOND` scans with a 91 s window (maxAge 90 + 1), so about 60 % of the capacity is
 * live and the rest of the table turns over as entries expire. Every scan is a fresh random digest
 * (generated in the timed loop, as a verifier hashes every scan).
 *
 * Run alone: `npx esbuild packages/verifier/bench/replay.ts --bundle --platform=node --format=esm
 * --outfile=/tmp/replay-bench.mjs && node /tmp/replay-bench.mjs`
 *
 * @module
 */
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

const start = 1_767_225_600;
let op = 0;
let notFresh = 0;
function run(n: number): void {
  for (let k = 0; k < n; k++, op++) {
    const now = start + Math.floor(op / PER_SECOND);
    words[0] = next();
    words[1] = next();
    words[2] = next();
    words[3] = next();
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
