/**
 * The temporary data directories the suite gives devices under test (`DATA_DIR`): removed when
 * the plan or module is done, and, for a suite stopped by a signal before that, when the process
 * exits.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();
let hooked = false;

/** A fresh directory in the system's temporary directory, named `<prefix>XXXXXX`. */
export function makeDataDir(prefix: string): string {
  if (!hooked) {
    hooked = true;
    // process.exit() (the CLI's signal handlers) skips every `finally`: the exit hook still runs
    process.once('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes a directory {@link makeDataDir} made, and all it holds. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}
