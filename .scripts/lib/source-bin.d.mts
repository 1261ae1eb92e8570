// Types for scripts/lib/source-bin.mjs.

/** Bundles the CLI `entry` (a .ts file) into .tmp/bin/ and runs it as this process's main module. */
export function runSource(entry: URL, name: string): Promise<void>;
