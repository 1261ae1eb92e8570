import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileOutbox, createMemoryOutbox, type OutboxStore } from '../../src/index.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pos-outbox-days-'));
  file = join(dir, 'outbox.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const D1 = Date.UTC(2026, 0, 5); // 2026-01-05T00:00:00Z
const sale = (n: number, capturedAt: number, amountFen = 100 * n) => ({
  kind: 'payment' as const,
  outTradeNo: `T${n}`,
  amountFen,
  qrText: 'CC1:ABC',
  capturedAt,
});
/** The deprecated view by UTC day (computed from the totals by minute). */
const totals = async (o: OutboxStore) => Object.fromEntries(await (o.bookedByDay?.() ?? new Map()));
const MINUTE = 60_000;

describe.each([
  ['memory', async (now: () => number) => createMemoryOutbox({ now })],
  ['file', async (now: () => number) => createFileOutbox(file, { now })],
] as const)('%s outbox: day totals of booked sales (audit 4)', (_name, make) => {
  it('books by the UTC day of capturedAt, only pending sales among the acknowledged, each once', async () => {
    const o = await make(() => D1 + 12 * 3_600_000);
    const a = await o.append(sale(1, D1 + DAY - 1)); // 23:59:59.999 of the 5th: 100
    const b = await o.append(sale(2, D1 + DAY)); // 00:00 of the 6th: 200
    const c = await o.append(sale(3, D1 + 1)); // 300, refused at upload: acknowledged, not booked
    const r = await o.append({ kind: 'reversal', outTradeNo: 'R', capturedAt: D1 });
    const q = await o.append(sale(4, D1 + 2));
    await o.quarantine([q.seq], { code: 'ERR_VALIDATION', status: 422, message: 'x', at: 1 });
    await o.ack([a.seq, b.seq, c.seq, r.seq, q.seq, 999], { booked: [a.seq, b.seq, r.seq, q.seq, 999] });
    expect(await totals(o)).toEqual({ '2026-01-05': 100, '2026-01-06': 200 });
    // the same answer again (a duplicate): the sale is no longer pending, so it is not booked twice
    await o.ack([a.seq], { booked: [a.seq, a.seq] });
    // booked but not acknowledged in this call: not booked
    const d = await o.append(sale(5, D1 + 5));
    await o.ack([], { booked: [d.seq] });
    await o.ack([d.seq, d.seq], { booked: [d.seq, d.seq] });
    expect(await totals(o)).toEqual({ '2026-01-05': 600, '2026-01-06': 200 });
    // without options, as before: acknowledged, not booked
    const e = await o.append(sale(6, D1 + 6));
    await o.ack([e.seq]);
    expect(await totals(o)).toEqual({ '2026-01-05': 600, '2026-01-06': 200 });
    await o.close();
    await expect(o.bookedByDay?.()).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_CLOSED' });
  });

  it('drops the totals of days 8 days (dayTotalsMaxAgeSeconds) before the latest booked day, whatever the clock says', async () => {
    let t = D1;
    const o = await make(() => t);
    const bookAt = async (n: number, at: number) => {
      const e = await o.append(sale(n, at));
      await o.ack([e.seq], { booked: [e.seq] });
    };
    await bookAt(1, D1);
    t = Date.UTC(2099, 0, 1); // a clock set far ahead drops nothing
    expect(await totals(o)).toEqual({ '2026-01-05': 100 });
    await bookAt(2, D1 + 8 * DAY); // the 13th: the 5th is 8 days before, still kept
    expect(await totals(o)).toEqual({ '2026-01-05': 100, '2026-01-13': 200 });
    await bookAt(3, D1 + 9 * DAY); // the 14th: the 5th goes
    expect(await totals(o)).toEqual({ '2026-01-13': 200, '2026-01-14': 300 });
    await o.close();
  });
});

describe('createFileOutbox: day totals across restarts (audit 4)', () => {
  it('an old journal (no day totals) still opens, with none; its sales book as they are acknowledged', async () => {
    const lines = [
      { op: 'seq', last: 50 },
      { op: 'add', entry: { ...sale(1, D1), seq: 60 } },
      { op: 'add', entry: { ...sale(2, D1), seq: 61 } },
      { op: 'add', entry: { kind: 'reversal', outTradeNo: 'R', capturedAt: D1, seq: 62 } },
      { op: 'ack', seqs: [60] },
    ];
    await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const o = await createFileOutbox(file, { now: () => D1 });
    expect((await o.pending()).map((e) => e.seq)).toEqual([61, 62]);
    expect(await totals(o)).toEqual({});
    await o.ack([61], { booked: [61] });
    await o.close();
    const again = await createFileOutbox(file, { now: () => D1 });
    expect(await totals(again)).toEqual({ '2026-01-05': 200 });
    await again.close();
    // the line written is an "ack" line as before, with a field an earlier reader skips
    const last = (await readFile(file, 'utf8')).trim().split('\n').at(-1);
    expect(JSON.parse(last as string)).toEqual({ op: 'ack', seqs: [61], booked: [61] });
  });

  it('the totals survive a reopen and a compaction, which drops the days past their age', async () => {
    let t = D1;
    const open = () => createFileOutbox(file, { now: () => t, compactAfterLines: 2 });
    const o = await open();
    const s: number[] = [];
    for (const [i, at] of [D1, D1 + DAY, D1 + DAY + 5, D1 + 2 * DAY].entries())
      s.push((await o.append(sale(i + 1, at))).seq);
    await o.ack([s[0] as number, s[1] as number], { booked: [s[0] as number, s[1] as number] });
    await o.ack([s[2] as number], { booked: [s[2] as number] });
    await o.close();
    const expected = { '2026-01-05': 100, '2026-01-06': 500 };
    const reopened = await open(); // compacted: one seq line with the totals, the pending sale
    expect(await totals(reopened)).toEqual(expected);
    expect((await reopened.pending()).map((e) => e.seq)).toEqual([s[3]]);
    const text = (await readFile(file, 'utf8')).trim().split('\n');
    expect(text).toHaveLength(2);
    // the totals by UTC minute of capture (the 6th's two sales in one minute)
    expect(JSON.parse(text[0] as string)).toEqual({
      op: 'seq',
      last: s[3],
      minutes: [
        [D1 / MINUTE, 100],
        [(D1 + DAY) / MINUTE, 500],
      ],
    });
    await reopened.ack([s[3] as number], { booked: [s[3] as number] });
    await reopened.close();
    const twice = await open();
    expect(await totals(twice)).toEqual({ ...expected, '2026-01-07': 400 });
    await twice.close();
    // a restart with the clock far ahead (a device without a clock battery, before it syncs its
    // time) compacts again, and keeps every total
    t = Date.UTC(2099, 0, 1);
    await appendFile(file, `${JSON.stringify({ op: 'ack', seqs: [1] })}\n`.repeat(4));
    const ahead = await open();
    expect(await totals(ahead)).toEqual({ ...expected, '2026-01-07': 400 });
    // a sale booked nine days after the 5th: the 5th is past its age, and the next compaction drops it
    const late = await ahead.append(sale(9, D1 + 9 * DAY));
    await ahead.ack([late.seq], { booked: [late.seq] });
    await ahead.close();
    const later = await open();
    const kept = { '2026-01-06': 500, '2026-01-07': 400, '2026-01-14': 900 };
    expect(await totals(later)).toEqual(kept);
    await later.close();
    expect(JSON.parse((await readFile(file, 'utf8')).split('\n')[0] as string).minutes).toEqual([
      [(D1 + DAY) / MINUTE, 500],
      [(D1 + 2 * DAY) / MINUTE, 400],
      [(D1 + 9 * DAY) / MINUTE, 900],
    ]);
  });

  it('a malformed booked list or day record is an unreadable line: cut off when last, corruption before', async () => {
    const o = await createFileOutbox(file, { now: () => D1 });
    const a = await o.append(sale(1, D1));
    await o.close();
    for (const bad of [
      { op: 'ack', seqs: [a.seq], booked: 'all' },
      { op: 'ack', seqs: [a.seq], booked: [1.5] },
      { op: 'seq', last: 1, days: { '2026-01-05': -1 } },
      { op: 'seq', last: 1, days: { yesterday: 1 } },
      { op: 'seq', last: 1, days: [1] },
      { op: 'seq', last: 1, minutes: { 1: 1 } },
      { op: 'seq', last: 1, minutes: [[1.5, 1]] },
      { op: 'seq', last: 1, minutes: [[1, -1]] },
      { op: 'seq', last: 1, minutes: [[1, 1, 1]] },
      { op: 'seq', last: 1, minutes: [[1e15, 1]] },
    ]) {
      const before = await readFile(file, 'utf8');
      await appendFile(file, `${JSON.stringify(bad)}\n`);
      const again = await createFileOutbox(file, { now: () => D1 });
      expect(
        (await again.pending()).map((e) => e.seq),
        JSON.stringify(bad),
      ).toEqual([a.seq]);
      expect(await totals(again)).toEqual({});
      await again.close();
      expect(await readFile(file, 'utf8')).toBe(before); // cut off
      await appendFile(file, `${JSON.stringify(bad)}\n{"op":"ack","seqs":[]}\n`);
      await expect(createFileOutbox(file), JSON.stringify(bad)).rejects.toMatchObject({
        code: 'ERR_POS_OUTBOX_CORRUPT',
      });
      await writeFile(file, before);
    }
  });

  it('refuses a dayTotalsMaxAgeSeconds that is not a non-negative number', async () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(createFileOutbox(file, { dayTotalsMaxAgeSeconds: bad })).rejects.toThrow(RangeError);
      expect(() => createMemoryOutbox({ dayTotalsMaxAgeSeconds: bad })).toThrow(RangeError);
    }
  });
});
