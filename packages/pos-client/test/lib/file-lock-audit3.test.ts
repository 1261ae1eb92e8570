import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** When set, the next `readFile` of this path answers only once `gate` resolves (a slow disk). */
const slow: { path: string | undefined; gate: Promise<void> | undefined } = {
  path: undefined,
  gate: undefined,
};

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    readFile: async (...args: Parameters<typeof fs.readFile>) => {
      const result = await fs.readFile(...args);
      if (slow.path !== undefined && args[0] === slow.path) {
        const gate = slow.gate;
        slow.path = undefined;
        await gate;
      }
      return result;
    },
  };
});

const { lockFile } = await import('../../src/lib/file-lock.js');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lockFile release (audit 3)', () => {
  it('an opener of this process while a release is under way never ends up holding a lock file that release removes', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pos-lock3-'));
    dirs.push(d);
    const path = join(d, 'outbox.lock');
    const a = await lockFile(path, 'outbox');
    let open!: () => void;
    slow.path = path;
    slow.gate = new Promise((r) => {
      open = r;
    });
    const releasing = a.release(); // reads the lock file (slowly) before removing it
    const b = await lockFile(path, 'outbox').then(
      (lock) => lock,
      (e: { code?: string }) => e.code ?? 'no code',
    );
    open();
    await releasing;
    // B either was refused while A still held the lock, or holds it now: then nobody else may
    const c = await lockFile(path, 'outbox').then(
      (lock) => lock,
      (e: { code?: string }) => e.code ?? 'no code',
    );
    if (typeof b === 'string') {
      expect(b).toBe('ERR_POS_OUTBOX_LOCKED');
    } else {
      expect(c).toBe('ERR_POS_OUTBOX_LOCKED');
      await b.release();
    }
    if (typeof c !== 'string') await c.release();
  });
});
