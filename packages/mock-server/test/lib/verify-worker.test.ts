import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleForNode } from '../../../../.scripts/lib/bundle.mjs';
import { createVerifyPool, verifyPool } from '../../src/lib/verify-worker.js';

function keyPair(kind: 'p256' | 'ed25519') {
  const { privateKey, publicKey } =
    kind === 'p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  const signBytes = (data: Uint8Array): Uint8Array =>
    new Uint8Array(
      kind === 'p256'
        ? sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : sign(null, data, privateKey),
    );
  return { ref: {}, jwk, ecdsa: kind === 'p256', signBytes };
}

describe('verifyPool', () => {
  it('answers every check of a large batch with its own result', async () => {
    const p256 = keyPair('p256');
    const ed = keyPair('ed25519');
    const other = keyPair('p256');
    const broken = { ref: {}, jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } as JsonWebKey };
    const pool = verifyPool();
    const expected: boolean[] = [];
    const pending: Promise<boolean>[] = [];
    // 61 checks queued in one event-loop turn: one batch.
    for (let i = 0; i < 61; i++) {
      const data = new TextEncoder().encode(`message ${i}`);
      const k = i % 3 === 0 ? ed : p256;
      const sig = k.signBytes(data);
      switch (i % 5) {
        case 0: // valid
          expected.push(true);
          pending.push(pool.verify(k.ref, () => k.jwk, k.ecdsa, data, sig));
          break;
        case 1: {
          // data changed after signing
          const bad = data.slice();
          bad[0] = (bad[0] as number) ^ 1;
          expected.push(false);
          pending.push(pool.verify(k.ref, () => k.jwk, k.ecdsa, bad, sig));
          break;
        }
        case 2: // another key's signature (same algorithm)
          expected.push(false);
          pending.push(pool.verify(other.ref, () => other.jwk, true, data, p256.signBytes(data)));
          break;
        case 3: // a key that does not import
          expected.push(false);
          pending.push(pool.verify(broken.ref, () => broken.jwk, true, data, p256.signBytes(data)));
          break;
        default: // valid again, so that valid checks sit on both sides of every failure
          expected.push(true);
          pending.push(pool.verify(k.ref, () => k.jwk, k.ecdsa, data, sig));
      }
    }
    expect(await Promise.all(pending)).toEqual(expected);
  });

  it('answers false without the worker for a signature that is not 64 bytes or a key that throws', async () => {
    const k = keyPair('p256');
    const data = new Uint8Array([1, 2, 3]);
    const sig = k.signBytes(data);
    const pool = verifyPool();
    await expect(pool.verify(k.ref, () => k.jwk, true, data, sig.subarray(0, 63))).resolves.toBe(false);
    await expect(
      pool.verify(
        {},
        () => {
          throw new Error('no key');
        },
        true,
        data,
        sig,
      ),
    ).resolves.toBe(false);
    await expect(pool.verify(k.ref, () => k.jwk, true, data, sig)).resolves.toBe(true);
  });

  it('keeps answering batch after batch', async () => {
    const k = keyPair('ed25519');
    const pool = verifyPool();
    for (let round = 0; round < 5; round++) {
      const checks = Array.from({ length: 13 }, (_, i) => {
        const data = new TextEncoder().encode(`round ${round} check ${i}`);
        const sig = k.signBytes(data);
        if (i === round) sig[10] = (sig[10] as number) ^ 0x40;
        return pool.verify(k.ref, () => k.jwk, false, data, sig);
      });
      const results = await Promise.all(checks);
      expect(results.map((ok, i) => ok === (i !== round))).toEqual(Array(13).fill(true));
    }
  });
});

describe('createVerifyPool: the event loop lends a hand', () => {
  function checks(n: number, k: ReturnType<typeof keyPair>, tag: string) {
    return Array.from({ length: n }, (_, i) => {
      const data = new TextEncoder().encode(`${tag} ${i}`);
      const sig = k.signBytes(data);
      // every seventh check is tampered with, so wrong answers cannot hide among valid ones
      if (i % 7 === 3) sig[20] = (sig[20] as number) ^ 0x01;
      return { data, sig, valid: i % 7 !== 3 };
    });
  }
  type Check = ReturnType<typeof checks>[number];
  /** Submits every check of `batch` to `pool` at once (as one event-loop turn would) and awaits the answers. */
  function verifyAll(
    pool: ReturnType<typeof createVerifyPool>,
    k: ReturnType<typeof keyPair>,
    batch: Check[],
  ) {
    return Promise.all(batch.map((c) => pool.verify(k.ref, () => k.jwk, true, c.data, c.sig)));
  }

  it('shares a large batch between the worker and the event loop, and every check keeps its own answer', async () => {
    const k = keyPair('p256');
    const pool = createVerifyPool();
    // the first batch starts the worker thread
    await verifyAll(pool, k, checks(4, k, 'warm-up'));
    // Who claims which check is up to the scheduler: on a loaded machine (the whole suite running on
    // two cores) the event loop's thread can be off its core until the worker has claimed all 1 000.
    // So up to five batches, each checked in full; one of them must have been shared.
    let shared = false;
    for (let round = 0; round < 5 && !shared; round++) {
      const before = pool.stats();
      const batch = checks(1000, k, `batch ${round}`);
      const results = await verifyAll(pool, k, batch);
      expect(results).toEqual(batch.map((c) => c.valid));
      const after = pool.stats();
      expect(after.batches - before.batches).toBe(1);
      expect(after.fallback).toBe(0);
      const lent = after.lent - before.lent;
      const byWorker = after.worker - before.worker;
      expect(lent + byWorker).toBe(1000);
      shared = lent > 0 && byWorker > 0;
    }
    expect(shared).toBe(true);
  });

  it('leaves a batch no larger than lendBacklog to the worker once it is up', async () => {
    const k = keyPair('p256');
    const pool = createVerifyPool({ lendBacklog: 8 });
    // the first batch starts the worker thread (the event loop helps while it starts); it is up
    // once it has answered a check
    for (let round = 0; round < 100 && pool.stats().worker === 0; round++) {
      await verifyAll(pool, k, checks(50, k, `warm-up ${round}`));
    }
    const before = pool.stats();
    expect(before.worker).toBeGreaterThan(0);
    for (let round = 0; round < 3; round++) {
      const batch = checks(8, k, `small ${round}`);
      const results = await verifyAll(pool, k, batch);
      expect(results).toEqual(batch.map((c) => c.valid));
    }
    const after = pool.stats();
    expect(after.lent - before.lent).toBe(0);
    expect(after.worker - before.worker).toBe(24);
    // a larger batch: the event loop helps while more than 8 checks are unclaimed
    const large = checks(400, k, 'large');
    const results = await verifyAll(pool, k, large);
    expect(results).toEqual(large.map((c) => c.valid));
    expect(pool.stats().lent - after.lent).toBeGreaterThan(0);
  });

  it('leaves every check to the worker with lend: false', async () => {
    const k = keyPair('ed25519');
    const pool = createVerifyPool({ lend: false });
    const batch = checks(50, k, 'alone');
    const results = await Promise.all(
      batch.map((c) => pool.verify(k.ref, () => k.jwk, false, c.data, c.sig)),
    );
    expect(results).toEqual(batch.map((c) => c.valid));
    expect(pool.stats()).toEqual({ batches: 1, worker: 50, lent: 0, fallback: 0 });
  });

  it('answers checks of several batches in flight at once', async () => {
    const k = keyPair('p256');
    const pool = createVerifyPool();
    const rounds = await Promise.all(
      [0, 1, 2, 3].map(async (round) => {
        // each round queues its checks in its own event-loop turn: four batches in flight
        await new Promise((r) => setImmediate(r));
        for (let t = 0; t < round; t++) await new Promise((r) => setImmediate(r));
        const batch = checks(40, k, `round ${round}`);
        const got = await verifyAll(pool, k, batch);
        return got.every((ok, i) => ok === batch[i]?.valid);
      }),
    );
    expect(rounds).toEqual([true, true, true, true]);
    const s = pool.stats();
    expect(s.batches).toBeGreaterThanOrEqual(2);
    expect(s.worker + s.lent).toBe(160);
  });
});

describe('createVerifyPool in a process of its own', () => {
  it('lets the process exit once idle, also after a batch the event loop checked alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-pool-exit-'));
    try {
      const bundle = join(dir, 'exit.mjs');
      await bundleForNode(fileURLToPath(new URL('./fixtures/verify-pool-exit.ts', import.meta.url)), bundle);
      const r = spawnSync(process.execPath, [bundle], { encoding: 'utf8', timeout: 20_000 });
      expect(r.signal, 'the process was still up after 20 s').toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { valid: boolean; checks: number; lent: number };
      expect(out).toMatchObject({ valid: true, checks: 203 });
      expect(out.lent).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
