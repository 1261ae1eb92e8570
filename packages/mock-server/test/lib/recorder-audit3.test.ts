/**
 * The recorder's memory bound in bytes, beside its bound in entries: a few huge entries (request
 * and response bodies of up to 64 KiB each) must not take unbounded memory, the oldest go first,
 * and an entry larger than the whole bound is kept as a stub (or dropped), never allowed to empty
 * the recording or to overflow it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMockPlatform } from '../../src/index.js';
import {
  createRecorder,
  DEFAULT_RECORD_MEMORY_BYTES,
  type RecordEntry,
  recordEntrySize,
} from '../../src/lib/recorder.js';
import { testDir } from '../helpers.js';

const big = (n: number, chars: number): RecordEntry => ({
  kind: 'request',
  at: '2026-01-05T08:00:00Z',
  n,
  request_body: 'x'.repeat(chars),
});
const bytesOf = recordEntrySize;

describe('the recorder bounded in bytes', () => {
  it('keeps the newest entries within maxBytes, oldest dropped first, and counts what it dropped', () => {
    const one = bytesOf(big(0, 10_000));
    const r = createRecorder({ maxBytes: one * 3 + 10 });
    for (let n = 0; n < 10; n++) r.record(big(n, 10_000));
    expect(r.entries.map((e) => e.n)).toEqual([7, 8, 9]);
    expect(r.dropped).toBe(7);
    expect(r.bytes).toBe(one * 3);
  });

  it('has a byte bound by default: 10 000 entries of 64 KiB bodies stay within it', () => {
    const r = createRecorder();
    // 10 000 such entries would be 640 MiB with a bound in entries only
    const body = 'y'.repeat(64 * 1024);
    for (let n = 0; n < 1000; n++) r.record({ kind: 'request', at: 'a', n, request_body: body });
    expect(r.bytes).toBeLessThanOrEqual(DEFAULT_RECORD_MEMORY_BYTES);
    expect(r.entries.length).toBeLessThan(1000);
    expect(r.entries.at(-1)?.n).toBe(999);
    expect(r.dropped).toBe(1000 - r.entries.length);
  });

  it('an entry larger than the whole bound is kept as a stub, and does not push out the others', () => {
    const r = createRecorder({ maxBytes: 4096 });
    r.record({ kind: 'request', at: 'a', n: 1 });
    r.record({ kind: 'request', at: 'b', n: 2 });
    const huge = {
      kind: 'push',
      at: 'c',
      push_id: 'evt_1',
      status: 200,
      ok: true,
      gone: null,
      body: 'z'.repeat(100_000),
      nested: { a: 1 },
    } as const;
    r.record(huge);
    expect(r.entries).toEqual([
      { kind: 'request', at: 'a', n: 1 },
      { kind: 'request', at: 'b', n: 2 },
      {
        kind: 'push',
        at: 'c',
        push_id: 'evt_1',
        status: 200,
        ok: true,
        gone: null,
        body: null,
        nested: null,
        truncated: true,
        original_bytes: bytesOf(huge),
      },
    ]);
    expect(r.dropped).toBe(0);
    expect(r.bytes).toBeLessThanOrEqual(4096);
  });

  it('a stub that still does not fit is dropped, counted, and the rest stays', () => {
    const r = createRecorder({ maxBytes: 120 });
    r.record({ kind: 'request', at: 'a' });
    // many short fields: the stub keeps them all and is still over 120 bytes
    const wide: RecordEntry = { kind: 'request', at: 'b', a: 'aaaaaaaaaa', b: 'bbbbbbbbbb', c: 'cccccccccc' };
    r.record(wide);
    expect(r.entries).toEqual([{ kind: 'request', at: 'a' }]);
    expect(r.dropped).toBe(1);
  });

  it('the file keeps every entry whole, however the memory bound treats it', async () => {
    const file = join(testDir('recorder-audit3-'), 'rec.jsonl');
    const r = createRecorder({ file, maxBytes: 800 });
    const entries = [big(1, 10), big(2, 5000), big(3, 10)];
    for (const e of entries) r.record(e);
    await r.close();
    expect(readFileSync(file, 'utf8')).toBe(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    expect(r.entries.map((e) => [e.n, e.truncated ?? false])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
  });

  it('both bounds hold together, whatever the sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 60, max: 3000 }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { maxLength: 60 }),
        (maxEntries, maxBytes, lengths) => {
          const r = createRecorder({ maxEntries, maxBytes });
          lengths.forEach((len, n) => {
            r.record(big(n, len));
          });
          const kept = r.entries;
          expect(kept.length).toBeLessThanOrEqual(maxEntries);
          expect(r.bytes).toBeLessThanOrEqual(maxBytes);
          expect(r.bytes).toBe(kept.reduce((s, e) => s + bytesOf(e), 0));
          // the newest ones, in order
          const ns = kept.map((e) => e.n as number);
          expect(ns).toEqual([...ns].sort((a, b) => a - b));
          const last = lengths.length - 1;
          if (last >= 0 && bytesOf(big(last, lengths[last] as number)) <= maxBytes)
            expect(ns.at(-1)).toBe(last);
          expect(r.dropped + kept.length).toBe(lengths.length);
        },
      ),
      { numRuns: 200, seed: 24 },
    );
  });

  it('refuses a maxBytes that is not a positive integer', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => createRecorder({ maxBytes })).toThrow(RangeError);
    }
  });

  it('a platform passes recordMemoryBytes to its recorder', async () => {
    const platform = await createMockPlatform({ recordMemoryBytes: 1000 });
    try {
      for (let n = 0; n < 20; n++) platform.state.recorder.record(big(n, 100));
      expect(platform.recorder.bytes).toBeLessThanOrEqual(1000);
      expect(platform.recorder.entries.at(-1)?.n).toBe(19);
      expect(platform.recorder.dropped).toBeGreaterThan(0);
    } finally {
      await platform.close();
    }
  });
});
