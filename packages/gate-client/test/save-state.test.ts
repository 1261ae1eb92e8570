/**
 * Saving the verifier state while a save is still being written: the snapshots must reach the disk
 * in the order they were taken, since each save deletes the replay journal generations that its
 * snapshot covers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import type { Jwk } from '@campus-card/core/http';
import type { Verifier } from '@campus-card/verifier';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createGateClient, openReplayJournalFile } from '../src/index.js';
import { tempDir } from './helpers.js';

// the first write of the verifier state is slow (a slow flash card): it waits for `release`
const slow = vi.hoisted(() => ({ pending: undefined as Promise<void> | undefined }));
vi.mock('../src/lib/fs-atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/lib/fs-atomic.js')>();
  return {
    ...real,
    writeFileAtomic: async (path: string, data: Uint8Array | string) => {
      if (path.endsWith('verifier-state.bin') && slow.pending !== undefined) {
        const wait = slow.pending;
        slow.pending = undefined;
        await wait;
      }
      return real.writeFileAtomic(path, data);
    },
  };
});

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
});
afterEach(() => data.cleanup());

it('two saves at once store the newer snapshot last', async () => {
  let taken = 0;
  const verifier = {
    snapshot: () => new Uint8Array([++taken]),
    restore() {},
    replayJournal: () => ({ records: 0, applied: 0, validByteLength: 0, tornBytes: 0, expiredUntil: 0 }),
    status: (now: number) => ({
      trustList: null,
      statusLists: {},
      roster: null,
      lastSyncAt: null,
      clock: now,
      floor: 0,
      clockBeforeFloor: false,
    }),
    verify: async () => {
      throw new Error('not used');
    },
  } as unknown as Verifier;
  const journal = openReplayJournalFile(join(data.dir, 'replay.journal'));
  const g = await createGateClient({
    baseUrl: 'https://api.campus.test',
    deviceId: 'gate-1',
    schoolId: 'sch-1',
    privateKey: exportJwk(generateKeyPair('ES256').privateKey, { includePrivate: true }) as Jwk,
    verifier,
    dataDir: data.dir,
    replayJournal: journal,
    outbox: { firstSeq: 1 },
  });
  let release = () => {};
  slow.pending = new Promise<void>((r) => {
    release = r;
  });
  const first = g.saveState(); // snapshot 1, its write held up
  const second = g.saveState(); // snapshot 2, written at once
  await new Promise((r) => setTimeout(r, 50));
  release();
  await Promise.all([first, second]);
  // snapshot 2 covers the journal generations both saves deleted; snapshot 1 does not
  expect([...readFileSync(join(data.dir, 'verifier-state.bin'))]).toEqual([taken]);
  await g.close();
  journal.close();
});
