/**
 * Signature checks in one worker thread, in batches, with the main thread lending a hand.
 *
 * A P-256 check costs about 0.1 ms in OpenSSL, and a payment needs two (the request and the
 * code). On the event loop that is a third of the per-payment budget at 2 000 payments/s.
 * libuv's thread pool (`crypto.verify` with a callback) was no better on a 2-core machine: each
 * job costs tens of microseconds to submit, and each wake-up preempts the main thread. So the
 * checks of one event-loop turn go to a worker thread in a single message, and the worker says
 * when it is done in a single message: one wake-up per batch.
 *
 * A batch can be large: when 40 requests arrive in one turn, the worker needs 7 ms for their 80
 * checks, and until then the event loop often has nothing else to do (every request is waiting
 * for its check). So the batch lives in a `SharedArrayBuffer`, and both threads take its checks
 * one at a time from a shared counter (`Atomics.add`). The worker runs through the batch; the
 * event loop takes a few checks per turn (`setImmediate`), after the I/O of that turn, so network
 * work always goes first and the worker does whatever the event loop has no time for. Checks the
 * event loop made are answered at once; the others when the worker reports the batch done.
 *
 * The event loop helps only while more than `lendBacklog` (8) checks wait unclaimed. At a steady
 * rate a turn brings a handful of checks, which the worker (the other core) makes alone; when the
 * event loop took them too it did a quarter to a third of all checks, at 2 000 payments/s, and the
 * event loop, not the worker, is what saturates first.
 *
 * When the worker is unavailable, the checks run synchronously on the main thread.
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * Checks the event loop takes in one turn (about 0.35 ms). One a turn let each request finish in
 * a turn of its own, and so in a COMMIT of its own (72 concurrent payments took 38 – 42 group
 * commits instead of under 36); four keep the requests they finish together in one batch.
 */
const LEND_PER_TURN = 4;

/** Default {@link VerifyPoolOptions.lendBacklog} (see the module comment). */
const LEND_BACKLOG = 8;

// One batch is one SharedArrayBuffer:
//   Int32 at 0: the next unclaimed check (both threads Atomics.add it);
//   at 8, per check, Uint32 × 4: key id, ECDSA (1) or Ed25519 (0), data length, data offset;
//   then one result byte per check: 0 not done, 1 valid, 2 invalid (Atomics.store / load);
//   then each check's data followed by its 64-byte signature.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  for (const [id, jwk] of m.keys) {
    try { keys.set(id, createPublicKey({ key: jwk, format: 'jwk' })); } catch { keys.set(id, null); }
  }
  const n = m.n;
  const ctl = new Int32Array(m.buf, 0, 1);
  const head = new Uint32Array(m.buf, 8, n * 4);
  const results = new Uint8Array(m.buf, 8 + n * 16, n);
  const bytes = new Uint8Array(m.buf);
  for (;;) {
    const i = Atomics.add(ctl, 0, 1);
    if (i >= n) break;
    const keyId = head[4 * i], ecdsa = head[4 * i + 1] === 1, len = head[4 * i + 2], off = head[4 * i + 3];
    const data = bytes.subarray(off, off + len);
    const sig = bytes.subarray(off + len, off + len + 64);
    const k = keys.get(keyId);
    let ok = false;
    if (k) {
      try {
        ok = ecdsa ? verify('sha256', data, { key: k, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, data, k, sig);
      } catch {}
    }
    Atomics.store(results, i, ok ? 1 : 2);
  }
  parentPort.postMessage(m.id);
});
`;

interface Job {
  readonly keyId: number;
  readonly ecdsa: boolean;
  readonly data: Uint8Array;
  readonly sig: Uint8Array;
  /** Settles the caller's promise (and records that it is settled). */
  readonly resolve: (ok: boolean) => void;
  settled: boolean;
}

interface InflightBatch {
  readonly jobs: Job[];
  readonly ctl: Int32Array;
  readonly results: Uint8Array;
}

/** Counters of a {@link VerifyPool}. */
export interface VerifyPoolStats {
  /** Batches handed to the worker. */
  readonly batches: number;
  /** Checks made by the worker. */
  readonly worker: number;
  /** Checks the event loop took from a worker batch. */
  readonly lent: number;
  /** Checks made on the main thread because the worker was unavailable. */
  readonly fallback: number;
}

/** Verifies signatures off the main thread. */
export interface VerifyPool {
  /**
   * Verifies `sig` over `data` with the key identified by the object `keyRef` (its public JWK
   * comes from `jwk()`, asked once per key object). ECDSA P-256/SHA-256 takes raw r ‖ s and
   * accepts high-S signatures; otherwise Ed25519. Resolves `false`, never rejects, when anything is malformed.
   */
  verify(
    keyRef: object,
    jwk: () => JsonWebKey,
    ecdsa: boolean,
    data: Uint8Array,
    sig: Uint8Array,
  ): Promise<boolean>;
  /** Where the checks were made so far. */
  stats(): VerifyPoolStats;
}

/** Options of {@link createVerifyPool}. */
export interface VerifyPoolOptions {
  /** Whether the event loop takes checks from the worker's batches between turns. Default true. */
  readonly lend?: boolean;
  /**
   * Unclaimed checks, over every batch in flight, above which the event loop lends a hand; at or
   * below it the worker makes them alone. Default 8 (about 0.7 ms of the worker's time).
   */
  readonly lendBacklog?: number;
}

/**
 * Creates a verify pool with its own worker thread (started on first use, unref'd when idle).
 * The server uses the process-wide {@link verifyPool}; this is for tests and benchmarks.
 */
export function createVerifyPool(options: VerifyPoolOptions = {}): VerifyPool {
  const lend = options.lend ?? true;
  const lendBacklog = options.lendBacklog ?? LEND_BACKLOG;
  let worker: Worker | undefined;
  let broken = false;
  let nextKey = 1;
  let nextBatch = 1;
  const keyIds = new WeakMap<object, number>();
  const jwks = new Map<number, JsonWebKey>();
  const localKeys = new Map<number, KeyObject | null>();
  let newKeys: [number, JsonWebKey][] = [];
  let queue: Job[] = [];
  const inflight = new Map<number, InflightBatch>();
  let scheduled = false;
  let lending = false;
  /** Whether the worker has reported a batch: until then (it takes tens of ms to start) the event loop lends whatever the backlog. */
  let workerUp = false;
  let batches = 0;
  let byWorker = 0;
  let lent = 0;
  let fallback = 0;

  function verifyHere(job: Job): boolean {
    let k = localKeys.get(job.keyId);
    if (k === undefined) {
      try {
        k = createPublicKey({ key: jwks.get(job.keyId) as JsonWebKey, format: 'jwk' });
      } catch {
        k = null;
      }
      localKeys.set(job.keyId, k);
    }
    if (k === null) return false;
    try {
      return job.ecdsa
        ? verify('sha256', job.data, { key: k, dsaEncoding: 'ieee-p1363' }, job.sig)
        : verify(null, job.data, k, job.sig);
    } catch {
      return false;
    }
  }

  function fail(): void {
    broken = true;
    worker = undefined;
    for (const b of inflight.values())
      for (const j of b.jobs)
        if (!j.settled) {
          fallback++;
          j.resolve(verifyHere(j));
        }
    inflight.clear();
  }

  function done(id: number): void {
    workerUp = true;
    const b = inflight.get(id);
    if (b === undefined) return;
    inflight.delete(id);
    // Idle again: the worker no longer keeps the process up. (Here, not as jobs settle: the
    // event loop may have settled every job of the batch itself before the worker reported it.)
    if (inflight.size === 0) worker?.unref();
    const { jobs, results } = b;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i] as Job;
      if (j.settled) continue;
      const r = Atomics.load(results, i);
      if (r === 0) {
        // Cannot happen (the worker reports a batch once every check of it is claimed, and the
        // event loop finishes a check in the turn it claims it); checked here all the same.
        fallback++;
        j.resolve(verifyHere(j));
      } else {
        byWorker++;
        j.resolve(r === 1);
      }
    }
  }

  /** Up to LEND_PER_TURN checks of the oldest batches that still have unclaimed ones, on the event loop. */
  function lendOne(): void {
    lending = false;
    let backlog = 0;
    for (const b of inflight.values()) backlog += Math.max(0, b.jobs.length - Atomics.load(b.ctl, 0));
    const floor = workerUp ? lendBacklog : 0;
    let taken = 0;
    for (const b of inflight.values()) {
      const n = b.jobs.length;
      while (taken < LEND_PER_TURN && backlog > floor && Atomics.load(b.ctl, 0) < n) {
        const i = Atomics.add(b.ctl, 0, 1);
        if (i >= n) break; // the worker took the last one meanwhile
        const j = b.jobs[i] as Job;
        const ok = verifyHere(j);
        Atomics.store(b.results, i, ok ? 1 : 2);
        lent++;
        taken++;
        backlog--;
        j.resolve(ok);
      }
      if (taken === LEND_PER_TURN) break;
    }
    if (taken > 0) {
      lending = true;
      setImmediate(lendOne);
    }
  }

  function start(): Worker | undefined {
    if (worker !== undefined || broken) return worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', done);
      w.on('error', fail);
      w.on('exit', fail);
      worker = w;
    } catch {
      broken = true;
    }
    return worker;
  }

  function flush(): void {
    scheduled = false;
    const jobs = queue;
    queue = [];
    if (jobs.length === 0) return;
    const w = start();
    if (w === undefined) {
      for (const j of jobs) {
        fallback++;
        j.resolve(verifyHere(j));
      }
      return;
    }
    const id = nextBatch++;
    const keys = newKeys;
    newKeys = [];
    const n = jobs.length;
    const resultsAt = 8 + n * 16;
    let size = resultsAt + n;
    for (const j of jobs) size += j.data.length + 64;
    const buf = new SharedArrayBuffer(size);
    const head = new Uint32Array(buf, 8, n * 4);
    const bytes = new Uint8Array(buf);
    let off = resultsAt + n;
    for (let i = 0; i < n; i++) {
      const j = jobs[i] as Job;
      head[4 * i] = j.keyId;
      head[4 * i + 1] = j.ecdsa ? 1 : 0;
      head[4 * i + 2] = j.data.length;
      head[4 * i + 3] = off;
      bytes.set(j.data, off);
      bytes.set(j.sig, off + j.data.length);
      off += j.data.length + 64;
    }
    if (inflight.size === 0) w.ref(); // keep the process up while checks are in flight
    inflight.set(id, { jobs, ctl: new Int32Array(buf, 0, 1), results: new Uint8Array(buf, resultsAt, n) });
    batches++;
    w.postMessage({ id, keys, n, buf });
    if (lend && !lending) {
      lending = true;
      setImmediate(lendOne);
    }
  }

  return {
    verify(keyRef, jwk, ecdsa, data, sig) {
      if (sig.length !== 64) return Promise.resolve(false);
      let keyId = keyIds.get(keyRef);
      if (keyId === undefined) {
        keyId = nextKey++;
        keyIds.set(keyRef, keyId);
        let k: JsonWebKey;
        try {
          k = jwk();
        } catch {
          return Promise.resolve(false);
        }
        jwks.set(keyId, k);
        newKeys.push([keyId, k]);
      }
      const id = keyId;
      return new Promise<boolean>((resolve) => {
        const job: Job = {
          keyId: id,
          ecdsa,
          data,
          sig,
          settled: false,
          resolve: (ok) => {
            job.settled = true;
            resolve(ok);
          },
        };
        queue.push(job);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    stats: () => ({ batches, worker: byWorker, lent, fallback }),
  };
}

let shared: VerifyPool | undefined;

/** The process-wide verify pool (one worker thread, started on first use, unref'd when idle). */
export function verifyPool(): VerifyPool {
  shared ??= createVerifyPool();
  return shared;
}
