import { describe, expect, it } from 'vitest';
import { isVerifierError } from '../../src/errors.js';
import { createPassbackState } from '../../src/policy/passback-state.js';

const NOW = 1_767_225_600;

describe('createPassbackState', () => {
  it('snapshots to JSON and restores the same state', () => {
    const a = createPassbackState();
    a.record('library', 'c1', 'in', NOW);
    a.record('library', 'c2', 'in', NOW + 1);
    a.record('library', 'c2', 'out', NOW + 2);
    a.record('dorm', 'c1', 'out', NOW + 3);
    const json = JSON.parse(JSON.stringify(a.snapshot()));
    const b = createPassbackState();
    b.restore(json);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.get('library', 'c1')).toEqual({ inside: true, lastEntry: NOW });
    expect(b.get('library', 'c2')).toEqual({ inside: false, lastEntry: NOW + 1, lastExit: NOW + 2 });
    expect(b.get('dorm', 'c2')).toBeUndefined();
  });

  it('rejects a malformed snapshot with a typed error and keeps its state', () => {
    const s = createPassbackState();
    s.record('z', 'c', 'in', NOW);
    for (const bad of [
      null,
      { version: 2, entries: [] },
      { version: 1, entries: [['z', 'c', 'yes', null, null]] },
    ]) {
      let error: unknown;
      try {
        s.restore(bad);
      } catch (e) {
        error = e;
      }
      expect(isVerifierError(error, 'ERR_PASSBACK_SNAPSHOT_INVALID')).toBe(true);
    }
    expect(s.get('z', 'c')?.inside).toBe(true);
  });

  it('is bounded: evicts the least recently updated outside entry, never an inside one', () => {
    const s = createPassbackState({ maxEntries: 3 });
    s.record('z', 'in-1', 'in', NOW);
    s.record('z', 'out-1', 'out', NOW + 1);
    s.record('z', 'out-2', 'out', NOW + 2);
    s.record('z', 'new', 'in', NOW + 3);
    expect(s.size).toBe(3);
    expect(s.get('z', 'out-1')).toBeUndefined();
    expect(s.get('z', 'in-1')?.inside).toBe(true);
    expect(s.isFull).toBe(false);
    s.record('z', 'out-2', 'in', NOW + 4);
    expect(s.isFull).toBe(true); // all three inside
    s.record('z', 'another', 'out', NOW + 5); // grows rather than forgetting an inside card
    expect(s.size).toBe(4);
    expect(s.get('z', 'in-1')?.inside).toBe(true);
  });

  it('restore never forgets a card that is inside: it drops the oldest outside entries first', () => {
    const s = createPassbackState({ maxEntries: 2 });
    s.record('hall', 'A', 'in', NOW);
    s.record('hall', 'B', 'in', NOW + 1);
    s.record('hall', 'C', 'out', NOW + 2); // grows past the bound rather than forget A or B
    expect(s.size).toBe(3);
    const r = createPassbackState({ maxEntries: 2 });
    r.restore(JSON.parse(JSON.stringify(s.snapshot())));
    expect(r.get('hall', 'A')?.inside).toBe(true);
    expect(r.get('hall', 'B')?.inside).toBe(true);
    expect(r.get('hall', 'C')).toBeUndefined();
    expect(r.size).toBe(2);
    // with more outside entries than room: the oldest outside ones go, the newest stay
    const t = createPassbackState({ maxEntries: 10 });
    t.record('hall', 'o1', 'out', NOW);
    t.record('hall', 'i1', 'in', NOW + 1);
    t.record('hall', 'o2', 'out', NOW + 2);
    t.record('hall', 'o3', 'out', NOW + 3);
    t.record('hall', 'i2', 'in', NOW + 4);
    const u = createPassbackState({ maxEntries: 3 });
    u.restore(t.snapshot());
    expect(u.size).toBe(3);
    expect(u.get('hall', 'i1')?.inside).toBe(true);
    expect(u.get('hall', 'i2')?.inside).toBe(true);
    expect(u.get('hall', 'o3')?.inside).toBe(false);
    expect(u.get('hall', 'o1')).toBeUndefined();
    expect(u.get('hall', 'o2')).toBeUndefined();
    // all inside and more than the bound: every one is kept, and the state is full
    const v = createPassbackState({ maxEntries: 1 });
    v.restore(s.snapshot());
    expect(v.get('hall', 'A')?.inside).toBe(true);
    expect(v.get('hall', 'B')?.inside).toBe(true);
    expect(v.isFull).toBe(true);
  });
});
