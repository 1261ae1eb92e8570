/**
 * A power cut right after a scan must not reopen the replay window (issue 3 §2): every accepted
 * code goes through `onReplayRecord` before `verify` returns, and `replayJournal` puts it back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, encodeJournalRecord } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

let campus: Campus;
beforeAll(async () => {
  campus = await makeCampus();
});

const gate = { id: 'gate-1' };

async function reader(journal: Uint8Array[], failWrites = false, replayCapacity?: number) {
  const v = createVerifier({
    rootKeys: [campus.root.publicKey],
    backend: nodeBackend,
    ...(replayCapacity === undefined ? {} : { replayCapacity }),
    onReplayRecord: (digest, expiresAt) => {
      if (failWrites) throw new Error('disk full');
      journal.push(encodeJournalRecord(digest, expiresAt));
    },
  });
  expect(v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 }).ok).toBe(true);
  return v;
}

describe('replay journal', () => {
  it('survives a power cut between two snapshots', async () => {
    const journal: Uint8Array[] = [];
    const before = await reader(journal);
    const snapshot = before.snapshot({ now: T0 }); // taken before the scans
    const a = await campus.code('2024010001', T0 - 5);
    const b = await campus.code('2024010002', T0 - 4);
    const da = await before.verify(a, { now: T0, reader: gate });
    expect(da).toMatchObject({ accepted: true });
    expect((await before.verify(b, { now: T0, reader: gate })).accepted).toBe(true);
    expect(journal).toHaveLength(2);

    // power cut: only the old snapshot and the journal (with a torn half record) survive
    const torn = encodeJournalRecord(new Uint8Array(16).fill(9), T0 + 90).subarray(0, 7);
    const bytes = Uint8Array.from([...journal.flatMap((r) => [...r]), ...torn]);
    const after = await reader([]);
    after.restore(snapshot, { now: T0 + 10 });
    const r = after.replayJournal(bytes, { now: T0 + 10 });
    expect(r).toMatchObject({ records: 2, applied: 2, validByteLength: bytes.length - 7 });
    expect(await after.verify(a, { now: T0 + 10, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    expect(await after.verify(b, { now: T0 + 10, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'REPLAYED',
    });
    // without the journal the same codes would pass again: the journal is what closes the window
    const naive = await reader([]);
    naive.restore(snapshot, { now: T0 + 10 });
    expect(await naive.verify(a, { now: T0 + 10, reader: gate })).toMatchObject({ accepted: true });
  });

  it('journal read at a fast boot clock keeps used codes out', async () => {
    const journal: Uint8Array[] = [];
    const before = await reader(journal);
    const snap = before.snapshot({ now: T0 - 1 });
    const code = await campus.code('2024010001', T0);
    expect((await before.verify(code, { now: T0, reader: { id: 'g' } })).accepted).toBe(true);
    const after = await reader([]);
    after.restore(snap, { now: T0 + 200 }); // RTC 200 s fast at boot
    const r = after.replayJournal(Uint8Array.from(journal.flatMap((x) => [...x])), { now: T0 + 200 });
    expect(r).toMatchObject({ records: 1, applied: 0, expiredUntil: T0 + 91 });
    // the clock is corrected back to T0 + 10 (within the floor tolerance): the used code is refused
    expect(await after.verify(code, { now: T0 + 10, reader: { id: 'g' } })).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
    // fresh codes are unaffected, and a code of the same second is recorded again as usual
    const fresh = await campus.code('2024010001', T0 + 10);
    expect((await after.verify(fresh, { now: T0 + 10, reader: { id: 'g' } })).accepted).toBe(true);
    expect(await after.verify(fresh, { now: T0 + 11, reader: { id: 'g' } })).toMatchObject({
      reason: 'REPLAYED',
    });
    // and a later snapshot carries the raised replay clock across the next reboot
    const again = await reader([]);
    again.restore(after.snapshot({ now: T0 + 12 }), { now: T0 + 12 });
    expect(await again.verify(code, { now: T0 + 12, reader: { id: 'g' } })).toMatchObject({
      reason: 'CODE_TOO_OLD',
    });
  });

  it("a journal read at a fast boot clock does not drop the snapshot's entries at that clock", async () => {
    const n = (x: number) => new Uint8Array([0, 0, 0, x]);
    const c = await campus.code('2024010001', T0, { nonce: n(1) });
    const e = await campus.code('2024010002', T0, { nonce: n(2) });
    const d = await campus.code('T-0042', T0 + 40, { nonce: n(11) }); // a phone 30 s ahead: allowed
    const journal: Uint8Array[] = [];
    const before = await reader(journal, false, 3);
    expect((await before.verify(c, { now: T0, reader: gate })).accepted).toBe(true);
    expect((await before.verify(e, { now: T0, reader: gate })).accepted).toBe(true);
    const snap = before.snapshot({ now: T0 });
    journal.length = 0; // the snapshot is stored: the journal starts over
    expect((await before.verify(d, { now: T0 + 10, reader: gate })).accepted).toBe(true);
    // reboot with the real-time clock 80 s fast; the journal's record fills the table, whose
    // entries (c and e) have expired at that clock but not at any clock a scan vouched for
    const after = await reader([], false, 3);
    after.restore(snap, { now: T0 + 100 });
    after.replayJournal(Uint8Array.from(journal.flatMap((x) => [...x])), { now: T0 + 100 });
    // the clock is set back: the codes used before the reboot stay used
    for (const code of [c, e, d]) {
      expect(await after.verify(code, { now: T0 + 20, reader: gate })).toMatchObject({ accepted: false });
    }
  });

  it('a journal that fails part-way still refuses, as too old, what expired by the boot clock', async () => {
    const journal: Uint8Array[] = [];
    const before = await reader(journal);
    const snap = before.snapshot({ now: T0 - 1 });
    const code = await campus.code('2024010001', T0);
    expect((await before.verify(code, { now: T0, reader: gate })).accepted).toBe(true);
    const bad = encodeJournalRecord(new Uint8Array(16).fill(7), T0 + 300);
    bad[10] = (bad[10] as number) ^ 0xff; // damaged, and not the last record
    const bytes = Uint8Array.from([...journal.flatMap((x) => [...x]), ...bad, ...(journal[0] as Uint8Array)]);
    const after = await reader([]);
    after.restore(snap, { now: T0 + 200 }); // RTC 200 s fast
    expect(() => after.replayJournal(bytes, { now: T0 + 200 })).toThrow(
      expect.objectContaining({ code: 'ERR_REPLAY_JOURNAL_CORRUPT' }),
    );
    // an integrator that logs the error and serves on: the clock set back does not reopen the code
    expect(await after.verify(code, { now: T0 + 10, reader: gate })).toMatchObject({
      accepted: false,
      reason: 'CODE_TOO_OLD',
    });
  });

  it('fails closed when the journal cannot be written', async () => {
    const v = await reader([], true);
    const d = await v.verify(await campus.code('2024010001', T0 - 5), { now: T0, reader: gate });
    expect(d).toMatchObject({ accepted: false, reason: 'REPLAY_STORE_UNAVAILABLE' });
  });
});
