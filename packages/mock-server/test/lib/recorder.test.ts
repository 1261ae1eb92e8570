import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createMockPlatform } from '../../src/index.js';
import { createRecorder, type RecordEntry } from '../../src/lib/recorder.js';

const entry = (n: number): RecordEntry => ({
  kind: 'request',
  at: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`,
  n,
});

describe('createRecorder', () => {
  it('keeps the newest maxEntries in order, oldest first, and counts the dropped ones', () => {
    const r = createRecorder({ maxEntries: 3 });
    for (let n = 1; n <= 2; n++) r.record(entry(n));
    expect(r.entries.map((e) => e.n)).toEqual([1, 2]);
    for (let n = 3; n <= 7; n++) r.record(entry(n));
    expect(r.entries.map((e) => e.n)).toEqual([5, 6, 7]);
    expect(r.dropped).toBe(4);
    expect(r.toJsonLines()).toBe(`${[5, 6, 7].map((n) => JSON.stringify(entry(n))).join('\n')}\n`);
    r.entries.pop(); // a copy: the recording is not changed through it
    expect(r.entries).toHaveLength(3);
  });

  it('costs the same per entry once full (no shifting of the kept entries)', () => {
    const r = createRecorder({ maxEntries: 50_000 });
    for (let n = 0; n < 50_000; n++) r.record(entry(n));
    const t0 = performance.now();
    for (let n = 0; n < 50_000; n++) r.record(entry(n));
    // shifting a 50 000-entry array per record would take seconds here
    expect(performance.now() - t0).toBeLessThan(500);
    expect(r.entries).toHaveLength(50_000);
    expect(r.dropped).toBe(50_000);
  });

  it('appends JSON lines to a file, and keeps nothing in memory with memory: false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recorder-'));
    try {
      const file = join(dir, 'sub', 'rec.jsonl');
      const r = createRecorder({ file, memory: false });
      r.record(entry(1));
      r.record(entry(2));
      await r.close();
      expect(r.entries).toEqual([]);
      expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(entry(1))}\n${JSON.stringify(entry(2))}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file it cannot open is an error at creation, never a crash later (the path is a folder)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recorder-'));
    try {
      expect(() => createRecorder({ file: dir })).toThrow(/EISDIR/);
      // give a stream opened in the background the time to fail, as it did (an uncaught 'error')
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('createMockPlatform with such a file rejects, and the process goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recorder-'));
    try {
      await expect(createMockPlatform({ recordFile: dir })).rejects.toThrow(/EISDIR/);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file that fails to take a write (disk full) stops the file, not the process: memory keeps recording', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const r = createRecorder({ file: '/dev/full' });
      r.record(entry(1));
      await new Promise((resolve) => setTimeout(resolve, 50));
      r.record(entry(2));
      await r.close();
      expect(r.entries.map((e) => e.n)).toEqual([1, 2]);
      expect(r.fileError).toMatchObject({ code: 'ENOSPC' });
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a maxEntries that is not a positive integer', () => {
    expect(() => createRecorder({ maxEntries: 0 })).toThrow(RangeError);
  });
});
