/**
 * The replay journal file on a device with flaky power and storage: a first boot with no data
 * directory yet, a write that fails part-way (disk full), and damage found at boot.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '@campus-card/core';
import { createVerifier, encodeJournalRecord, JOURNAL_RECORD_BYTES } from '@campus-card/verifier';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openReplayJournalFile } from '../src/index.js';
import { tempDir } from './helpers.js';

// a disk that fills up: the next write stores `fault.partial` bytes, then fails with ENOSPC
const fault = vi.hoisted(() => ({ partial: -1, openFails: false }));
// the paths fsync'd, by the path each descriptor was opened with
const synced = vi.hoisted(() => ({ paths: [] as string[], byFd: new Map<number, string>() }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    openSync: ((path: string, ...rest: unknown[]) => {
      if (fault.openFails && /\.\d+$/.test(String(path))) {
        fault.openFails = false;
        throw Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: 'ENOSPC' });
      }
      const fd = (real.openSync as (...a: unknown[]) => number)(path, ...rest);
      synced.byFd.set(fd, String(path));
      return fd;
    }) as typeof real.openSync,
    fsyncSync: ((fd: number) => {
      synced.paths.push(synced.byFd.get(fd) ?? `fd ${fd}`);
      real.fsyncSync(fd);
    }) as typeof real.fsyncSync,
    writeSync: ((fd: number, buf: Uint8Array, ...rest: unknown[]) => {
      if (fault.partial >= 0) {
        const n = fault.partial;
        fault.partial = -1;
        if (n > 0) real.writeSync(fd, buf.subarray(0, n));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return (real.writeSync as (...a: unknown[]) => number)(fd, buf, ...rest);
    }) as typeof real.writeSync,
  };
});

const NOW = 1_767_600_000;
const root = generateKeyPair('ES256').publicKey;
const digest = (i: number) => new Uint8Array(16).fill(i);

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
  fault.partial = -1;
  fault.openFails = false;
  synced.paths.length = 0;
});
afterEach(() => data.cleanup());

describe('openReplayJournalFile', () => {
  it('creates its directory on a first boot (the data directory does not exist yet)', () => {
    const path = join(data.dir, 'gate-data', 'replay.journal');
    const j = openReplayJournalFile(path);
    j.onReplayRecord(digest(1), NOW + 60);
    j.close();
    expect(readdirSync(join(data.dir, 'gate-data'))).toEqual(['replay.journal.0']);
  });

  it('a write cut short by a full disk leaves no partial record: later records still restore', () => {
    const path = join(data.dir, 'replay.journal');
    const j = openReplayJournalFile(path);
    j.onReplayRecord(digest(1), NOW + 60);
    fault.partial = 10;
    expect(() => j.onReplayRecord(digest(2), NOW + 60)).toThrow(/ENOSPC/);
    j.onReplayRecord(digest(3), NOW + 60); // space again
    j.close();
    expect(readFileSync(`${path}.0`).length).toBe(2 * JOURNAL_RECORD_BYTES);

    const verifier = createVerifier({ rootKeys: [root] });
    const again = openReplayJournalFile(path);
    expect(again.restoreInto(verifier, NOW)).toBe(2);
    again.close();
  });

  it('damage in one generation does not stop the others, nor the records after it', () => {
    const path = join(data.dir, 'replay.journal');
    const rec = (i: number) => encodeJournalRecord(digest(i), NOW + 60);
    const bad = new Uint8Array(JOURNAL_RECORD_BYTES).fill(0x55);
    writeFileSync(`${path}.0`, Buffer.concat([rec(1), bad, rec(2)]));
    writeFileSync(`${path}.1`, Buffer.concat([rec(3), rec(4)]));
    const verifier = createVerifier({ rootKeys: [root] });
    const j = openReplayJournalFile(path);
    expect(() => j.restoreInto(verifier, NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_REPLAY_JOURNAL_CORRUPT' }),
    );
    // every intact record is back in the window: 1, 2 (after the damage), 3 and 4
    // (a journal that failed part-way also raises the replay clock to the boot clock, so that codes
    // expired by then stay refused if the clock is set back: the clean copy gets the same)
    const clean = createVerifier({ rootKeys: [root] });
    expect(() => clean.replayJournal(Buffer.concat([bad, bad]), { now: NOW })).toThrow();
    clean.replayJournal(Buffer.concat([rec(1), rec(2), rec(3), rec(4)]), { now: NOW });
    expect(verifier.snapshot({ now: NOW })).toEqual(clean.snapshot({ now: NOW }));
    j.close();
  });
});

describe('new generations', () => {
  it('fsync the directory when a generation file is created, so its name survives a power cut', () => {
    const dir = join(data.dir, 'journal');
    const journal = openReplayJournalFile(join(dir, 'replay.journal'));
    // the new directory's entry in its parent, then generation 0's in the directory
    expect(synced.paths).toEqual([data.dir, dir]);
    journal.onReplayRecord(digest(1), NOW + 90);
    expect(synced.paths).toEqual([data.dir, dir, join(dir, 'replay.journal.0')]);
    journal.rotate();
    expect(synced.paths.at(-1)).toBe(dir); // generation 1 created
    journal.close();
    synced.paths.length = 0;
    openReplayJournalFile(join(dir, 'replay.journal')).close(); // reopened, nothing created
    expect(synced.paths).toEqual([]);
  });

  it('a rotation that cannot create the next generation (disk full) leaves no closed descriptor in use', () => {
    const path = join(data.dir, 'replay.journal');
    const j = openReplayJournalFile(path);
    j.onReplayRecord(digest(1), NOW + 60);
    fault.openFails = true;
    expect(() => j.rotate()).toThrow(/ENOSPC/);
    // the closed descriptor's number goes to the next file opened (here the event journal, say)
    const other = join(data.dir, 'events.jsonl');
    writeFileSync(other, '');
    const fd = openSync(other, 'a');
    try {
      j.onReplayRecord(digest(2), NOW + 60);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(other).length).toBe(0);
    j.close();
    const v = createVerifier({ rootKeys: [root] });
    expect(openReplayJournalFile(path).restoreInto(v, NOW)).toBe(2);
  });
});
