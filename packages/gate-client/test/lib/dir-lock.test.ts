import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DirLock, lockDir } from '../../src/lib/dir-lock.js';
import { tempDir } from '../helpers.js';

const held: DirLock[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(async () => {
  for (const l of held.splice(0)) await l.release();
  for (const d of dirs.splice(0)) d.cleanup();
});
const dir = () => {
  const d = tempDir();
  dirs.push(d);
  return d.dir;
};
const take = async (d: string) => {
  const l = await lockDir(d);
  held.push(l);
  return l;
};
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { code?: string }) => e.code,
  );
const bootId = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
})();
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
};
const write = (d: string, holder: object | string) =>
  writeFileSync(join(d, 'lock'), typeof holder === 'string' ? holder : JSON.stringify(holder));

describe('lockDir: abandon', () => {
  it('leaves the file naming no holder: the next lock (this process or any other) takes it over as stale', async () => {
    const d = dir();
    const first = await lockDir(d);
    expect(first.tookOverStale).toBe(false);
    first.abandon();
    first.abandon(); // idempotent
    expect(existsSync(first.path)).toBe(true);
    expect(JSON.parse(readFileSync(first.path, 'utf8'))).toEqual({ abandoned: true }); // no pid: nobody runs it
    const next = await take(d);
    expect(next.tookOverStale).toBe(true);
    await next.release();
    const clean = await take(d);
    expect(clean.tookOverStale).toBe(false);
  });
});

describe('lockDir: a lock whose file another client took since', () => {
  it("release and abandon leave another holder's lock alone (this process)", async () => {
    const d = dir();
    const a = await lockDir(d);
    rmSync(a.path); // removed by hand: another client takes the directory
    const b = await take(d);
    a.abandon();
    await a.release();
    expect(JSON.parse(readFileSync(b.path, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(await codeOf(lockDir(d))).toBe('ERR_GATE_DATA_DIR_LOCKED');
  });

  it("abandon leaves another running process's lock alone", async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const d = dir();
      const a = await lockDir(d);
      rmSync(a.path);
      write(d, { pid: child.pid as number, boot: bootId, start: startOf(child.pid as number) });
      a.abandon();
      expect(JSON.parse(readFileSync(a.path, 'utf8'))).toMatchObject({ pid: child.pid });
      expect(await codeOf(lockDir(d))).toBe('ERR_GATE_DATA_DIR_LOCKED');
    } finally {
      child.kill();
    }
  });
});

describe('lockDir: one gate client per data directory', () => {
  it('a second lock of the same directory in this process is refused until the first is released', async () => {
    const d = dir();
    const first = await take(d);
    expect(JSON.parse(readFileSync(first.path, 'utf8'))).toMatchObject({ pid: process.pid });
    await expect(lockDir(d)).rejects.toMatchObject({
      code: 'ERR_GATE_DATA_DIR_LOCKED',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await first.release();
    await first.release(); // idempotent
    expect(existsSync(first.path)).toBe(false);
    await take(d);
  });

  it('refuses a lock another running process holds, by its pid and (Linux) start time; takes over one whose pid was reused', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const pid = child.pid as number;
      const d = dir();
      const start = existsSync(`/proc/${pid}/stat`) ? startOf(pid) : null;
      write(d, { pid, boot: bootId, start });
      expect(await codeOf(lockDir(d))).toBe('ERR_GATE_DATA_DIR_LOCKED');
      if (start !== null) {
        // the same pid, another process (another start time): the holder is gone
        write(d, { pid, boot: bootId, start: `${start}1` });
        expect(await codeOf(take(d))).toBe('OK');
      }
    } finally {
      child.kill();
    }
  });

  it('takes over a lock left by a crash or a power cut: a pid that is gone, another boot, an empty or torn file, this very pid from an earlier run', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const cases: [string, object | string][] = [
      ['a pid that is gone', { pid: dead, boot: bootId, start: null }],
      ['an earlier boot', { pid: process.ppid, boot: 'another-boot', start: null }],
      ['an empty file', ''],
      ['a torn file', '{"pid":12'],
      ['not a holder', '[]'],
      ['this pid, restarted (pid 1 in a container)', { pid: process.pid, boot: bootId, start: null }],
    ];
    for (const [what, holder] of cases) {
      const d = dir();
      write(d, holder);
      expect([what, await codeOf(take(d))]).toEqual([what, 'OK']);
      expect(JSON.parse(readFileSync(join(d, 'lock'), 'utf8')).pid).toBe(process.pid);
    }
  });

  it('creates the directory; one it cannot create is ERR_GATE_OUTBOX_IO', async () => {
    const d = join(dir(), 'a', 'b');
    await take(d);
    expect(existsSync(join(d, 'lock'))).toBe(true);
    const file = join(dir(), 'file');
    writeFileSync(file, '');
    expect(await codeOf(lockDir(join(file, 'sub')))).toBe('ERR_GATE_OUTBOX_IO');
  });
});

describe('lockDir: taking over a stale lock', () => {
  /** A lock file that a process that is gone left (a pid above Linux's pid_max). */
  const stale = (token: string) => ({ pid: 2 ** 22 + 12345, boot: null, start: null, token });

  it('gives a stale lock to one of many clients that race for it, every time', async () => {
    for (let round = 0; round < 40; round++) {
      const d = dir();
      write(d, round % 2 === 0 ? stale(`t${round}`) : '');
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          lockDir(d).then(
            (lock) => ({ lock, code: 'OK' }),
            (e: { code?: string }) => ({ lock: undefined, code: e.code }),
          ),
        ),
      );
      const won = results.filter((r) => r.code === 'OK');
      expect([round, won.length]).toEqual([round, 1]);
      expect(results.every((r) => r.code === 'OK' || r.code === 'ERR_GATE_DATA_DIR_LOCKED')).toBe(true);
      expect(won[0]?.lock?.tookOverStale).toBe(true);
      expect(readdirSync(d)).toEqual(['lock']); // nothing of the race is left beside it
      await won[0]?.lock?.release();
    }
  });

  it('removes the claim a taker that crashed left, and refuses while a running one holds its claim', async () => {
    const d = dir();
    const text = JSON.stringify(stale('left'));
    write(d, text);
    const claim = join(d, `lock.takeover-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`);
    writeFileSync(claim, JSON.stringify({ pid: process.ppid, boot: null, start: null, token: 'c' }));
    expect(await codeOf(lockDir(d))).toBe('ERR_GATE_DATA_DIR_LOCKED');
    expect(readFileSync(join(d, 'lock'), 'utf8')).toBe(text);
    writeFileSync(claim, JSON.stringify(stale('taker')));
    const lock = await take(d);
    expect(lock.tookOverStale).toBe(true);
    expect(readdirSync(d)).toEqual(['lock']);
  });
});
