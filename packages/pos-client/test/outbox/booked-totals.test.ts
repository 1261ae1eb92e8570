/**
 * The outboxes keep booked sales by UTC minute of capture, so that the offline caps count a sale's
 * business day at the offset configured when they check it; an old journal's UTC-day totals count
 * towards every business day they overlap.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createFileOutbox,
  createMemoryOutbox,
  createPosClient,
  type OfflineCaps,
  type OutboxStore,
} from '../../src/index.js';
import { assertCaps, brokenCap } from '../../src/offline-caps.js';
import { deviceJwk, QR } from '../helpers.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pos-booked-'));
  file = join(dir, 'outbox.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;
const MINUTE = 60_000;
const D1 = Date.UTC(2026, 0, 5); // 08:00 on the 5th in Beijing
const sale = (n: number, capturedAt: number, amountFen: number) => ({
  kind: 'payment' as const,
  outTradeNo: `T${n}`,
  amountFen,
  qrText: 'CC1:ABC',
  capturedAt,
});
const caps = (dayUtcOffset?: string): OfflineCaps => ({
  perTransactionFen: 1_000,
  totalFen: 1_500,
  maxAgeSeconds: 86_400,
  ...(dayUtcOffset === undefined ? {} : { dayUtcOffset }),
});
/** The cap a sale of `fen` at `at` breaks, against what `o` booked. */
const capAt = async (o: OutboxStore, offset: string | undefined, fen: number, at: number) =>
  brokenCap(caps(offset), await o.pending(), (await o.bookedTotals?.()) ?? [], fen, at);

describe.each([
  ['memory', async () => createMemoryOutbox({ now: () => D1 })],
  ['file', async () => createFileOutbox(file, { now: () => D1 })],
] as const)('%s outbox: booked totals by time of capture', (_name, make) => {
  it('a sale at 07:30 in Beijing (23:30Z the day before) counts towards that local day, at whatever offset is configured when checked', async () => {
    const o = await make();
    const a = await o.append(sale(1, D1 - 30 * MINUTE + 123, 1_000)); // 07:30 on the 5th in Beijing
    await o.ack([a.seq], { booked: [a.seq] });
    expect(await o.bookedTotals?.()).toEqual([
      { from: D1 - 30 * MINUTE, to: D1 - 29 * MINUTE, amountFen: 1_000 },
    ]);
    // +08:00 (the default): 10:00 on the 5th is the same local day
    expect(await capAt(o, undefined, 501, D1 + 2 * HOUR)).toBe('total');
    expect(await capAt(o, '+08:00', 500, D1 + 2 * HOUR)).toBeUndefined();
    // 23:59:59.999 on the 5th (15:59:59.999Z) still is; 00:00 on the 6th is not
    expect(await capAt(o, undefined, 501, D1 + 16 * HOUR - 1)).toBe('total');
    expect(await capAt(o, undefined, 1_000, D1 + 16 * HOUR)).toBeUndefined();
    // the same outbox, configured for UTC days: the sale is of the 4th (UTC)
    expect(await capAt(o, '+00:00', 1_000, D1 + 2 * HOUR)).toBeUndefined();
    expect(await capAt(o, '+00:00', 501, D1 - 1)).toBe('total');
    // -05:00: 23:30Z is 18:30 on the 4th; 05:00Z on the 5th is the next day
    expect(await capAt(o, '-05:00', 501, D1 + 4 * HOUR)).toBe('total');
    expect(await capAt(o, '-05:00', 1_000, D1 + 5 * HOUR)).toBeUndefined();
    await o.close();
    await expect(o.bookedTotals?.()).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_CLOSED' });
  });
});

describe('createFileOutbox: journals of earlier versions (totals by UTC day)', () => {
  it("keeps an old compacted journal's UTC-day totals, which count towards each local day they overlap, until they age out", async () => {
    // written by the previous version: 1 000 fen booked on the UTC day 2026-01-05 (08:00 on the
    // 5th to 08:00 on the 6th in Beijing)
    await writeFile(file, `${JSON.stringify({ op: 'seq', last: 50, days: { '2026-01-05': 1_000 } })}\n`);
    const o = await createFileOutbox(file, { now: () => D1 });
    expect(await o.bookedTotals?.()).toEqual([{ from: D1, to: D1 + 24 * HOUR, amountFen: 1_000 }]);
    // both local days it overlaps count it: never less than the sales captured on them
    expect(await capAt(o, undefined, 501, D1 - 1)).toBe('total'); // 07:59 on the 5th in Beijing
    expect(await capAt(o, undefined, 501, D1 + 20 * HOUR)).toBe('total'); // 04:00 on the 6th
    expect(await capAt(o, undefined, 1_000, D1 + 40 * HOUR)).toBeUndefined(); // 00:00 on the 7th
    expect(await capAt(o, '+00:00', 1_000, D1 + 24 * HOUR)).toBeUndefined(); // the 6th (UTC)
    // a new sale books by minute beside it; the deprecated view by UTC day adds both up
    const a = await o.append(sale(1, D1 + 2 * HOUR, 200));
    await o.ack([a.seq], { booked: [a.seq] });
    expect(Object.fromEntries((await o.bookedByDay?.()) ?? [])).toEqual({ '2026-01-05': 1_200 });
    await o.close();

    // a compaction keeps both, each as it is
    const c = await createFileOutbox(file, { now: () => D1, compactAfterLines: 0 });
    expect(await c.bookedTotals?.()).toEqual([
      { from: D1 + 2 * HOUR, to: D1 + 2 * HOUR + MINUTE, amountFen: 200 },
      { from: D1, to: D1 + 24 * HOUR, amountFen: 1_000 },
    ]);
    await c.close();
    const first = JSON.parse((await readFile(file, 'utf8')).split('\n')[0] as string);
    expect(first).toEqual({
      op: 'seq',
      last: a.seq,
      minutes: [[(D1 + 2 * HOUR) / MINUTE, 200]],
      days: { '2026-01-05': 1_000 },
    });

    // nine days after the old day, it is still within its age (8 days and a day, counted from the
    // latest booked capture back to the end of a span): kept; the sale of 10:00 on the 5th is not
    const late = await createFileOutbox(file, { now: () => D1 });
    const b = await late.append(sale(2, D1 + 9 * 24 * HOUR + 2 * HOUR, 300));
    await late.ack([b.seq], { booked: [b.seq] });
    expect(await late.bookedTotals?.()).toEqual([
      { from: D1 + 218 * HOUR, to: D1 + 218 * HOUR + MINUTE, amountFen: 300 },
      { from: D1, to: D1 + 24 * HOUR, amountFen: 1_000 },
    ]);
    // ten days after it, it goes
    const c2 = await late.append(sale(3, D1 + 10 * 24 * HOUR + 2 * HOUR, 400));
    await late.ack([c2.seq], { booked: [c2.seq] });
    expect(await late.bookedTotals?.()).toEqual([
      { from: D1 + 218 * HOUR, to: D1 + 218 * HOUR + MINUTE, amountFen: 300 },
      { from: D1 + 242 * HOUR, to: D1 + 242 * HOUR + MINUTE, amountFen: 400 },
    ]);
    await late.close();
  });
});

describe('a store that has only the deprecated bookedByDay', () => {
  it('its UTC days count towards each business day they overlap', async () => {
    const inner = createMemoryOutbox({ now: () => D1 });
    const legacy: OutboxStore = {
      append: (e) => inner.append(e),
      pending: () => inner.pending(),
      ack: (s, opts) => inner.ack(s, opts),
      quarantine: (s, r) => inner.quarantine(s, r),
      quarantined: () => inner.quarantined(),
      bookedByDay: async () => new Map([['2026-01-05', 1_000]]),
      close: () => inner.close(),
    };
    let now = D1 + 20 * HOUR; // 04:00 on the 6th in Beijing: the UTC day 2026-01-05 overlaps it
    const pos = createPosClient({
      baseUrl: 'http://127.0.0.1:9',
      deviceId: 'pos-x',
      privateKey: deviceJwk,
      now: () => now,
      offline: { outbox: legacy, caps: caps(), startOffline: true },
    });
    await expect(pos.scanToPay({ qr: QR, amountFen: 501 })).rejects.toMatchObject({
      code: 'ERR_POS_OFFLINE_CAP',
      cap: 'total',
    });
    now = D1 + 40 * HOUR; // 00:00 on the 7th: no longer
    expect((await pos.scanToPay({ qr: QR, amountFen: 1_000 })).status).toBe('offline_accepted');
    await pos.close();
  });
});

describe('the offset is validated', () => {
  it('assertCaps refuses an offset that is not ±HH:MM within ±14:00', () => {
    for (const ok of [undefined, '+08:00', '-05:00', '+00:00', '-00:00', '+14:00', '-14:00', '+05:45'])
      expect(() => assertCaps(caps(ok)), String(ok)).not.toThrow();
    for (const bad of ['+8', '08:00', '+0800', '+14:01', '+15:00', '+08:60', 'Z', '', 'UTC+8']) {
      expect(() => assertCaps(caps(bad)), bad).toThrow(
        new RangeError(
          `offline.caps.dayUtcOffset must be a UTC offset ±HH:MM from -14:00 to +14:00 (e.g. +08:00), got ${JSON.stringify(bad)}`,
        ),
      );
    }
    expect(() => assertCaps({ ...caps(), dayUtcOffset: 8 as unknown as string })).toThrow(RangeError);
  });
});
