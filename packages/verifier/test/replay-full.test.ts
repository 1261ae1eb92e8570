/**
 * REPLAY_STORE_FULL through `createVerifier` (issue 3 §2 "When full"): a full replay window of live
 * entries fails closed, never forgets a live entry, and frees up once an entry's window has passed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReaderPolicy, Verifier } from '../src/index.js';
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

const loaded = (replayCapacity: number): Verifier =>
  loadedVerifier(campus, material, { backend: nodeBackend, replayCapacity });

const gate = { id: 'gate-1' };
/** Anti-passback: were a denied scan to commit, the same card could not enter again. */
const passbackPolicy: ReaderPolicy = {
  id: 'hall',
  rules: [{ kind: 'antiPassback', id: 'hall-apb', zone: 'hall', minReentrySeconds: 0 }],
};
const hallIn = { id: 'hall-in', policy: passbackPolicy, direction: 'in' as const };

describe('replayCapacity: 1', () => {
  it('a second live code is denied REPLAY_STORE_FULL; the first stays REPLAYED; expiry frees the slot', async () => {
    const v = loaded(1);
    // default window: maxAge 90, so the entry of a code with t = T0 lives until T0 + 91
    const first = await campus.code('2024010001', T0);
    expect(await v.verify(first, { now: T0, reader: gate })).toMatchObject({ accepted: true });
    expect(v.status(T0).replay).toEqual({ size: 1, capacity: 1 });

    const second = await campus.code('2024010002', T0 + 1);
    const full = await v.verify(second, { now: T0 + 1, reader: hallIn });
    expect(full).toMatchObject({ accepted: false, reason: 'REPLAY_STORE_FULL', cardId: '2024010002' });
    expect(v.status(T0 + 1).replay).toEqual({ size: 1, capacity: 1 });
    // the live entry is never forgotten, the full store notwithstanding
    expect(await v.verify(first, { now: T0 + 2, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    // the denied code was not recorded either: still full, not a replay
    expect(await v.verify(second, { now: T0 + 3, reader: hallIn })).toMatchObject({
      accepted: false,
      reason: 'REPLAY_STORE_FULL',
    });

    // the last second of the first code's window: still live, still replayed, still full
    expect(await v.verify(first, { now: T0 + 90, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    const third = await campus.code('T-0042', T0 + 90);
    expect(await v.verify(third, { now: T0 + 90, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAY_STORE_FULL',
    });

    // once the first code's window has passed, its entry is reclaimed and a new code goes in
    expect(await v.verify(first, { now: T0 + 91, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
    // the card refused for a full store had not entered the hall (no anti-passback commit)
    const later = await campus.code('2024010002', T0 + 91);
    expect(await v.verify(later, { now: T0 + 91, reader: hallIn })).toMatchObject({
      accepted: true,
      cardId: '2024010002',
    });
    expect(v.status(T0 + 91).replay).toEqual({ size: 1, capacity: 1 });
    expect(await v.verify(later, { now: T0 + 92, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    expect(
      await v.verify(await campus.code('T-0042', T0 + 92), { now: T0 + 92, reader: gate }),
    ).toMatchObject({ accepted: false, reason: 'REPLAY_STORE_FULL' });
  });

  it('compact codes count against the same window', async () => {
    const v = loaded(1);
    expect(await v.verify(await campus.compact('2024010001', T0), { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      mode: 'compact',
    });
    expect(await v.verify(await campus.code('2024010001', T0), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAY_STORE_FULL',
    });
    // a physical card tap has no code to record: it does not use the window
    expect(await v.verify({ uid: new Uint8Array([4, 1, 2, 3]) }, { now: T0, reader: gate })).toMatchObject({
      accepted: true,
      mode: 'physical',
    });
  });

  it('a capacity of 2 admits two codes, then is full', async () => {
    const v = loaded(2);
    for (const id of ['2024010001', '2024010002']) {
      expect((await v.verify(await campus.code(id, T0), { now: T0, reader: gate })).accepted).toBe(true);
    }
    expect(await v.verify(await campus.code('T-0042', T0), { now: T0, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAY_STORE_FULL',
    });
    expect(v.status(T0).replay).toEqual({ size: 2, capacity: 2 });
  });
});
