import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isVerifierError, VerifierError } from '../../src/errors.js';
import { encodeJournalRecord, JOURNAL_RECORD_BYTES, replayJournal } from '../../src/replay/journal.js';
import { createMemoryReplayStore } from '../../src/replay/memory-replay-store.js';
import { restoreMemoryReplayStore } from '../../src/replay/restore-memory-replay-store.js';

const NOW = 1_767_225_600;

function digestOf(n: number): Uint8Array {
  const d = new Uint8Array(16);
  const v = new DataView(d.buffer);
  v.setUint32(0, Math.imul(n, 0x85ebca6b), true);
  v.setUint32(4, n, true);
  v.setUint32(8, ~n, true);
  v.setUint32(12, 0xdeadbeef, true);
  return d;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof VerifierError) return e.code;
    throw e;
  }
  return undefined;
}

describe('snapshot / restoreMemoryReplayStore', () => {
  it('keeps only live entries and restores them', () => {
    const store = createMemoryReplayStore({ capacity: 100 });
    store.checkAndInsert(digestOf(1), NOW + 10, NOW);
    store.checkAndInsert(digestOf(2), NOW + 100, NOW);
    const snap = store.snapshot(NOW + 20);
    expect(snap.length).toBe(12 + 20 + 16);
    const restored = restoreMemoryReplayStore(snap, { capacity: 10, now: NOW + 20 });
    expect(restored.size).toBe(1);
    expect(restored.checkAndInsert(digestOf(2), NOW + 200, NOW + 21)).toBe('replayed');
    expect(restored.checkAndInsert(digestOf(1), NOW + 200, NOW + 21)).toBe('fresh');
    expect(restored.checkAndInsert(digestOf(2), NOW + 200, NOW + 100)).toBe('fresh');
  });

  it('property: a restored store answers exactly like the original', () => {
    const op = fc.record({ key: fc.integer({ min: 0, max: 60 }), ttl: fc.integer({ min: 1, max: 40 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.array(op, { maxLength: 120 }), (before, after) => {
        const a = createMemoryReplayStore({ capacity: 50 });
        let now = NOW;
        for (const { key, ttl } of before) a.checkAndInsert(digestOf(key), now + ttl, now++);
        const b = restoreMemoryReplayStore(a.snapshot(now), { capacity: 50, now });
        for (const { key, ttl } of after) {
          expect(b.checkAndInsert(digestOf(key), now + ttl, now)).toBe(
            a.checkAndInsert(digestOf(key), now + ttl, now),
          );
          now++;
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('rejects a truncated or corrupt snapshot with ERR_REPLAY_SNAPSHOT_CORRUPT', () => {
    const store = createMemoryReplayStore({ capacity: 10 });
    for (let n = 0; n < 5; n++) store.checkAndInsert(digestOf(n), NOW + 50, NOW);
    const snap = store.snapshot(NOW);
    for (const len of [0, 10, 27, snap.length - 1, snap.length - 20]) {
      expect(codeOf(() => restoreMemoryReplayStore(snap.subarray(0, len), { capacity: 10 }))).toBe(
        'ERR_REPLAY_SNAPSHOT_CORRUPT',
      );
    }
    for (const at of [0, 4, 5, 8, 20, snap.length - 1]) {
      const bad = new Uint8Array(snap);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      expect(codeOf(() => restoreMemoryReplayStore(bad, { capacity: 10 }))).toBe(
        'ERR_REPLAY_SNAPSHOT_CORRUPT',
      );
    }
    expect(codeOf(() => restoreMemoryReplayStore(concat([snap, new Uint8Array(1)]), { capacity: 10 }))).toBe(
      'ERR_REPLAY_SNAPSHOT_CORRUPT',
    );
  });

  it('throws RangeError when the capacity is too small for the snapshot', () => {
    const store = createMemoryReplayStore({ capacity: 10 });
    for (let n = 0; n < 5; n++) store.checkAndInsert(digestOf(n), NOW + 50, NOW);
    expect(() => restoreMemoryReplayStore(store.snapshot(NOW), { capacity: 4, now: NOW })).toThrow(
      RangeError,
    );
  });
});

describe('journal', () => {
  function journalled(n: number): { bytes: Uint8Array; records: Uint8Array[] } {
    const records: Uint8Array[] = [];
    const store = createMemoryReplayStore({
      capacity: 100,
      onInsert: (d, e) => records.push(encodeJournalRecord(d, e)),
    });
    for (let k = 0; k < n; k++) store.checkAndInsert(digestOf(k), NOW + 10 + k, NOW);
    store.checkAndInsert(digestOf(0), NOW + 10, NOW); // replayed: not journalled
    return { bytes: concat(records), records };
  }

  it('encodes fixed-size records and replays them into a store', () => {
    const { bytes, records } = journalled(5);
    expect(records).toHaveLength(5);
    expect(bytes.length).toBe(5 * JOURNAL_RECORD_BYTES);
    const store = createMemoryReplayStore({ capacity: 100 });
    const result = replayJournal(bytes, store, NOW + 12);
    expect(result).toEqual({
      records: 5,
      applied: 2,
      validByteLength: bytes.length,
      tornBytes: 0,
      expiredUntil: NOW + 12, // the latest of the three skipped as expired (NOW + 10, 11, 12)
    });
    expect(store.checkAndInsert(digestOf(4), NOW + 100, NOW + 12)).toBe('replayed');
    expect(store.checkAndInsert(digestOf(1), NOW + 100, NOW + 12)).toBe('fresh');
  });

  it('reports the latest expiry among the records it skipped as expired (0 when none)', () => {
    const records: Uint8Array[] = [];
    const at = [NOW + 30, NOW + 5, NOW + 20, NOW + 50, NOW + 10];
    at.forEach((e, k) => {
      records.push(encodeJournalRecord(digestOf(k), e));
    });
    const bytes = concat(records);
    const read = (now: number) => replayJournal(bytes, createMemoryReplayStore({ capacity: 100 }), now);
    expect(read(NOW)).toMatchObject({ applied: 5, expiredUntil: 0 });
    expect(read(NOW + 20)).toMatchObject({ applied: 2, expiredUntil: NOW + 20 }); // expiresAt <= now skipped
    expect(read(NOW + 49)).toMatchObject({ applied: 1, expiredUntil: NOW + 30 });
    expect(read(NOW + 1000)).toMatchObject({ applied: 0, expiredUntil: NOW + 50 });
    // a torn last record does not count
    const torn = concat([
      encodeJournalRecord(digestOf(9), NOW + 40),
      encodeJournalRecord(digestOf(8), NOW + 90),
    ]);
    torn[torn.length - 1] = (torn[torn.length - 1] as number) ^ 1;
    expect(replayJournal(torn, createMemoryReplayStore({ capacity: 100 }), NOW + 100)).toMatchObject({
      records: 1,
      expiredUntil: NOW + 40,
      tornBytes: JOURNAL_RECORD_BYTES,
    });
  });

  it('ignores a torn last record, partial or complete', () => {
    const { bytes } = journalled(4);
    for (let cut = 1; cut < JOURNAL_RECORD_BYTES; cut += 5) {
      const store = createMemoryReplayStore({ capacity: 100 });
      const r = replayJournal(bytes.subarray(0, bytes.length - cut), store, NOW);
      expect(r).toEqual({
        records: 3,
        applied: 3,
        validByteLength: 3 * JOURNAL_RECORD_BYTES,
        tornBytes: 32 - cut,
        expiredUntil: 0,
      });
      expect(store.checkAndInsert(digestOf(3), NOW + 100, NOW)).toBe('fresh');
    }
    const zeroed = new Uint8Array(bytes);
    zeroed.fill(0, 3 * JOURNAL_RECORD_BYTES + 20); // written length, lost data
    const r = replayJournal(zeroed, createMemoryReplayStore({ capacity: 100 }), NOW);
    expect(r).toEqual({
      records: 3,
      applied: 3,
      validByteLength: 3 * JOURNAL_RECORD_BYTES,
      tornBytes: 32,
      expiredUntil: 0,
    });
  });

  it('rejects corruption before the last record with ERR_REPLAY_JOURNAL_CORRUPT', () => {
    const { bytes } = journalled(4);
    for (const at of [0, 5, 25, 31, 40, 2 * JOURNAL_RECORD_BYTES + 3]) {
      const bad = new Uint8Array(bytes);
      bad[at] = (bad[at] ?? 0) ^ 0x80;
      expect(codeOf(() => replayJournal(bad, createMemoryReplayStore({ capacity: 100 }), NOW))).toBe(
        'ERR_REPLAY_JOURNAL_CORRUPT',
      );
    }
    // a bad last complete record followed by a partial one is not a single torn write
    const bad = concat([bytes, new Uint8Array(3)]);
    bad[3 * JOURNAL_RECORD_BYTES + 10] = bad[3 * JOURNAL_RECORD_BYTES + 10]! ^ 1;
    expect(codeOf(() => replayJournal(bad, createMemoryReplayStore({ capacity: 100 }), NOW))).toBe(
      'ERR_REPLAY_JOURNAL_CORRUPT',
    );
  });

  it('snapshot + journal reproduce the store after a reboot', () => {
    const journal: Uint8Array[] = [];
    const a = createMemoryReplayStore({
      capacity: 100,
      onInsert: (d, e) => journal.push(encodeJournalRecord(d, e)),
    });
    for (let k = 0; k < 10; k++) a.checkAndInsert(digestOf(k), NOW + 60, NOW);
    const snap = a.snapshot(NOW);
    journal.length = 0; // truncated after the snapshot
    for (let k = 10; k < 20; k++) a.checkAndInsert(digestOf(k), NOW + 60, NOW + 1);
    const b = restoreMemoryReplayStore(snap, { capacity: 100, now: NOW + 2 });
    replayJournal(concat(journal), b, NOW + 2);
    for (let k = 0; k < 25; k++) {
      expect(b.checkAndInsert(digestOf(k), NOW + 60, NOW + 2)).toBe(
        a.checkAndInsert(digestOf(k), NOW + 60, NOW + 2),
      );
    }
  });

  it('rejects bad arguments', () => {
    expect(() => encodeJournalRecord(new Uint8Array(16), 0)).toThrow(RangeError);
    expect(() => encodeJournalRecord(new Uint8Array(16), 1.5)).toThrow(RangeError);
    expect(() => encodeJournalRecord(new Uint8Array(8), 10)).toThrow(RangeError);
    expect(
      isVerifierError(new VerifierError('ERR_REPLAY_JOURNAL_CORRUPT', 'x'), 'ERR_REPLAY_JOURNAL_CORRUPT'),
    ).toBe(true);
  });
});
