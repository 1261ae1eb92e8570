import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger, createMockPlatform, DEMO_OPERATOR } from '../../src/index.js';
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

/** A checkpointer on `path` whose failures are collected. */
function started(path: string, options: { intervalMs: number; restartFrames: number }) {
  const failures: unknown[] = [];
  const cp = startCheckpointer(path, { ...options, onFailure: (e) => failures.push(e) });
  return { cp, failures };
}

describe('startCheckpointer', () => {
  it('checkpoints the WAL off the main thread and rewinds it past restartFrames', async () => {
    const { path, db } = tempDb();
    const { cp, failures } = started(path, { intervalMs: 20, restartFrames: 50 });
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    const big = 'x'.repeat(2000);
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) ins.run(big);
    })();
    // with autocheckpoint off, only the worker can copy the frames into the database file
    const walBefore = statSync(`${path}-wal`).size;
    expect(walBefore).toBeGreaterThan(1_000_000);
    await until(() => statSync(path).size > 3_000_000);
    // this writer never calls afterCommit, and its one transaction took the WAL past twice
    // restartFrames: the worker rewinds the WAL itself, with RESTART
    await until(() => cp.stats().restarts > 0);
    expect(cp.stats()).toMatchObject({ catchUps: 0 });
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    expect(r?.log).toBe(r?.checkpointed);
    await cp.close();
    expect(failures).toEqual([]);
    db.close();
  });

  it('asks a writer that calls afterCommit to checkpoint the tail, and the WAL starts over without RESTART', async () => {
    const { path, db } = tempDb();
    const { cp, failures } = started(path, { intervalMs: 10, restartFrames: 150 });
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    const big = 'x'.repeat(3000); // a page a row: about three WAL frames a transaction
    const N = 600;
    let maxWal = 0;
    // Like the platform's group commit, the writer keeps a transaction open nearly all the time:
    // it begins the next one in the same turn as it commits, and waits inside it. The worker's own
    // PASSIVE checkpoints then always run while a transaction is open, and the next one has begun
    // before they could have copied the frames just committed, so the WAL can only start over
    // after the writer caught up. (A writer idle between transactions lets the worker copy every
    // frame, and the WAL starts over without a catch-up: how often depends on timing.)
    for (let i = 0; i < N; i++) {
      db.exec('BEGIN IMMEDIATE');
      ins.run(big); // about three WAL frames, written at COMMIT
      // some 1.5 frames a ms: the worker, ticking every 10 ms, has 100 ms past restartFrames to
      // ask before its fallback (twice restartFrames) would RESTART
      await new Promise((r) => setTimeout(r, 2));
      db.exec('COMMIT');
      cp.afterCommit(db);
      maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
    }
    const stats = cp.stats();
    expect(stats.restarts).toBe(0);
    // some 1 800 frames, a catch-up every 150 or so
    expect(stats.catchUps).toBeGreaterThanOrEqual(5);
    expect(stats.maxCatchUpMs).toBeGreaterThan(0);
    expect(stats.catchUpMs).toBeGreaterThanOrEqual(stats.maxCatchUpMs);
    // the WAL started over again and again: it never held twice restartFrames, against some 1 800
    // frames written
    expect(maxWal).toBeLessThan(32 + 2 * 150 * (4096 + 24));
    await cp.close();
    expect(failures).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: N });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('afterCommit checkpoints only when asked, and never inside a transaction', async () => {
    const { path, db } = tempDb();
    const cp = startCheckpointer(path, { intervalMs: 10, restartFrames: 100 });
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
    const big = 'x'.repeat(3000);
    cp.afterCommit(db); // not asked: the WAL is short
    db.transaction(() => {
      for (let i = 0; i < 150; i++) ins.run(big); // some 150 frames: past restartFrames, under twice it
    })();
    // the worker asks once its checkpoint has copied the 150 frames (a busy machine may take a
    // while to start the worker thread)
    await until(() => cp.stats().asking);
    db.exec('BEGIN');
    cp.afterCommit(db);
    expect(cp.stats()).toMatchObject({ catchUps: 0, asking: true });
    db.exec('ROLLBACK');
    // with the WAL still over restartFrames (no writer has started it over), the worker keeps
    // checkpointing every 10 ms: an afterCommit that meets one of those is busy, and the next
    // tries again, as after the platform's next COMMIT
    await until(() => {
      cp.afterCommit(db);
      return cp.stats().catchUps > 0;
    });
    expect(cp.stats()).toMatchObject({ catchUps: 1, restarts: 0 });
    // caught up: the next transaction starts the WAL over, so it holds only that transaction's frames
    ins.run('y');
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    expect(r?.log).toBeLessThanOrEqual(3);
    await cp.close();
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
      expect(platform.checkpointStats()).toEqual({
        catchUps: 0,
        catchUpMs: 0,
        maxCatchUpMs: 0,
        restarts: 0,
        asking: false,
      });
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

  it("the platform's writer catches the WAL up after its group commits: no RESTART holds it back", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-card-cp-'));
    dirs.push(dir);
    const dbPath = join(dir, 'platform.db');
    const platform = await createMockPlatform({
      dbPath,
      demo: true,
      checkpointIntervalMs: 10,
      // the demo's loading writes some 300 frames, with no group commit: under twice this
      checkpointRestartFrames: 200,
    });
    try {
      const N = 300;
      for (let i = 0; i < N; i++) {
        platform.state.groupCommit.join(); // as an HTTP request's write does
        const r = await platform.invoke(
          'topUpWallet',
          {
            params: { person_id: 's-002' },
            body: { out_trade_no: `TU-CP-${i}`, amount: 100, channel: 'simulated' },
          },
          DEMO_OPERATOR,
        );
        expect(r.status).toBe(201);
        await platform.state.groupCommit.settled();
        await new Promise((r) => setTimeout(r, 2));
      }
      const stats = platform.checkpointStats();
      expect(stats?.restarts).toBe(0);
      expect(stats?.catchUps).toBeGreaterThanOrEqual(1);
      // the WAL started over: it holds under twice restartFrames, of the thousands of frames written
      const [r] = platform.state.db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      expect(r?.log).toBeLessThan(2 * 200);
      expect(checkLedger(platform.state)).toMatchObject({ balanced: true, problems: [] });
      const n = platform.state.db
        .prepare("SELECT COUNT(*) AS n FROM orders WHERE out_trade_no LIKE 'TU-CP-%'")
        .get();
      expect(n).toEqual({ n: N });
    } finally {
      await platform.close();
    }
    const again = await createMockPlatform({ dbPath });
    try {
      expect(again.state.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(checkLedger(again.state).balanced).toBe(true);
    } finally {
      await again.close();
    }
  });
});
