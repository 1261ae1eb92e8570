import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// every directory opened read-only, which is how a directory gets fsync'd
const opened = vi.hoisted(() => ({ async: [] as string[], sync: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: (path: string, flags?: string, mode?: number) => {
      if (flags === 'r') opened.async.push(path);
      return real.open(path, flags, mode);
    },
  };
});
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    openSync: (...args: Parameters<typeof real.openSync>) => {
      if (args[1] === 'r') opened.sync.push(String(args[0]));
      return real.openSync(...args);
    },
  };
});

const { mkdirDurable, mkdirDurableSync, writeFileAtomic } = await import('../../src/lib/fs-atomic.js');

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fs-atomic-'));
  opened.async.length = 0;
  opened.sync.length = 0;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('mkdirDurable', () => {
  it('fsyncs the parent of every directory it creates, top first', async () => {
    await mkdirDurable(join(root, 'a', 'b', 'c'));
    expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(opened.async).toEqual([root, join(root, 'a'), join(root, 'a', 'b')]);
  });

  it('fsyncs nothing when the directory is there already', async () => {
    await mkdirDurable(root);
    expect(opened.async).toEqual([]);
  });

  it('synchronously too', () => {
    mkdirDurableSync(join(root, 'x', 'y'));
    expect(statSync(join(root, 'x', 'y')).isDirectory()).toBe(true);
    expect(opened.sync).toEqual([root, join(root, 'x')]);
  });
});

describe('writeFileAtomic', () => {
  it('makes a new directory durable before the file in it', async () => {
    await writeFileAtomic(join(root, 'material', 'roster.json'), '{}');
    // the new directory's entry in root, then the renamed file's entry in the new directory
    expect(opened.async).toEqual([root, join(root, 'material')]);
  });
});
