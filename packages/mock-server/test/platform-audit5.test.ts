/**
 * A platform that cannot start leaves nothing open: its database connection, its checkpoint
 * worker's, its recording file.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/lib/db.js';
import { createMockPlatform } from '../src/platform.js';
import { testDir } from './helpers.js';

/** The files of `dir` this process holds open (Linux: /proc/self/fd). */
function openIn(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out.sort();
}

describe.runIf(process.platform === 'linux')('a platform that cannot start', () => {
  it('when another connection holds the write lock past the busy timeout: rejects, and leaves no file open', async () => {
    const dir = testDir('cc-start-a5-');
    const dbPath = join(dir, 'platform.db');
    openDatabase(dbPath).close(); // made and migrated: opening it again takes no lock
    const holder = new Database(dbPath);
    holder.exec('BEGIN IMMEDIATE'); // another process writing (a demo loading, a long transaction)
    try {
      const error = await createMockPlatform({ dbPath, recordFile: join(dir, 'rec.jsonl') }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(error)).toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // before: its connection, its checkpoint worker's and the recording file stayed open (a file
    // stream's descriptor is closed a moment after the stream finished: it gets that moment)
    for (let i = 0; i < 50 && openIn(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openIn(dir)).toEqual([]);
    // and the file is free: a platform starts on it
    const p = await createMockPlatform({ dbPath });
    await p.close();
  }, 30_000);
});
