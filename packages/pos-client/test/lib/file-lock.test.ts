import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { type FileLock, lockFile } from '../../src/lib/file-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pos-lock-'));
  dirs.push(d);
  return d;
};
const settle = (p: Promise<FileLock>) =>
  p.then(
    (lock) => ({ lock, code: 'OK' }),
    (e: { code?: string }) => ({ lock: undefined, code: e.code }),
  );
/** A lock file that a process that is gone left (a pid that cannot run: above Linux's pid_max). */
const stale = (token: string) => JSON.stringify({ pid: 2 ** 22 + 12345, boot: null, start: null, token });

describe('lockFile: taking over a stale lock', () => {
  it('gives a stale lock to one of many openers that race for it, every time', async () => {
    for (let round = 0; round < 40; round++) {
      const d = dir();
      const path = join(d, 'outbox.lock');
      writeFileSync(path, round % 2 === 0 ? stale(`t${round}`) : '');
      const results = await Promise.all(Array.from({ length: 6 }, () => settle(lockFile(path, 'outbox'))));
      const won = results.filter((r) => r.code === 'OK');
      expect([round, won.length]).toEqual([round, 1]);
      expect(results.every((r) => r.code === 'OK' || r.code === 'ERR_POS_OUTBOX_LOCKED')).toBe(true);
      // the file names the winner, and nothing of the race is left beside it
      const token = JSON.parse(readFileSync(path, 'utf8')).token;
      expect(typeof token).toBe('string');
      expect(readdirSync(d)).toEqual(['outbox.lock']);
      await won[0]?.lock?.release();
      expect(readdirSync(d)).toEqual([]);
    }
  });

  it('removes the claim a taker that crashed left, and refuses while a running one holds its claim', async () => {
    const d = dir();
    const path = join(d, 'outbox.lock');
    const text = stale('left');
    writeFileSync(path, text);
    const claim = `${path}.takeover-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    // a running process (the parent of this one) is taking it over: refused, nothing touched
    writeFileSync(claim, JSON.stringify({ pid: process.ppid, boot: null, start: null, token: 'c' }));
    await expect(lockFile(path, 'outbox')).rejects.toMatchObject({ code: 'ERR_POS_OUTBOX_LOCKED' });
    expect(readFileSync(path, 'utf8')).toBe(text);
    // the taker crashed before it was done: its claim is stale, and the lock is taken over
    writeFileSync(claim, stale('taker'));
    const lock = await lockFile(path, 'outbox');
    expect(readdirSync(d)).toEqual(['outbox.lock']);
    await lock.release();
  });

  it('gives a stale lock to one of several processes that race for it', async () => {
    // the module as plain JavaScript, for child processes of a Node without type stripping
    const lockModule = join(dir(), 'file-lock.mjs');
    buildSync({
      entryPoints: [fileURLToPath(new URL('../../src/lib/file-lock.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: lockModule,
      logLevel: 'silent',
    });
    for (let round = 0; round < 3; round++) {
      const d = dir();
      const path = join(d, 'outbox.lock');
      writeFileSync(path, stale(`p${round}`));
      const go = join(d, 'go');
      // each child waits for the same moment, tries once, and holds what it got until told to stop
      const script = `
        const { lockFile } = await import(${JSON.stringify(lockModule)});
        const { existsSync } = await import('node:fs');
        while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
        const r = await lockFile(${JSON.stringify(path)}, 'outbox').then(() => 'OK', (e) => e.code);
        process.stdout.write(r + '\\n');
        process.stdin.once('data', () => process.exit(0));`;
      const children = Array.from({ length: 4 }, () =>
        spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
      try {
        const answers = children.map(
          (c) =>
            new Promise<string>((resolve) => {
              let out = '';
              c.stdout.on('data', (b: Buffer) => {
                out += b.toString();
                if (out.includes('\n')) resolve(out.trim());
              });
              c.once('exit', () => resolve(out.trim() || 'exited'));
            }),
        );
        await new Promise((r) => setTimeout(r, 300));
        writeFileSync(go, '');
        const codes = await Promise.all(answers);
        expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
        expect(codes.filter((c) => c !== 'OK').every((c) => c === 'ERR_POS_OUTBOX_LOCKED')).toBe(true);
      } finally {
        for (const c of children) c.kill();
      }
    }
  });
});
