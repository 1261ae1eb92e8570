import { decodeQr } from '@campus-card/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
let tl: Uint8Array;
let sl: Uint8Array;
let roster: Uint8Array;
const pool: string[] = [];
/** The card id of each code of `pool`. */
const poolCard: string[] = [];
const IDS = ['2024010001', '2024010002', 'T-0042'];

beforeAll(async () => {
  campus = await makeCampus();
  tl = await campus.trustList(1, T0 - 3600);
  sl = await campus.statusList(1, T0 - 600, { 3: 1 });
  roster = await campus.roster(1, T0 - 600);
  // 12 distinct codes: 3 cards (one revoked) × 2 modes × 2 times
  for (const id of IDS) {
    for (const t of [T0, T0 + 20]) {
      pool.push(await campus.code(id, t));
      pool.push(await campus.compact(id, t));
      poolCard.push(id, id);
    }
  }
});

function fresh(): Verifier {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], backend: nodeBackend, replayCapacity: 1000 });
  v.loadTrustList(tl, { now: T0 });
  v.loadStatusList(sl, { now: T0 });
  v.loadRoster(roster, { now: T0 });
  return v;
}

const reader = { id: 'prop' };
const scans = fc.array(fc.record({ code: fc.nat(11), dt: fc.integer({ min: -40, max: 150 }) }), {
  minLength: 1,
  maxLength: 30,
});

describe('properties', () => {
  it('no code is accepted twice', async () => {
    await fc.assert(
      fc.asyncProperty(scans, async (ops) => {
        const v = fresh();
        const accepted = new Set<number>();
        for (const op of ops) {
          const d = await v.verify(pool[op.code] as string, { now: T0 + op.dt, reader });
          if (d.accepted) {
            expect(accepted.has(op.code)).toBe(false);
            accepted.add(op.code);
          }
        }
      }),
      { seed: 0x5eed01, numRuns: 60 },
    );
  });

  it('any single-byte mutation of a code is rejected', async () => {
    // only codes a fresh verifier accepts are mutated: a rejection then comes from the mutation,
    // not from a revoked card (T-0042's codes are REVOKED whatever is done to them)
    const originals: Uint8Array[] = [];
    for (const [k, q] of pool.entries()) {
      const d = await fresh().verify(q, { now: T0 + 1, reader });
      if (poolCard[k] === 'T-0042') {
        expect(d).toMatchObject({ accepted: false, reason: 'REVOKED' });
      } else {
        expect(d).toMatchObject({ accepted: true });
        originals.push(decodeQr(q));
      }
    }
    expect(originals).toHaveLength(8);
    // this verifier never sees an original, so no rejection below is a replay of one
    const v = fresh();
    await fc.assert(
      fc.asyncProperty(
        fc.nat(originals.length - 1),
        fc.nat(10_000),
        fc.integer({ min: 1, max: 255 }),
        async (which, at, x) => {
          const bytes = (originals[which] as Uint8Array).slice();
          const i = at % bytes.length;
          bytes[i] = (bytes[i] as number) ^ x;
          const d = await v.verify(bytes, { now: T0 + 1, reader });
          expect(d.accepted).toBe(false);
        },
      ),
      { seed: 0x5eed02, numRuns: 400 },
    );
  });

  it('a decision is the same after a snapshot and restore', async () => {
    await fc.assert(
      fc.asyncProperty(scans, fc.nat(30), async (ops, cutAt) => {
        const cut = cutAt % (ops.length + 1);
        const straight = fresh();
        let rebooted = fresh();
        for (const [k, op] of ops.entries()) {
          const now = T0 + op.dt;
          if (k === cut) {
            const snap = rebooted.snapshot({ now });
            rebooted = fresh();
            rebooted.restore(snap, { now });
          }
          const a = await straight.verify(pool[op.code] as string, { now, reader });
          const b = await rebooted.verify(pool[op.code] as string, { now, reader });
          expect(b.accepted).toBe(a.accepted);
          if (!a.accepted && !b.accepted) expect(b.reason).toBe(a.reason);
        }
      }),
      { seed: 0x5eed03, numRuns: 40 },
    );
  });
});
