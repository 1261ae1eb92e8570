import { beforeAll, describe, expect, it } from 'vitest';
import type { ReaderPolicy } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import {
  type Campus,
  loadedVerifier,
  makeCampus,
  T0,
  type TrustMaterial,
  trustMaterial,
} from './helpers/fixtures.js';

let campus: Campus;
let material: TrustMaterial;
beforeAll(async () => {
  campus = await makeCampus();
  material = await trustMaterial(campus);
});

const gate = { id: 'gate-1' };
const library: ReaderPolicy = {
  id: 'library',
  rules: [{ kind: 'antiPassback', id: 'apb', zone: 'library', minReentrySeconds: 60 }],
};

describe('restore after the first scans (a snapshot older than what the verifier holds)', () => {
  it('a code used before the restore stays used: REPLAYED, not accepted a second time', async () => {
    const v = loadedVerifier(campus, material, { backend: nodeBackend });
    const older = v.snapshot({ now: T0 });
    const qr = await campus.code('2024010001', T0);
    expect((await v.verify(qr, { now: T0 + 1, reader: gate })).accepted).toBe(true);
    v.restore(older, { now: T0 + 2 });
    expect(await v.verify(qr, { now: T0 + 3, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    // and the snapshot's own entries are there too
    const w = loadedVerifier(campus, material, { backend: nodeBackend });
    const before = await campus.code('2024010002', T0);
    expect((await w.verify(before, { now: T0, reader: gate })).accepted).toBe(true);
    const snap = w.snapshot({ now: T0 });
    const after = await campus.code('T-0042', T0);
    expect((await w.verify(after, { now: T0 + 1, reader: gate })).accepted).toBe(true);
    w.restore(snap, { now: T0 + 2 });
    for (const code of [before, after]) {
      expect(await w.verify(code, { now: T0 + 3, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    }
    expect(w.status(T0 + 3).replay?.size).toBe(2);
  });

  it('a card that entered before the restore is still inside: a second entry is POLICY_DENIED', async () => {
    const v = loadedVerifier(campus, material, { backend: nodeBackend });
    const older = v.snapshot({ now: T0 });
    const reader = { id: 'library-in', direction: 'in' as const, policy: library };
    const first = await v.verify(await campus.code('2024010001', T0), { now: T0 + 1, reader });
    expect(first.accepted).toBe(true);
    v.restore(older, { now: T0 + 2 });
    expect(await v.verify(await campus.code('2024010001', T0 + 5), { now: T0 + 5, reader })).toMatchObject({
      accepted: false,
      reason: 'POLICY_DENIED',
      rule: 'apb',
    });
  });

  it('a passage recorded before the restore wins over the older one in the snapshot', async () => {
    const v = loadedVerifier(campus, material, { backend: nodeBackend });
    const into = { id: 'library-in', direction: 'in' as const, policy: library };
    const out = { id: 'library-out', direction: 'out' as const, policy: library };
    expect((await v.verify(await campus.code('T-0042', T0), { now: T0, reader: into })).accepted).toBe(true);
    const inside = v.snapshot({ now: T0 });
    expect((await v.verify(await campus.code('T-0042', T0 + 1), { now: T0 + 1, reader: out })).accepted).toBe(
      true,
    );
    v.restore(inside, { now: T0 + 2 });
    // outside since T0 + 1 (the newer passage): re-entry waits for minReentrySeconds, then passes
    expect(
      await v.verify(await campus.code('T-0042', T0 + 30), { now: T0 + 30, reader: into }),
    ).toMatchObject({ accepted: false, reason: 'POLICY_DENIED' });
    expect(
      (await v.verify(await campus.code('T-0042', T0 + 61), { now: T0 + 61, reader: into })).accepted,
    ).toBe(true);
  });

  it('a restore that cannot hold both windows throws RangeError and changes nothing', async () => {
    const v = loadedVerifier(campus, material, { backend: nodeBackend, replayCapacity: 1 });
    const w = loadedVerifier(campus, material, { backend: nodeBackend, replayCapacity: 1 });
    const a = await campus.code('2024010001', T0);
    const b = await campus.code('2024010002', T0);
    expect((await v.verify(a, { now: T0, reader: gate })).accepted).toBe(true);
    expect((await w.verify(b, { now: T0, reader: gate })).accepted).toBe(true);
    expect(() => v.restore(w.snapshot({ now: T0 }), { now: T0 + 1 })).toThrow(RangeError);
    expect(await v.verify(a, { now: T0 + 2, reader: gate })).toMatchObject({ reason: 'REPLAYED' });
    expect((await v.verify(b, { now: T0 + 2, reader: gate })).accepted).toBe(false); // full, not forgotten
  });
});
