/**
 * The code's time window (issue 3 §1, step 3): `now − maxAge ≤ t ≤ now + maxFuture`, configurable
 * through `createVerifier`, with `CODE_TOO_OLD` / `CODE_FROM_FUTURE` outside it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier, type VerifierOptions } from '../src/index.js';
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

const loaded = (opts: Partial<VerifierOptions> = {}): Verifier =>
  loadedVerifier(campus, material, { backend: nodeBackend, ...opts });

const gate = { id: 'gate-1' };
const NOW = T0 + 1000;
const ID = '2024010001';

/** The decision on a fresh code made at `t`, full mode or compact mode, read at {@link NOW}. */
async function at(v: Verifier, t: number, mode: 'full' | 'compact' = 'full') {
  const qr = mode === 'full' ? await campus.code(ID, t) : await campus.compact(ID, t);
  return v.verify(qr, { now: NOW, reader: gate });
}

describe('configurable time window', () => {
  for (const mode of ['full', 'compact'] as const) {
    it(`maxAge: 30 — t = now − 31 is CODE_TOO_OLD, t = now − 30 is accepted (${mode})`, async () => {
      const v = loaded({ maxAge: 30 });
      expect(await at(v, NOW - 31, mode)).toMatchObject({
        accepted: false,
        reason: 'CODE_TOO_OLD',
        coreCode: 'ERR_PRESENTATION_TOO_OLD',
      });
      expect(await at(v, NOW - 30, mode)).toMatchObject({ accepted: true, t: NOW - 30, mode });
      // the default 90 s no longer applies
      expect(await at(v, NOW - 60, mode)).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
    });

    it(`maxFuture: 5 — t = now + 6 is CODE_FROM_FUTURE, t = now + 5 is accepted (${mode})`, async () => {
      const v = loaded({ maxFuture: 5 });
      expect(await at(v, NOW + 6, mode)).toMatchObject({
        accepted: false,
        reason: 'CODE_FROM_FUTURE',
        coreCode: 'ERR_PRESENTATION_FROM_FUTURE',
      });
      expect(await at(v, NOW + 5, mode)).toMatchObject({ accepted: true, t: NOW + 5, mode });
      expect(await at(v, NOW + 20, mode)).toMatchObject({ accepted: false, reason: 'CODE_FROM_FUTURE' });
    });
  }

  it('both bounds together, and each leaves the other alone', async () => {
    const v = loaded({ maxAge: 30, maxFuture: 5 });
    expect(await at(v, NOW - 31)).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
    expect(await at(v, NOW + 6)).toMatchObject({ accepted: false, reason: 'CODE_FROM_FUTURE' });
    expect((await at(v, NOW - 30)).accepted).toBe(true);
    expect((await at(v, NOW)).accepted).toBe(true);
    expect((await at(v, NOW + 5)).accepted).toBe(true);

    const ageOnly = loaded({ maxAge: 30 }); // maxFuture stays 30
    expect((await at(ageOnly, NOW + 30)).accepted).toBe(true);
    expect(await at(ageOnly, NOW + 31)).toMatchObject({ accepted: false, reason: 'CODE_FROM_FUTURE' });
    const futureOnly = loaded({ maxFuture: 5 }); // maxAge stays 90
    expect((await at(futureOnly, NOW - 90)).accepted).toBe(true);
    expect(await at(futureOnly, NOW - 91)).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
  });

  it('defaults: now − 90 ≤ t ≤ now + 30, bounds included', async () => {
    const v = loaded();
    expect((await at(v, NOW - 90)).accepted).toBe(true);
    expect(await at(v, NOW - 91)).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
    expect((await at(v, NOW + 30)).accepted).toBe(true);
    expect(await at(v, NOW + 31)).toMatchObject({ accepted: false, reason: 'CODE_FROM_FUTURE' });
  });

  it('maxAge: 0 and maxFuture: 0 admit only t = now', async () => {
    const v = loaded({ maxAge: 0, maxFuture: 0 });
    expect(await at(v, NOW - 1)).toMatchObject({ accepted: false, reason: 'CODE_TOO_OLD' });
    expect(await at(v, NOW + 1)).toMatchObject({ accepted: false, reason: 'CODE_FROM_FUTURE' });
    expect((await at(v, NOW)).accepted).toBe(true);
  });

  it('with maxAge: 30 a code accepted at the edge of the window is still a replay within it', async () => {
    const v = loaded({ maxAge: 30 });
    const qr = await campus.code(ID, NOW - 30);
    expect((await v.verify(qr, { now: NOW, reader: gate })).accepted).toBe(true);
    expect(await v.verify(qr, { now: NOW, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    expect(await v.verify(qr, { now: NOW + 1, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
  });

  it('rejects bad window options at creation', () => {
    for (const bad of [-1, Number.NaN]) {
      expect(() => createVerifier({ rootKeys: [campus.root.publicKey], maxAge: bad })).toThrow(RangeError);
      expect(() => createVerifier({ rootKeys: [campus.root.publicKey], maxFuture: bad })).toThrow(RangeError);
    }
  });

  it('rejects an infinite window at creation (a replay entry must expire: each scan was INTERNAL_ERROR)', () => {
    for (const name of ['maxAge', 'maxFuture', 'clockSkew'] as const) {
      expect(() =>
        createVerifier({ rootKeys: [campus.root.publicKey], [name]: Number.POSITIVE_INFINITY }),
      ).toThrow(RangeError);
    }
  });
});
