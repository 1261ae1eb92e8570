/**
 * The recording file under a disk slower than the requests (src/lib/recorder.ts): what waits to be
 * written is bounded by `fileBufferBytes`; entries recorded past it are left out of the file
 * (whole lines, counted in `fileDropped`) and kept in memory, and the file takes entries again once
 * it has caught up. Recording never blocks the event loop.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRecorder, DEFAULT_RECORD_FILE_BUFFER_BYTES } from '../../src/lib/recorder.js';
import { testDir } from '../helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const entry = (i: number) => ({
  kind: 'request' as const,
  at: '2026-01-05T08:00:00Z',
  i,
  body: 'x'.repeat(1000),
});

describe('recording file backpressure', () => {
  it('queues at most fileBufferBytes for the disk; the rest goes to memory only, counted', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const file = join(testDir('campus-card-rec-'), 'rec.jsonl');
    const r = createRecorder({ file, fileBufferBytes: 16 * 1024 });
    // 1 000 lines of about 1 KiB in one go: the disk gets no turn of the event loop meanwhile, as
    // under a burst of requests on a disk that cannot keep up
    for (let i = 0; i < 1000; i++) r.record(entry(i));
    expect(r.entries).toHaveLength(1000); // memory keeps every one
    expect(r.fileDropped).toBeGreaterThan(900);
    expect(warn).toHaveBeenCalledTimes(1);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the disk catches up
    // the file takes entries again
    r.record(entry(1000));
    await r.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const kept = lines.map((l) => (JSON.parse(l) as { i: number }).i); // every line whole
    expect(kept.length + r.fileDropped).toBe(1001);
    // the first ones, up to the bound, then the one recorded after it caught up
    expect(kept.length).toBeLessThanOrEqual(17 + 1);
    expect(kept).toEqual([...Array.from({ length: kept.length - 1 }, (_, i) => i), 1000]);
  });

  it('defaults to 16 MiB; a bound that is not a positive integer is refused', () => {
    expect(DEFAULT_RECORD_FILE_BUFFER_BYTES).toBe(16 * 1024 * 1024);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createRecorder({ fileBufferBytes: bad })).toThrow(RangeError);
    }
    expect(createRecorder().fileDropped).toBe(0);
  });
});
