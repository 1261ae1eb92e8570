/**
 * Review of the booked ledger the offline caps read at every offline sale: with a full 8-day
 * ledger (a total per minute), a sale check must not sort and rebuild 11 520+ totals each time (it
 * runs on a till); kept totals stay exactly those of a plain recount through adds and prunes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBookedLedger, utcDaySpan } from '../../src/lib/day-totals.js';

const MIN = 60_000;
const DAY = 86_400_000;
const T = Date.UTC(2026, 2, 10, 4);

describe('the booked ledger, read at every offline sale', () => {
  it('answers one frozen list until a total is added or dropped (no rebuild per sale)', () => {
    const l = createBookedLedger();
    for (let m = 0; m < 9 * 1440; m++) l.add(T - m * MIN, 100);
    l.prune(8 * DAY);
    const first = l.totals();
    expect(first).toHaveLength(9 * 1440);
    expect(Object.isFrozen(first)).toBe(true);
    // a sale check prunes (nothing due) and reads again: the same list
    l.prune(8 * DAY);
    expect(l.totals()).toBe(first);
    // a sync books a sale: a new list with it
    l.add(T + MIN, 7);
    const second = l.totals();
    expect(second).not.toBe(first);
    expect(second.at(-1)).toEqual({ from: T + MIN, to: T + 2 * MIN, amountFen: 7 });
    // a prune that drops the oldest minutes: a new list without them
    l.add(T + 2 * DAY, 1);
    l.prune(8 * DAY);
    const third = l.totals();
    expect(third).not.toBe(second);
    expect(third[0]?.from).toBeGreaterThan(T + 2 * DAY - 9 * DAY - MIN);
  });

  it('keeps exactly the totals a recount keeps, through any adds and prunes', () => {
    type Op =
      | { op: 'add'; at: number; fen: number }
      | { op: 'day'; day: number; fen: number }
      | { op: 'prune'; ageMs: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        at: fc.integer({ min: -20 * DAY, max: 20 * DAY }),
        fen: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({
        op: fc.constant('day' as const),
        day: fc.integer({ min: -20, max: 20 }),
        fen: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({ op: fc.constant('prune' as const), ageMs: fc.integer({ min: 0, max: 10 * DAY }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const l = createBookedLedger();
        // the model: every booked sale and day, dropped as the ledger documents it
        let model: { from: number; to: number; amountFen: number; day: boolean }[] = [];
        for (const o of ops) {
          if (o.op === 'add') {
            l.add(T + o.at, o.fen);
            const m = Math.floor((T + o.at) / MIN) * MIN;
            model.push({ from: m, to: m + MIN, amountFen: o.fen, day: false });
          } else if (o.op === 'day') {
            const d = new Date(T + o.day * DAY).toISOString().slice(0, 10);
            l.addUtcDay(d, o.fen);
            const span = utcDaySpan(d) as { start: number; end: number };
            model.push({ from: span.start, to: span.end, amountFen: o.fen, day: true });
          } else {
            l.prune(o.ageMs);
            const latest = Math.max(...model.map((t) => t.to));
            model = model.filter((t) => t.to > latest - o.ageMs - DAY);
          }
          const sum = (xs: readonly { from: number; to: number; amountFen: number }[]) => {
            const by = new Map<string, number>();
            for (const t of xs) by.set(`${t.from}/${t.to}`, (by.get(`${t.from}/${t.to}`) ?? 0) + t.amountFen);
            return [...by].sort();
          };
          expect(sum(l.totals())).toEqual(sum(model));
        }
      }),
      { numRuns: 300, seed: 20_260_310 },
    );
  });
});
