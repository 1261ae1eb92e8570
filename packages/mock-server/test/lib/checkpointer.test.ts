import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockPlatform } from '../../src/index.js';
import { DEFAULT_RESTART_FRAMES, startCheckpointer, walSizeLimitBytes } from '../../src/lib/checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): { path: string; db: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'campus-card-cp-'));
  dirs.push(dir);
  const path = join(dir, 'p.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  return { path, db };
}

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('startCheckpointer', () => {
  it('checkpoints the WAL off the main thread and rewinds it past restartFrames', async () => {
    const { path, db } = tempDb();
    const failures: unknown[] = [];
    const cp = startCheckpointer(path, {
      intervalMs: 20,
      restartFrames: 50,
      onFailure: (e) => failures.push(e),
    });
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    const big = 'x'.repeat(2000);
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) ins.run(big);
    })();
    // with autocheckpoint off, only the worker can copy the frames into the database file
    const walBefore = statSync(`${path}-wal`).size;
    expect(walBefore).toBeGreaterThan(1_000_000);
    await until(() => statSync(path).size > 3_000_000);
    // RESTART rewound the WAL: the next write starts it over from the beginning
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    expect(r?.log).toBe(r?.checkpointed);
    await cp.close();
    expect(failures).toEqual([]);
    db.close();
  });

  it('reports a worker that cannot open the file once, and close() still resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-card-cp-'));
    dirs.push(dir);
    const failures: unknown[] = [];
    const cp = startCheckpointer(join(dir, 'missing.db'), {
      intervalMs: 20,
      onFailure: (e) => failures.push(e),
    });
    await until(() => failures.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(failures).toHaveLength(1);
    await cp.close();
  });

  it('a clean close is not a failure', async () => {
    const { path, db } = tempDb();
    const failures: unknown[] = [];
    const cp = startCheckpointer(path, { intervalMs: 20, onFailure: (e) => failures.push(e) });
    await new Promise((r) => setTimeout(r, 60));
    await cp.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(failures).toEqual([]);
    db.close();
  });

  it("the platform's journal_size_limit lets the WAL keep its size over a restart", async () => {
    // A limit under the WAL's size at a restart truncated the file at every restart, and the first
    // COMMIT after it grew the file again (6 – 13 ms on the event loop).
    const walAtRestart = 32 + DEFAULT_RESTART_FRAMES * (4096 + 24);
    expect(walSizeLimitBytes(4096)).toBe(2 * walAtRestart);
    expect(walSizeLimitBytes(1024, 100)).toBe(2 * (32 + 100 * 1048));
    const dir = mkdtempSync(join(tmpdir(), 'campus-card-cp-'));
    dirs.push(dir);
    const platform = await createMockPlatform({ dbPath: join(dir, 'platform.db') });
    try {
      const db = platform.state.db;
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      expect(db.pragma('journal_size_limit', { simple: true })).toBe(walSizeLimitBytes(pageSize));
      expect(db.pragma('journal_size_limit', { simple: true })).toBeGreaterThan(
        32 + DEFAULT_RESTART_FRAMES * (pageSize + 24),
      );
    } finally {
      await platform.close();
    }
  });
});
