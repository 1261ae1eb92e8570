/**
 * Creating a file's directory.
 *
 * @module
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Creates `dir` and its missing parents, one level at a time. Unlike `mkdirSync(dir, { recursive:
 * true })`, which loops for ever under a parent that exists but refuses new entries with ENOENT
 * (`/proc`, on Linux, in Node 20), it throws the first error the system gives (ENOENT, EACCES,
 * ENOTDIR, …). A directory another process creates meanwhile is fine.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(m).isDirectory()) throw e;
    }
  }
}
