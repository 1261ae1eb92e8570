/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the program node runs, not an
 * import, whatever the file is named or linked as (a bin link, a bundle, a copy).
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Whether `moduleUrl` (pass `import.meta.url`) is the entry point node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
