/**
 * The anti-passback state evicts the least recently updated card outside, in constant time: the
 * same choices as a walk over every entry (the reference model below), whatever the mix of cards
 * inside and outside, legacy rows and restores.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPassbackState, type PassbackSnapshotRow } from '../../src/policy/passback-state.js';

const NOW = 1_767_225_600;

type Row = PassbackSnapshotRow;
/** The state as a list of rows, least recently updated first, evicting by a walk (the old way). */
function model(maxEntries: number) {
  let rows: Row[] = [];
  const same = (r: Row, zone: string, school: string | null, card: string) =>
    r[0] === zone && r[1] === school && r[2] === card;
  return {
    record(zone: string, school: string, card: string, dir: 'in' | 'out', now: number) {
      rows = rows.filter((r) => !same(r, zone, null, card)); // a legacy row is replaced
      const i = rows.findIndex((r) => same(r, zone, school, card));
      let row: Row;
      if (i === -1) {
        if (rows.length >= maxEntries) {
          const j = rows.findIndex((r) => !r[3]);
          if (j !== -1) rows.splice(j, 1);
        }
        row = [zone, school, card, false, null, null];
      } else {
        row = rows.splice(i, 1)[0] as Row;
      }
      row =
        dir === 'in'
          ? [row[0], row[1], row[2], true, now, row[5]]
          : [row[0], row[1], row[2], false, row[4], now];
      rows.push(row);
    },
    restore(next: Row[]) {
      rows = next.map((r) => [...r] as Row);
      let excess = rows.length - maxEntries;
      rows = rows.filter((r) => {
        if (excess > 0 && !r[3]) {
          excess--;
          return false;
        }
        return true;
      });
    },
    rows: () => rows,
  };
}

describe('passback eviction', () => {
  it('evicts as the walk over every entry would (property)', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('record' as const),
        zone: fc.constantFrom('gate', 'dorm'),
        card: fc.integer({ min: 0, max: 9 }).map((n) => `c${n}`),
        dir: fc.constantFrom('in' as const, 'out' as const),
      }),
      fc.record({ kind: fc.constant('restore' as const) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.constantFrom('gate', 'dorm'), fc.integer({ min: 0, max: 9 }), fc.boolean()), {
          maxLength: 4,
        }),
        fc.array(op, { maxLength: 60 }),
        (maxEntries, legacy, ops) => {
          const s = createPassbackState({ maxEntries });
          const m = model(maxEntries);
          // start from a snapshot holding legacy rows (no school), as an older verifier wrote
          const start: Row[] = legacy.map(([zone, n, inside]) => [zone, null, `c${n}`, inside, NOW, null]);
          s.restore({ version: 2, entries: start });
          // (the state keeps the last of duplicate rows: the model starts from its snapshot)
          m.restore(s.snapshot().entries as Row[]);
          let t = NOW;
          for (const o of ops) {
            if (o.kind === 'record') {
              t++;
              s.record(o.zone, 'S', o.card, o.dir, t);
              m.record(o.zone, 'S', o.card, o.dir, t);
            } else {
              const snap = s.snapshot();
              s.restore(snap);
              m.restore(snap.entries as Row[]);
            }
            expect(s.snapshot().entries).toEqual(m.rows());
          }
        },
      ),
      { numRuns: 300, seed: 424242 },
    );
  });

  it('a full state of cards inside keeps them all and still evicts the one card outside first', () => {
    const s = createPassbackState({ maxEntries: 1000 });
    s.record('gate', 'S', 'out-1', 'out', NOW);
    for (let i = 0; i < 999; i++) s.record('gate', 'S', `in-${i}`, 'in', NOW + 1);
    expect(s.size).toBe(1000);
    s.record('gate', 'S', 'new', 'in', NOW + 2);
    expect(s.get('gate', 'S', 'out-1')).toBeUndefined();
    expect(s.get('gate', 'S', 'in-0')?.inside).toBe(true);
    expect(s.size).toBe(1000);
    // every entry inside: grows past the bound rather than forget one
    s.record('gate', 'S', 'newer', 'in', NOW + 3);
    expect(s.size).toBe(1001);
    expect(s.isFull).toBe(true);
  });
});
