import { describe, expect, it } from 'vitest';
import { isVerifierError } from '../../src/errors.js';
import { createPassbackState } from '../../src/policy/passback-state.js';

const NOW = 1_767_225_600;
const S = '10001';

describe('createPassbackState', () => {
  it('snapshots to JSON and restores the same state', () => {
    const a = createPassbackState();
    a.record('library', S, 'c1', 'in', NOW);
    a.record('library', S, 'c2', 'in', NOW + 1);
    a.record('library', S, 'c2', 'out', NOW + 2);
    a.record('dorm', S, 'c1', 'out', NOW + 3);
    const json = JSON.parse(JSON.stringify(a.snapshot()));
    const b = createPassbackState();
    b.restore(json);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.get('library', S, 'c1')).toEqual({ inside: true, lastEntry: NOW });
    expect(b.get('library', S, 'c2')).toEqual({ inside: false, lastEntry: NOW + 1, lastExit: NOW + 2 });
    expect(b.get('dorm', S, 'c2')).toBeUndefined();
  });

  it('rejects a malformed snapshot with a typed error and keeps its state', () => {
    const s = createPassbackState();
    s.record('z', S, 'c', 'in', NOW);
    for (const bad of [
      null,
      { version: 3, entries: [] },
      { version: 1, entries: [['z', 'c', 'yes', null, null]] },
      { version: 1, entries: [['z', S, 'c', true, null, null]] }, // a v2 row in a v1 snapshot
      { version: 2, entries: [['z', 'c', true, null, null]] }, // a v1 row in a v2 snapshot
      { version: 2, entries: [['z', 7, 'c', true, null, null]] },
      { version: 2, entries: [['z', S, 'c', true, 'now', null]] },
    ]) {
      let error: unknown;
      try {
        s.restore(bad);
      } catch (e) {
        error = e;
      }
      expect(isVerifierError(error, 'ERR_PASSBACK_SNAPSHOT_INVALID')).toBe(true);
    }
    expect(s.get('z', S, 'c')?.inside).toBe(true);
  });

  it('is bounded: evicts the least recently updated outside entry, never an inside one', () => {
    const s = createPassbackState({ maxEntries: 3 });
    s.record('z', S, 'in-1', 'in', NOW);
    s.record('z', S, 'out-1', 'out', NOW + 1);
    s.record('z', S, 'out-2', 'out', NOW + 2);
    s.record('z', S, 'new', 'in', NOW + 3);
    expect(s.size).toBe(3);
    expect(s.get('z', S, 'out-1')).toBeUndefined();
    expect(s.get('z', S, 'in-1')?.inside).toBe(true);
    expect(s.isFull).toBe(false);
    s.record('z', S, 'out-2', 'in', NOW + 4);
    expect(s.isFull).toBe(true); // all three inside
    s.record('z', S, 'another', 'out', NOW + 5); // grows rather than forgetting an inside card
    expect(s.size).toBe(4);
    expect(s.get('z', S, 'in-1')?.inside).toBe(true);
  });

  it('restore never forgets a card that is inside: it drops the oldest outside entries first', () => {
    const s = createPassbackState({ maxEntries: 2 });
    s.record('hall', S, 'A', 'in', NOW);
    s.record('hall', S, 'B', 'in', NOW + 1);
    s.record('hall', S, 'C', 'out', NOW + 2); // grows past the bound rather than forget A or B
    expect(s.size).toBe(3);
    const r = createPassbackState({ maxEntries: 2 });
    r.restore(JSON.parse(JSON.stringify(s.snapshot())));
    expect(r.get('hall', S, 'A')?.inside).toBe(true);
    expect(r.get('hall', S, 'B')?.inside).toBe(true);
    expect(r.get('hall', S, 'C')).toBeUndefined();
    expect(r.size).toBe(2);
    // with more outside entries than room: the oldest outside ones go, the newest stay
    const t = createPassbackState({ maxEntries: 10 });
    t.record('hall', S, 'o1', 'out', NOW);
    t.record('hall', S, 'i1', 'in', NOW + 1);
    t.record('hall', S, 'o2', 'out', NOW + 2);
    t.record('hall', S, 'o3', 'out', NOW + 3);
    t.record('hall', S, 'i2', 'in', NOW + 4);
    const u = createPassbackState({ maxEntries: 3 });
    u.restore(t.snapshot());
    expect(u.size).toBe(3);
    expect(u.get('hall', S, 'i1')?.inside).toBe(true);
    expect(u.get('hall', S, 'i2')?.inside).toBe(true);
    expect(u.get('hall', S, 'o3')?.inside).toBe(false);
    expect(u.get('hall', S, 'o1')).toBeUndefined();
    expect(u.get('hall', S, 'o2')).toBeUndefined();
    // all inside and more than the bound: every one is kept, and the state is full
    const v = createPassbackState({ maxEntries: 1 });
    v.restore(s.snapshot());
    expect(v.get('hall', S, 'A')?.inside).toBe(true);
    expect(v.get('hall', S, 'B')?.inside).toBe(true);
    expect(v.isFull).toBe(true);
  });

  it('keys the state by school too: the same card id in two schools is two cards', () => {
    const s = createPassbackState();
    s.record('library', '10001', '2024010001', 'in', NOW);
    expect(s.get('library', '10001', '2024010001')?.inside).toBe(true);
    expect(s.get('library', '10002', '2024010001')).toBeUndefined();
    s.record('library', '10002', '2024010001', 'in', NOW + 1);
    s.record('library', '10001', '2024010001', 'out', NOW + 2);
    expect(s.get('library', '10001', '2024010001')).toEqual({
      inside: false,
      lastEntry: NOW,
      lastExit: NOW + 2,
    });
    expect(s.get('library', '10002', '2024010001')).toEqual({ inside: true, lastEntry: NOW + 1 });
    expect(s.size).toBe(2);
    // fields that would run together in a naive key stay apart
    s.record('a', 'b', 'c', 'in', NOW);
    expect(s.get('a', 'bc', '')).toBeUndefined();
    expect(s.get('ab', '', 'c')).toBeUndefined();
    // the version 2 snapshot carries the school
    const snap = s.snapshot();
    expect(snap.version).toBe(2);
    expect(snap.entries).toContainEqual(['library', '10002', '2024010001', true, NOW + 1, null]);
    const r = createPassbackState();
    r.restore(JSON.parse(JSON.stringify(snap)));
    expect(r.snapshot()).toEqual(snap);
    expect(r.get('library', '10002', '2024010001')?.inside).toBe(true);
    expect(r.get('library', '10001', '2024010001')?.inside).toBe(false);
    expect(() => s.record('z', undefined as unknown as string, 'c', 'in', NOW)).toThrow(TypeError);
  });

  it('restores a version 1 snapshot: legacy entries match the card id in any school until it is recorded again', () => {
    const v1 = {
      version: 1,
      entries: [
        ['library', '2024010001', true, NOW, null],
        ['library', 'T-0042', false, NOW, NOW + 5],
        ['dorm', '2024010001', false, null, NOW + 6],
      ],
    };
    const s = createPassbackState();
    s.restore(JSON.parse(JSON.stringify(v1)));
    expect(s.size).toBe(3);
    // where the card is survives the upgrade, whichever school asks
    expect(s.get('library', '10001', '2024010001')).toEqual({ inside: true, lastEntry: NOW });
    expect(s.get('library', '10002', '2024010001')).toEqual({ inside: true, lastEntry: NOW });
    expect(s.get('library', '10001', 'T-0042')).toEqual({ inside: false, lastEntry: NOW, lastExit: NOW + 5 });
    expect(s.get('dorm', '10001', 'T-0042')).toBeUndefined();
    // the legacy rows survive a snapshot (school null) and restore
    expect(s.snapshot().entries[0]).toEqual(['library', null, '2024010001', true, NOW, null]);
    const again = createPassbackState();
    again.restore(s.snapshot());
    expect(again.get('library', '10002', '2024010001')?.inside).toBe(true);
    // the card leaves, recorded with its school: the qualified entry replaces the legacy one
    s.record('library', '10001', '2024010001', 'out', NOW + 10);
    expect(s.get('library', '10001', '2024010001')).toEqual({ inside: false, lastExit: NOW + 10 });
    expect(s.get('library', '10002', '2024010001')).toBeUndefined();
    expect(s.get('dorm', '10002', '2024010001')).toEqual({ inside: false, lastExit: NOW + 6 }); // other zone
    expect(s.size).toBe(3);
    expect(s.isFull).toBe(false);
    s.record('library', '10002', '2024010001', 'in', NOW + 11);
    expect(s.get('library', '10002', '2024010001')?.inside).toBe(true);
    expect(s.size).toBe(4);
    // a legacy entry that was inside no longer counts as inside once replaced
    const b = createPassbackState({ maxEntries: 1 });
    b.restore({ version: 1, entries: [['z', 'c', true, NOW, null]] });
    expect(b.isFull).toBe(true);
    b.record('z', S, 'c', 'out', NOW + 1);
    expect(b.isFull).toBe(false);
  });
});
