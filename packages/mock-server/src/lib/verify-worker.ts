/**
 * Signature checks in one worker thread, in batches.
 *
 * A P-256 check costs about 0.1 ms in OpenSSL, and a payment needs two (the request and the
 * code). On the event loop that is a third of the per-payment budget at 2 000 payments/s.
 * libuv's thread pool (`crypto.verify` with a callback) was no better on a 2-core machine: each
 * job costs tens of microseconds to submit, and each wake-up preempts the main thread. So the
 * checks of one event-loop turn go to a worker thread in a single message, and their results
 * come back in a single message: one wake-up per batch. When the worker is unavailable, the
 * checks run synchronously on the main thread.
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  for (const [id, jwk] of m.keys) {
    try { keys.set(id, createPublicKey({ key: jwk, format: 'jwk' })); } catch { keys.set(id, null); }
  }
  const n = m.n;
  const head = new Uint32Array(m.buf, 0, n * 3);
  const bytes = new Uint8Array(m.buf);
  let off = n * 12;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const keyId = head[3 * i], ecdsa = head[3 * i + 1] === 1, len = head[3 * i + 2];
    const data = bytes.subarray(off, off + len);
    const sig = bytes.subarray(off + len, off + len + 64);
    off += len + 64;
    const k = keys.get(keyId);
    if (!k) continue;
    try {
      const ok = ecdsa ? verify('sha256', data, { key: k, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, data, k, sig);
      out[i] = ok ? 1 : 0;
    } catch {}
  }
  parentPort.postMessage({ id: m.id, out }, [out.buffer]);
});
`;

interface Job {
  readonly keyId: number;
  readonly ecdsa: boolean;
  readonly data: Uint8Array;
  readonly sig: Uint8Array;
  readonly resolve: (ok: boolean) => void;
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
}

function createVerifyPool(): VerifyPool {
  let worker: Worker | undefined;
  let broken = false;
  let nextKey = 1;
  let nextBatch = 1;
  const keyIds = new WeakMap<object, number>();
  const jwks = new Map<number, JsonWebKey>();
  const localKeys = new Map<number, KeyObject | null>();
  let newKeys: [number, JsonWebKey][] = [];
  let queue: Job[] = [];
  const inflight = new Map<number, Job[]>();
  let scheduled = false;

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
    for (const jobs of inflight.values()) for (const j of jobs) j.resolve(verifyHere(j));
    inflight.clear();
  }

  function start(): Worker | undefined {
    if (worker !== undefined || broken) return worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (m: { id: number; out: Uint8Array }) => {
        const jobs = inflight.get(m.id);
        if (jobs === undefined) return;
        inflight.delete(m.id);
        for (let i = 0; i < jobs.length; i++) (jobs[i] as Job).resolve(m.out[i] === 1);
      });
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
      for (const j of jobs) j.resolve(verifyHere(j));
      return;
    }
    const id = nextBatch++;
    inflight.set(id, jobs);
    const keys = newKeys;
    newKeys = [];
    if (inflight.size === 1) w.ref(); // keep the process up while checks are in flight
    // One transferred buffer for the whole batch: a header of (key id, ECDSA?, data length) per
    // job, then each job's data and 64-byte signature. Structured-cloning a typed array per
    // field cost more main-thread time than the checks saved.
    const n = jobs.length;
    let size = n * 12;
    for (const j of jobs) size += j.data.length + 64;
    const buf = new ArrayBuffer(size);
    const head = new Uint32Array(buf, 0, n * 3);
    const bytes = new Uint8Array(buf);
    let off = n * 12;
    for (let i = 0; i < n; i++) {
      const j = jobs[i] as Job;
      head[3 * i] = j.keyId;
      head[3 * i + 1] = j.ecdsa ? 1 : 0;
      head[3 * i + 2] = j.data.length;
      bytes.set(j.data, off);
      bytes.set(j.sig, off + j.data.length);
      off += j.data.length + 64;
    }
    w.postMessage({ id, keys, n, buf }, [buf]);
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
        queue.push({
          keyId: id,
          ecdsa,
          data,
          sig,
          resolve: (ok) => {
            resolve(ok);
            if (inflight.size === 0) worker?.unref();
          },
        });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

let shared: VerifyPool | undefined;

/** The process-wide verify pool (one worker thread, started on first use, unref'd when idle). */
export function verifyPool(): VerifyPool {
  shared ??= createVerifyPool();
  return shared;
}
